package io.jdm.targets.multipath;

import io.jdm.core.StatusType;
import io.jdm.core.TargetContext;
import io.jdm.core.pathselector.DmPath;
import io.jdm.core.pathselector.PathSelector;
import io.jdm.core.pathselector.PathSelectorType;
import java.lang.System.Logger;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code queue-length} ({@code drivers/md/dm-ps-queue-length.c}, 0.2.0): the valid path with the
 * fewest I/Os in flight, the first such in list order, which then goes to the tail of the list. No
 * selector arguments; per path {@code [<repeat_count>]} (above 1 deprecated, 1 used). Status:
 * {@code 0 } for the group, {@code <in-flight> } per path for INFO, {@code <repeat_count> } for
 * TABLE.
 */
public final class QueueLengthSelectorType implements PathSelectorType {
  /** Creates the type; instances are found through {@link java.util.ServiceLoader}. */
  public QueueLengthSelectorType() {}

  static final String NAME = "queue-length";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public int tableArgs() {
    return 1;
  }

  @Override
  public int infoArgs() {
    return 1;
  }

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

  private static final class Selector implements PathSelector {
    private final PathOrder<Info> paths = new PathOrder<>();
    private final Logger log;

    Selector(Logger log) {
      this.log = log;
    }

    @Override
    public void addPath(DmPath path, String... args) {
      Info pi = new Info(path, SelectorArgs.onlyRepeatCount(args, "queue-length ps: ", log));
      path.setSelectorContext(pi);
      paths.add(pi);
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
    public void failPath(DmPath path) {
      paths.fail((Info) path.selectorContext());
    }

    @Override
    public void reinstatePath(DmPath path) {
      paths.reinstateAtTail((Info) path.selectorContext());
    }

    @Override
    public void startIo(DmPath path, long nrBytes) {
      ((Info) path.selectorContext()).qlen.incrementAndGet();
    }

    @Override
    public void endIo(DmPath path, long nrBytes, long startNanos) {
      ((Info) path.selectorContext()).qlen.decrementAndGet();
    }

    @Override
    public String status(DmPath path, StatusType type) {
      if (path == null) {
        return "0 ";
      }
      Info pi = (Info) path.selectorContext();
      return (type == StatusType.INFO ? pi.qlen.get() : pi.repeatCount) + " ";
    }
  }
}
