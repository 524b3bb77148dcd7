package io.jdm.targets.mirror;

import io.jdm.core.ArgSet;
import io.jdm.core.DmDev;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;
import io.jdm.core.dirtylog.DirtyLog;
import io.jdm.core.dirtylog.DirtyLogRegistry;
import io.jdm.core.io.Kcopyd;

/**
 * {@code mirror <log_type> <#log_args> <log_args...> <#legs> (<dev> <offset>){#legs} [<#features>
 * <feature>...]}: the kernel's dm-raid1 ({@code drivers/md/dm-raid1.c}, v1.14.0).
 *
 * <p>The log is any type of the {@link DirtyLogRegistry} ({@code core <region_size> [[no]sync]} or
 * {@code disk <log_dev> <region_size> [[no]sync]}); 2 to {@value #MAX_NR_MIRRORS} legs; features
 * {@code handle_errors} and {@code keep_log} (which needs {@code handle_errors}). Errors, in the
 * kernel's order and with its texts: {@code Insufficient mirror log arguments}, {@code Invalid
 * mirror log argument count}, {@code Error creating mirror dirty log} (followed here by the log's
 * own reason, which the kernel prints as a warning), {@code Invalid number of mirrors}, {@code Too
 * few mirror arguments}, {@code Invalid offset}, {@code Device lookup failure}, {@code Invalid
 * number of features}, {@code Not enough arguments to support feature count}, {@code Unrecognised
 * feature requested}, {@code keep_log feature requires the handle_errors feature}, {@code Too many
 * mirror arguments}. A leg too small for the target is refused by the core's device checks.
 *
 * <p>jdm extension, off by default and never in a kernel table (the kernel refuses it as an
 * unrecognised feature): the feature {@code jdm_read_balance=round_robin} or {@code
 * jdm_read_balance=least_pending}, with {@code handle_errors}, spreads reads of in-sync regions
 * over the healthy legs (see {@link MirrorTarget}).
 *
 * <p>The share of time resynchronisation may spend in I/O is the kernel's {@code
 * raid1_resync_throttle} module parameter: {@link #setDefaultResyncThrottle} sets it for mirrors
 * constructed afterwards, {@link MirrorTarget#resyncThrottle()} for one mirror. See {@link
 * MirrorTarget} for what the target does.
 */
public final class MirrorTargetType implements TargetType {
  /** Most legs: one source plus kcopyd's most destinations ({@code MAX_NR_MIRRORS}). */
  public static final int MAX_NR_MIRRORS = Kcopyd.MAX_DESTINATIONS + 1;

  private static final TargetVersion VERSION = TargetVersion.of(1, 14, 0);

  /** The jdm extension's feature prefix: {@code jdm_read_balance=round_robin|least_pending}. */
  static final String READ_BALANCE = "jdm_read_balance=";

  private static volatile int defaultResyncThrottle = 100;

  private final DirtyLogRegistry logs;

  /** Creates the type with the built-in logs and those the service loader finds. */
  public MirrorTargetType() {
    this(DirtyLogRegistry.loadDefault());
  }

  /** Creates the type over a registry of dirty log types of the caller's choosing. */
  public MirrorTargetType(DirtyLogRegistry logs) {
    this.logs = java.util.Objects.requireNonNull(logs, "logs");
  }

  /**
   * Sets the percentage of time resync may spend in I/O for mirrors made from now on (the kernel's
   * {@code raid1_resync_throttle}, default 100: no limit).
   */
  public static void setDefaultResyncThrottle(int percent) {
    if (percent < 0 || percent > 100) {
      throw new IllegalArgumentException("throttle " + percent + " (expected: 0 to 100)");
    }
    defaultResyncThrottle = percent;
  }

  /** The value {@link #setDefaultResyncThrottle} set. */
  public static int defaultResyncThrottle() {
    return defaultResyncThrottle;
  }

  @Override
  public String name() {
    return "mirror";
  }

  @Override
  public TargetVersion version() {
    return VERSION;
  }

  @Override
  public Target create(TargetContext ctx, long begin, long length, String[] args) {
    // create_dirty_log
    if (args.length < 2) {
      throw new TargetException("Insufficient mirror log arguments");
    }
    long paramCount = ArgSet.parseDecimal(args[1]);
    if (paramCount < 0 || paramCount > 0xFFFF_FFFFL) {
      throw new TargetException("Invalid mirror log argument count");
    }
    if (paramCount > args.length - 2) {
      throw new TargetException("Insufficient mirror log arguments");
    }
    int at = 2 + (int) paramCount;
    MirrorTarget.FlushHook flush = new MirrorTarget.FlushHook();
    DirtyLog log;
    try {
      log = logs.create(args[0], ctx, length, flush, java.util.Arrays.copyOfRange(args, 2, at));
    } catch (TargetException e) {
      throw new TargetException(e.errno(), "Error creating mirror dirty log: " + e.getMessage(), e);
    }
    boolean ok = false;
    try {
      // #mirrors
      long nr = at < args.length ? ArgSet.parseDecimal(args[at]) : -1;
      if (nr < 2 || nr > MAX_NR_MIRRORS) {
        throw new TargetException("Invalid number of mirrors");
      }
      at++;
      if (args.length - at < nr * 2) {
        throw new TargetException("Too few mirror arguments");
      }
      MirrorTarget.Leg[] legs = new MirrorTarget.Leg[(int) nr];
      for (int m = 0; m < nr; m++) {
        long offset = ArgSet.parseDecimal(args[at + 1]);
        if (offset < 0 || offset > ArgSet.MAX_SECTOR) {
          throw new TargetException("Invalid offset");
        }
        DmDev dev = ctx.getDevice(args[at], "Device lookup failure");
        legs[m] = new MirrorTarget.Leg(m, dev, offset);
        at += 2;
      }
      // parse_features
      boolean handleErrors = false;
      boolean keepLog = false;
      MirrorTarget.ReadBalance balance = MirrorTarget.ReadBalance.NONE;
      if (at < args.length) {
        long n = ArgSet.parseDecimal(args[at]);
        if (n < 0 || n > 0xFFFF_FFFFL) {
          throw new TargetException("Invalid number of features");
        }
        at++;
        if (n > args.length - at) {
          throw new TargetException("Not enough arguments to support feature count");
        }
        for (long i = 0; i < n; i++) {
          if (args[at].equals("handle_errors")) {
            handleErrors = true;
          } else if (args[at].equals("keep_log")) {
            keepLog = true;
          } else if (args[at].startsWith(READ_BALANCE)) {
            balance = MirrorTarget.ReadBalance.parse(args[at].substring(READ_BALANCE.length()));
            if (balance == null) {
              throw new TargetException("Unrecognised feature requested");
            }
          } else {
            throw new TargetException("Unrecognised feature requested");
          }
          at++;
        }
        if (!handleErrors && keepLog) {
          throw new TargetException("keep_log feature requires the handle_errors feature");
        }
        if (!handleErrors && balance != MirrorTarget.ReadBalance.NONE) {
          // as the kernel's comment says: without it the sync state may be inaccurate
          throw new TargetException(
              READ_BALANCE + " feature requires the handle_errors feature (jdm)");
        }
      }
      if (at < args.length) {
        throw new TargetException("Too many mirror arguments");
      }
      MirrorTarget t =
          new MirrorTarget(
              ctx, begin, length, log, legs, handleErrors, keepLog, balance, defaultResyncThrottle);
      flush.bind(t);
      ok = true;
      return t;
    } finally {
      if (!ok) {
        log.close();
      }
    }
  }
}
