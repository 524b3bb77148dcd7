package io.jdm.targets.multipath;

import io.jdm.core.ArgSet;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;

/** Argument parsing and warnings the kernel's selectors share. */
final class SelectorArgs {
  private SelectorArgs() {}

  /**
   * An unsigned 32-bit decimal ({@code sscanf("%u%c") == 1}), or -1, for the message parsers that
   * have a text of their own to give. jdm is strict where {@code sscanf} is lax (leading blanks, a
   * sign), as {@link ArgSet} is.
   */
  static long uint(String s) {
    long v = ArgSet.parseDecimal(s);
    return v > 0xFFFF_FFFFL ? -1 : v;
  }

  /**
   * The {@code repeat_count} of round-robin, queue-length and service-time: {@code "<prefix>
   * invalid repeat count"} if it does not parse; above 1 it is deprecated and 1 is used, with the
   * kernel's warning.
   */
  static int repeatCount(String arg, String prefix, Logger log) {
    long v = ArgSet.parseUint(arg, prefix + "invalid repeat count");
    if (v > 1) {
      log.log(Level.WARNING, "repeat_count > 1 is deprecated, using 1 instead");
      v = 1;
    }
    return (int) v;
  }

  /**
   * The per-path arguments of round-robin and queue-length: none, or one {@link #repeatCount}; more
   * are {@code "<prefix>incorrect number of arguments"}.
   */
  static int onlyRepeatCount(String[] args, String prefix, Logger log) {
    if (args.length > 1) {
      throw new TargetException(prefix + "incorrect number of arguments");
    }
    return args.length == 1 ? repeatCount(args[0], prefix, log) : 1;
  }

  /** The context's logger, or one named after the selector when there is no context (tests). */
  static Logger logger(TargetContext ctx, String name) {
    return ctx != null ? ctx.logger() : System.getLogger("io.jdm.targets.multipath." + name);
  }
}
