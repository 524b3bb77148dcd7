package io.jdm.targets.multipath;

import io.jdm.core.ArgSet;
import io.jdm.core.StatusType;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.pathselector.DmPath;
import io.jdm.core.pathselector.PathSelector;
import java.lang.System.Logger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code service-time} ({@code drivers/md/dm-ps-service-time.c}, 0.3.0): the valid path with the
 * shortest estimated service time for the incoming I/O, {@code (in_flight_bytes + size) /
 * relative_throughput}; ties go to the higher throughput, then to the earlier path in the list, and
 * the chosen path goes to the tail. A path of throughput 0 is used only when every valid path has
 * 0. No selector arguments; per path {@code [<repeat_count> [<relative_throughput>]]}, the
 * throughput 0 to 100 (default 1). Status: {@code 0 } for the group, {@code <in-flight bytes>
 * <throughput> } per path for INFO, {@code <repeat_count> <throughput> } for TABLE.
 *
 * <p>The comparison is the kernel's {@code st_compare_load} in 64-bit arithmetic: where the
 * kernel's 32-bit in-flight counter or its truncation of a difference to {@code int} would wrap (2
 * GiB in flight on one path), jdm compares the true values.
 */
public final class ServiceTimeSelectorType extends SelectorTypeBase {
  /** Creates the type; instances are found through {@link java.util.ServiceLoader}. */
  public ServiceTimeSelectorType() {
    super(NAME, 2, 2);
  }

  static final String NAME = "service-time";
  private static final int MAX_RELATIVE_THROUGHPUT = 100;

  @Override
  public PathSelector create(TargetContext ctx, String... args) {
    return new Selector(SelectorArgs.logger(ctx, NAME));
  }

  private static final class Info extends PathOrder.Entry {
    final int repeatCount;
    final int relativeThroughput;
    final AtomicLong inFlightSize = new AtomicLong();

    Info(DmPath path, int repeatCount, int relativeThroughput) {
      super(path);
      this.repeatCount = repeatCount;
      this.relativeThroughput = relativeThroughput;
    }
  }

  /** {@code st_compare_load}: below 0 if {@code pi1} is better, 0 if neither, above 0 if pi2. */
  static int compareLoad(long sz1, int rt1, long sz2, int rt2, long incoming) {
    if (rt1 == rt2) {
      return Long.compare(sz1, sz2); // Case 1: same throughput, the less loaded path
    }
    if (sz1 == sz2 || rt1 == 0 || rt2 == 0) {
      return rt2 - rt1; // Case 2: same load, or one has no throughput: the higher throughput
    }
    long st1 = (sz1 + incoming) * rt2; // Case 3: the shorter service time, without division
    long st2 = (sz2 + incoming) * rt1;
    if (st1 != st2) {
      return Long.compare(st1, st2);
    }
    return rt2 - rt1; // Case 4: equal service time, the higher throughput
  }

  private static final class Selector extends OrderedSelector<Info> {
    private final Logger log;

    Selector(Logger log) {
      super(Info.class);
      this.log = log;
    }

    @Override
    Info newInfo(DmPath path, String[] args) {
      if (args.length > 2) {
        throw new TargetException("service-time ps: incorrect number of arguments");
      }
      int repeat = 1;
      if (args.length > 0) {
        repeat = SelectorArgs.repeatCount(args[0], "service-time ps: ", log);
      }
      int rt = 1;
      if (args.length == 2) {
        rt =
            (int)
                ArgSet.parseLong(
                    args[1],
                    0,
                    MAX_RELATIVE_THROUGHPUT,
                    "service-time ps: invalid relative_throughput value");
      }
      return new Info(path, repeat, rt);
    }

    /**
     * The kernel keeps the first path in list order that compares strictly better than the best so
     * far; the comparison orders paths totally, so that is the least (load, place in the list).
     */
    @Override
    public DmPath selectPath(long nrBytes) {
      Info best = null;
      long bsz = 0;
      long bs = 0;
      for (PathOrder.Entry e : paths.all()) {
        Info pi = (Info) e;
        if (!pi.valid) {
          continue;
        }
        long sz = pi.inFlightSize.get();
        long s = pi.stamp();
        int c =
            best == null
                ? -1
                : compareLoad(sz, pi.relativeThroughput, bsz, best.relativeThroughput, nrBytes);
        if (c < 0 || (c == 0 && s < bs)) {
          best = pi;
          bsz = sz;
          bs = s;
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
      info(path).inFlightSize.addAndGet(nrBytes);
    }

    @Override
    public void endIo(DmPath path, long nrBytes, long startNanos) {
      info(path).inFlightSize.addAndGet(-nrBytes);
    }

    @Override
    String pathStatus(Info pi, StatusType type) {
      return (type == StatusType.INFO ? pi.inFlightSize.get() : pi.repeatCount)
          + " "
          + pi.relativeThroughput
          + " ";
    }
  }
}
