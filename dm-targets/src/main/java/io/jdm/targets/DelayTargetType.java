package io.jdm.targets;

import io.jdm.core.ArgSet;
import io.jdm.core.DmDev;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;

/**
 * {@code delay <dev> <offset> <delay_ms> [<write_dev> <write_offset> <write_delay_ms> [<flush_dev>
 * <flush_offset> <flush_delay_ms>]]}: holds each bio for a time before passing it on, possibly to a
 * different device per class of I/O ({@code drivers/md/dm-delay.c}, v1.4.0).
 *
 * <p>With 3 arguments one class serves everything; with 6 the second triple serves writes and
 * flushes; with 9 the third serves flushes. Writes, discards and write-zeroes are writes; an empty
 * flush is a flush. A delay of 0 passes I/O straight through. See {@link DelayTarget}.
 */
public final class DelayTargetType implements TargetType {
  /** Creates the type; instances are found through {@link java.util.ServiceLoader}. */
  public DelayTargetType() {}

  private static final TargetVersion VERSION = TargetVersion.of(1, 4, 0);

  @Override
  public String name() {
    return "delay";
  }

  @Override
  public TargetVersion version() {
    return VERSION;
  }

  @Override
  public Target create(TargetContext ctx, long begin, long length, String[] args) {
    if (args.length != 3 && args.length != 6 && args.length != 9) {
      throw new TargetException("Requires exactly 3, 6 or 9 arguments");
    }
    DelayTarget.DelayClass read = delayClass(ctx, args, 0);
    DelayTarget.DelayClass write =
        args.length == 3 ? delayClass(ctx, args, 0) : delayClass(ctx, args, 3);
    DelayTarget.DelayClass flush =
        args.length == 9
            ? delayClass(ctx, args, 6)
            : delayClass(ctx, args, args.length == 3 ? 0 : 3);
    return new DelayTarget(ctx, begin, length, args.length, read, write, flush);
  }

  private static DelayTarget.DelayClass delayClass(TargetContext ctx, String[] args, int at) {
    long start = ArgSet.parseSector(args[at + 1], "Invalid device sector");
    long ms = ArgSet.parseUint(args[at + 2], "Invalid delay");
    DmDev dev = ctx.getDevice(args[at], "Device lookup failed");
    return new DelayTarget.DelayClass(dev, start, ms);
  }
}
