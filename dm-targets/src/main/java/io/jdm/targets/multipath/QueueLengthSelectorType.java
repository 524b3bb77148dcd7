package io.jdm.targets.multipath;

import io.jdm.core.StatusType;
import io.jdm.core.TargetContext;
import io.jdm.core.pathselector.DmPath;
import io.jdm.core.pathselector.PathSelector;
import java.lang.System.Logger;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code queue-length} ({@code drivers/md/dm-ps-queue-length.c}, 0.2.0): the valid path with the
 * fewest I/Os in flight, the first such in list order, which then goes to the tail of the list. No
 * selector arguments; per path {@code [<repeat_count>]} (above 1 deprecated, 1 used). Status:
 * {@code 0 } for the group, {@code <in-flight> } per path for INFO, {@code <repeat_count> } for
 * TABLE.
 */
public final class QueueLengthSelectorType extends SelectorTypeBase {
  /** Creates the type; instances are found through {@link java.util.ServiceLoader}. */
  public QueueLengthSelectorType() {
    super(NAME, 1, 1);
  }

  static final String NAME = "queue-length";

  @Override
  public PathSelector create(TargetContext ctx, String... args) {
    return new Selector(SelectorArgs.logger(ctx, NAME));
  }

  private static final class Info extends PathOrder.Entry {
    final int repeatCount;
    final AtomicInteger qlen = new AtomicInteger();

    Info(DmPath path, int repeatCount) {
      super(path);
      this.repeatCount = repeatCount;
    }
  }

  private static final class Selector extends OrderedSelector<Info> {
    private final Logger log;

    Selector(Logger log) {
      super(Info.class);
      this.log = log;
    }

    @Override
    Info newInfo(DmPath path, String[] args) {
      return new Info(path, SelectorArgs.onlyRepeatCount(args, "queue-length ps: ", log));
    }

    /**
     * The kernel walks the list and keeps the first path with a strictly smaller queue, stopping at
     * an idle one: that is the valid path with the least (queue length, place in the list).
     */
    @Override
    public DmPath selectPath(long nrBytes) {
      Info best = null;
      int bq = 0;
      long bs = 0;
      for (PathOrder.Entry e : paths.all()) {
        Info pi = (Info) e;
        if (!pi.valid) {
          continue;
        }
        int q = pi.qlen.get();
        long s = pi.stamp();
        if (best == null || q < bq || (q == bq && s < bs)) {
          best = pi;
          bq = q;
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
      info(path).qlen.incrementAndGet();
    }

    @Override
    public void endIo(DmPath path, long nrBytes, long startNanos) {
      info(path).qlen.decrementAndGet();
    }

    @Override
    String pathStatus(Info pi, StatusType type) {
      return (type == StatusType.INFO ? pi.qlen.get() : pi.repeatCount) + " ";
    }
  }
}
