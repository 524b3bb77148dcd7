package io.jdm.targets.multipath;

import io.jdm.core.ArgSet;
import io.jdm.core.Clock;
import io.jdm.core.StatusType;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.pathselector.DmPath;
import io.jdm.core.pathselector.PathSelector;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code historical-service-time} ({@code drivers/md/dm-ps-historical-service-time.c}, 0.1.1): a
 * time-weighted moving average of each path's service time, in 10-bit fixed point, and the number
 * of I/Os outstanding on it estimate the next I/O's service time; the path with the best estimate
 * wins. A path that has not finished an I/O for longer than its estimate times the number of valid
 * paths is stale: idle and stale, it gets one probe; busy and stale, it gets no more than its
 * share. Paths whose averages differ by no more than the threshold multiplier are told apart by
 * their outstanding I/Os alone.
 *
 * <p>Selector arguments {@code [<base_weight> [<threshold_multiplier>]]}: the weight of history per
 * 16 ms bucket, 0 to 1023 (default 972, about 0.95), and the multiplier (default 0, no effect). Per
 * path {@code [<repeat_count>]}, kept but unused (not clamped to 1, unlike the other selectors).
 * Status: {@code 2 <base_weight> <threshold_multiplier> } for the group, {@code <average>
 * <outstanding> <stale_after> } per path for INFO, {@code 0 } per path for TABLE.
 *
 * <p>Time is the device mapper's {@link Clock} (the kernel's {@code ktime_get_ns}); the I/O start
 * time comes from the multipath target, read on the same clock ({@link #usesStartTime()}, the
 * kernel's {@code DM_PS_USE_HR_TIMER}). The arithmetic is the kernel's unsigned 64-bit arithmetic.
 */
public final class HistoricalServiceTimeSelectorType extends SelectorTypeBase {
  /** Creates the type; instances are found through {@link java.util.ServiceLoader}. */
  public HistoricalServiceTimeSelectorType() {
    super(NAME, 1, 3);
  }

  static final String NAME = "historical-service-time";

  private static final int FIXED_SHIFT = 10;
  private static final long FIXED_MAX = -1L >>> FIXED_SHIFT;
  private static final long FIXED_1 = 1L << FIXED_SHIFT;
  private static final int FIXED_95 = 972;
  private static final long MAX_INFLIGHT = FIXED_1;
  private static final int BUCKET_SHIFT = 24; // buckets of about 16 ms
  private static final int WEIGHT_COUNT = 64;

  @Override
  public boolean usesStartTime() {
    return true;
  }

  /**
   * {@code hst_create}. The kernel fails bad arguments with a bare {@code -EINVAL}; the multipath
   * target reports {@code "path selector constructor failed"} for them either way.
   */
  @Override
  public PathSelector create(TargetContext ctx, String... args) {
    if (args.length > 2) {
      throw new TargetException("historical-service-time ps: incorrect number of arguments");
    }
    long base = FIXED_95;
    long threshold = 0;
    if (args.length > 0) {
      base =
          ArgSet.parseLong(
              args[0], 0, FIXED_1 - 1, "historical-service-time ps: invalid base weight");
    }
    if (args.length > 1) {
      threshold =
          ArgSet.parseUint(args[1], "historical-service-time ps: invalid threshold multiplier");
    }
    Clock clock = ctx != null ? ctx.clock() : null;
    if (clock == null) {
      throw new IllegalArgumentException("historical-service-time needs the device mapper's clock");
    }
    return new Selector(clock, (int) base, threshold);
  }

  /** {@code fixed_power}: x<sup>n</sup> in fixed point with {@code frac} fractional bits. */
  static long fixedPower(long x, int frac, int n) {
    long result = 1L << frac;
    if (n != 0) {
      while (true) {
        if ((n & 1) != 0) {
          result *= x;
          result += 1L << (frac - 1);
          result >>>= frac;
        }
        n >>>= 1;
        if (n == 0) {
          break;
        }
        x *= x;
        x += 1L << (frac - 1);
        x >>>= frac;
      }
    }
    return result;
  }

  /** {@code fixed_ema}: {@code last * weight + next * (1 - weight)} in fixed point. */
  static long fixedEma(long last, long next, long weight) {
    last *= weight;
    last += next * (FIXED_1 - weight);
    last += 1L << (FIXED_SHIFT - 1);
    return last >>> FIXED_SHIFT;
  }

  private static final class Info extends PathOrder.Entry {
    private static final VarHandle OUTSTANDING;

    static {
      try {
        OUTSTANDING = MethodHandles.lookup().findVarHandle(Info.class, "outstanding", long.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    final int repeatCount;
    // Written under this object's lock (the kernel's pi->lock) in endIo; read without it when
    // choosing, where a value a moment old does no harm.
    volatile long historicalServiceTime = FIXED_1;
    volatile long staleAfter;
    long lastFinish; // guarded by this

    @SuppressWarnings("unused") // through OUTSTANDING
    private volatile long outstanding;

    Info(DmPath path, int repeatCount) {
      super(path);
      this.repeatCount = repeatCount;
    }

    long outstanding() {
      return outstanding;
    }

    void addOutstanding(long d) {
      OUTSTANDING.getAndAdd(this, d);
    }
  }

  private static final class Selector extends OrderedSelector<Info> {
    private final Clock clock;
    private final long[] weights = new long[WEIGHT_COUNT];
    private final long thresholdMultiplier;
    private final AtomicInteger validCount = new AtomicInteger();

    Selector(Clock clock, int base, long thresholdMultiplier) {
      super(Info.class);
      this.clock = clock;
      this.thresholdMultiplier = thresholdMultiplier;
      for (int i = 0; i < WEIGHT_COUNT - 1; i++) {
        weights[i] = fixedPower(base, FIXED_SHIFT, i + 1);
      }
      weights[WEIGHT_COUNT - 1] = 0;
    }

    private long weight(long delta) {
      long bucket = delta >>> BUCKET_SHIFT;
      return weights[(int) Math.min(bucket, WEIGHT_COUNT - 1)];
    }

    @Override
    Info newInfo(DmPath path, String[] args) {
      if (args.length > 1) {
        throw new TargetException("historical-service-time ps: incorrect number of arguments");
      }
      long repeat = 1;
      if (args.length == 1) {
        repeat = ArgSet.parseUint(args[0], "historical-service-time ps: invalid repeat count");
      }
      return new Info(path, (int) repeat);
    }

    @Override
    public void addPath(DmPath path, String... args) {
      super.addPath(path, args);
      validCount.incrementAndGet();
    }

    @Override
    public void failPath(DmPath path) {
      super.failPath(path);
      validCount.decrementAndGet();
    }

    @Override
    public void reinstatePath(DmPath path) {
      super.reinstatePath(path);
      validCount.incrementAndGet();
    }

    /** {@code hst_compare}: below 0 if {@code pi1} is better. */
    private long compare(Info pi1, Info pi2, long now) {
      long hst1 = pi1.historicalServiceTime;
      long out1 = pi1.outstanding();
      long stale1 = pi1.staleAfter;
      long hst2 = pi2.historicalServiceTime;
      long out2 = pi2.outstanding();
      long stale2 = pi2.staleAfter;

      // Estimates too close to tell apart: compare outstanding I/Os, idle paths first.
      boolean overThreshold =
          Long.compareUnsigned(hst1, hst2) > 0
              ? Long.compareUnsigned(hst1, thresholdMultiplier * hst2) > 0
              : Long.compareUnsigned(hst2, thresholdMultiplier * hst1) > 0;
      if (!overThreshold) {
        return out1 - out2;
      }
      // An idle stale path gets a probe; of two idle paths, the staler one.
      boolean stale1Now = Long.compareUnsigned(stale1, now) < 0;
      boolean stale2Now = Long.compareUnsigned(stale2, now) < 0;
      if ((out1 == 0 && stale1Now) || (out2 == 0 && stale2Now) || (out1 == 0 && out2 == 0)) {
        return (out2 == 0 ? stale1 : 0) - (out1 == 0 ? stale2 : 0);
      }
      boolean pi2Better;
      if (out1 == out2) {
        pi2Better = Long.compareUnsigned(hst1, hst2) > 0;
      } else {
        if (out1 >= MAX_INFLIGHT || out2 >= MAX_INFLIGHT) {
          hst1 >>>= FIXED_SHIFT;
          hst2 >>>= FIXED_SHIFT;
        }
        pi2Better = Long.compareUnsigned((1 + out1) * hst1, (1 + out2) * hst2) > 0;
      }
      // A stale winner gets no more than an equal share.
      if (pi2Better) {
        return stale2Now ? out1 - out2 : 1;
      }
      return stale1Now ? out1 - out2 : -1;
    }

    @Override
    public DmPath selectPath(long nrBytes) {
      long now = clock.nanoTime();
      Info best = null;
      int steps = paths.all().length * 2; // a concurrent move can show a path twice; stop anyway
      for (Info pi = paths.first(); pi != null && steps-- > 0; pi = paths.after(pi.stamp())) {
        if (best == null || compare(pi, best, now) < 0) {
          best = pi;
        }
      }
      if (best == null) {
        return null;
      }
      paths.moveToTail(best);
      return best.path;
    }

    @Override
    public void startIo(DmPath path, long nrBytes) {
      info(path).addOutstanding(1);
    }

    @Override
    public void endIo(DmPath path, long nrBytes, long startNanos) {
      Info pi = info(path);
      synchronized (pi) {
        long st = serviceTime(pi, startNanos);
        pi.addOutstanding(-1);
        long next = st * FIXED_1;
        if (Long.compareUnsigned(st, FIXED_MAX) > 0 || Long.compareUnsigned(next, FIXED_MAX) > 0) {
          next = FIXED_MAX;
        }
        long hst = fixedEma(pi.historicalServiceTime, next, weight(st));
        pi.historicalServiceTime = hst;
        // Fresh again; a path that finishes nothing within this becomes stale.
        pi.staleAfter = pi.lastFinish + validCount.get() * (hst >>> FIXED_SHIFT);
      }
    }

    /** {@code path_service_time}, with {@code pi}'s lock held. */
    private long serviceTime(Info pi, long start) {
      long now = clock.nanoTime();
      // An I/O that finished after this one started: count as if they ran one after the other.
      if (pi.lastFinish - start > 0) {
        start = pi.lastFinish;
      }
      pi.lastFinish = now;
      if (now - start < 0) {
        return 0;
      }
      return now - start;
    }

    @Override
    String groupStatus() {
      return "2 " + weights[0] + " " + Long.toUnsignedString(thresholdMultiplier) + " ";
    }

    @Override
    String pathStatus(Info pi, StatusType type) {
      if (type == StatusType.TABLE) {
        return "0 ";
      }
      return Long.toUnsignedString(pi.historicalServiceTime)
          + " "
          + Long.toUnsignedString(pi.outstanding())
          + " "
          + Long.toUnsignedString(pi.staleAfter)
          + " ";
    }
  }
}
