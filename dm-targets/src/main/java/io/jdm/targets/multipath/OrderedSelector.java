package io.jdm.targets.multipath;

import io.jdm.core.StatusType;
import io.jdm.core.pathselector.DmPath;
import io.jdm.core.pathselector.PathSelector;

/**
 * What the kernel's four selectors share: each keeps its paths in a list ({@link PathOrder}), each
 * path with a per-path info record hung on the path ({@code path->pscontext}), parsed from the
 * per-path arguments; a failed path leaves the valid list, a reinstated one rejoins it at the tail
 * (round-robin: at the head). The status for the group is {@code "0 "} (no selector arguments)
 * unless the selector says otherwise.
 *
 * @param <I> the per-path info
 */
abstract class OrderedSelector<I extends PathOrder.Entry> implements PathSelector {
  final PathOrder<I> paths = new PathOrder<>();
  private final Class<I> infoType;

  OrderedSelector(Class<I> infoType) {
    this.infoType = infoType;
  }

  /** The per-path info of a path being added, from its arguments (errors as the kernel's). */
  abstract I newInfo(DmPath path, String[] args);

  /** The per-path status (INFO or TABLE) of {@code info}. */
  abstract String pathStatus(I info, StatusType type);

  /** The path's info. */
  final I info(DmPath path) {
    return infoType.cast(path.selectorContext());
  }

  @Override
  public void addPath(DmPath path, String... args) {
    I pi = newInfo(path, args);
    path.setSelectorContext(pi);
    paths.add(pi);
  }

  @Override
  public void failPath(DmPath path) {
    paths.fail(info(path));
  }

  @Override
  public void reinstatePath(DmPath path) {
    paths.reinstateAtTail(info(path));
  }

  /** The group's status; {@code "0 "}: no selector arguments. */
  String groupStatus() {
    return "0 ";
  }

  @Override
  public final String status(DmPath path, StatusType type) {
    return path == null ? groupStatus() : pathStatus(info(path), type);
  }
}
