package io.jdm.targets.multipath;

import io.jdm.core.StatusType;
import io.jdm.core.TargetContext;
import io.jdm.core.pathselector.DmPath;
import io.jdm.core.pathselector.PathSelector;
import io.jdm.core.pathselector.PathSelectorType;
import java.lang.System.Logger;

/**
 * {@code round-robin} ({@code drivers/md/dm-ps-round-robin.c}, 1.2.0): the valid paths in turn. No
 * selector arguments; per path {@code [<repeat_count>]}, where anything above 1 is deprecated and 1
 * is used. Status: {@code 0 } for the group, nothing per path for INFO, {@code <repeat_count> } per
 * path for TABLE. A reinstated path is chosen next (the kernel puts it at the head of the list).
 */
public final class RoundRobinSelectorType implements PathSelectorType {
  /** Creates the type; instances are found through {@link java.util.ServiceLoader}. */
  public RoundRobinSelectorType() {}

  static final String NAME = "round-robin";

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
    return 0;
  }

  @Override
  public PathSelector create(TargetContext ctx, String... args) {
    return new Selector(SelectorArgs.logger(ctx, NAME));
  }

  private static final class Info extends PathOrder.Entry {
    final int repeatCount;

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
      Info pi = new Info(path, SelectorArgs.onlyRepeatCount(args, "round-robin ps: ", log));
      path.setSelectorContext(pi);
      paths.add(pi);
    }

    @Override
    public DmPath selectPath(long nrBytes) {
      for (int attempt = 0; ; attempt++) {
        Info head = null;
        long seen = Long.MAX_VALUE;
        for (PathOrder.Entry e : paths.all()) {
          Info pi = (Info) e;
          if (pi.valid) {
            long s = pi.stamp();
            if (head == null || s < seen) {
              head = pi;
              seen = s;
            }
          }
        }
        if (head == null) {
          return null;
        }
        // Claim the head by moving it to the tail; a concurrent choice that took it first makes
        // this one look again, so that two bios do not both go down the same path.
        if (paths.moveToTail(head, seen) || attempt == 3) {
          return head.path;
        }
      }
    }

    @Override
    public void failPath(DmPath path) {
      paths.fail((Info) path.selectorContext());
    }

    @Override
    public void reinstatePath(DmPath path) {
      paths.reinstateAtHead((Info) path.selectorContext());
    }

    @Override
    public String status(DmPath path, StatusType type) {
      if (path == null) {
        return "0 ";
      }
      return type == StatusType.TABLE ? ((Info) path.selectorContext()).repeatCount + " " : "";
    }
  }
}
