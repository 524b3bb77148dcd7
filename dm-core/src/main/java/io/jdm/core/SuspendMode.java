package io.jdm.core;

/** How {@link MappedDevice#suspend(SuspendMode)} quiesces a device ({@code dmsetup suspend}). */
public enum SuspendMode {
  /**
   * The default: flush the device (jdm's equivalent of the kernel freezing the file system, which
   * syncs it), block new I/O, wait for I/O in flight. I/O a target pushes back fails.
   */
  FLUSH,
  /** {@code --nolockfs}: as {@link #FLUSH} without the initial flush. */
  NOLOCKFS,
  /**
   * {@code --noflush}: no flush, and I/O a target pushes back while the suspend runs ({@link
   * MapResult#REQUEUE}) is kept and reissued after resume instead of failing.
   */
  NOFLUSH
}
