package io.jdm.core.dirtylog;

import io.jdm.core.StatusType;

/**
 * The {@code core} log: the bitsets in memory only ({@code core_ctr} and friends in {@code
 * drivers/md/dm-log.c}). Every region starts clean; none starts in sync unless {@code nosync} was
 * given, so a mirror with a core log resynchronises everything when it is created. Flushing does
 * nothing.
 *
 * <p>Thread-safe (see {@link BitsetLog}).
 */
final class CoreLog extends BitsetLog {

  CoreLog(DirtyLogType type, Params p) {
    super(type, p);
  }

  @Override
  public void flush() {}

  /** Marks live in memory only: nothing to flush. */
  @Override
  public boolean marksNeedFlush() {
    return false;
  }

  /** {@code 1 core} and {@code core <1|2> <region_size> [[no]sync ]}. */
  @Override
  public String status(StatusType type) {
    if (type == StatusType.INFO) {
      return "1 " + type().name();
    }
    return type().name()
        + " "
        + (sync == Sync.DEFAULT ? 1 : 2)
        + " "
        + regionSize
        + " "
        + syncArgument();
  }
}
