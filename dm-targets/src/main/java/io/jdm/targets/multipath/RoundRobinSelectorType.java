package io.jdm.targets.multipath;

import io.jdm.core.StatusType;
import io.jdm.core.TargetContext;
import io.jdm.core.pathselector.DmPath;
import io.jdm.core.pathselector.PathSelector;
import java.lang.System.Logger;

/**
 * {@code round-robin} ({@code drivers/md/dm-ps-round-robin.c}, 1.2.0): the valid paths in turn. No
 * selector arguments; per path {@code [<repeat_count>]}, where anything above 1 is deprecated and 1
 * is used. Status: {@code 0 } for the group, nothing per path for INFO, {@code <repeat_count> } per
 * path for TABLE. A reinstated path is chosen next (the kernel puts it at the head of the list).
 */
public final class RoundRobinSelectorType extends SelectorTypeBase {
  /** Creates the type; instances are found through {@link java.util.ServiceLoader}. */
  public RoundRobinSelectorType() {
    super(NAME, 1, 0);
  }

  static final String NAME = "round-robin";

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

  private static final class Selector extends OrderedSelector<Info> {
    private final Logger log;

    Selector(Logger log) {
      super(Info.class);
      this.log = log;
    }

    @Override
    Info newInfo(DmPath path, String[] args) {
      return new Info(path, SelectorArgs.onlyRepeatCount(args, "round-robin ps: ", log));
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
    public void reinstatePath(DmPath path) {
      paths.reinstateAtHead(info(path));
    }

    @Override
    String pathStatus(Info pi, StatusType type) {
      return type == StatusType.TABLE ? pi.repeatCount + " " : "";
    }
  }
}
