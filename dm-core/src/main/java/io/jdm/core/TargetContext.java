package io.jdm.core;

/**
 * What a {@link TargetType} constructor gets from the core: the kernel's {@code dm_table} and
 * {@code dm_target} services ({@code dm_get_device}, {@code dm_table_get_mode}, {@code
 * dm_table_event}, workqueues).
 */
public interface TargetContext {

  /** Name of the mapped device the table is being loaded into. */
  String deviceName();

  /** The table is read-only: devices are opened read-only and writes fail. */
  boolean readOnly();

  /**
   * Opens an underlying device in the table's mode ({@code dm_get_device}): a {@code major:minor},
   * a mapped device's name or {@code /dev/mapper/NAME}, a device the embedder registered, a file or
   * block-device path, or anything a registered {@link DeviceResolver} knows. The same device named
   * twice in one table is opened once.
   *
   * @throws TargetException if the device cannot be found or opened, or is the device being loaded
   */
  DmDev getDevice(String path);

  /**
   * {@link #getDevice(String)}, failing with the target's own text in front of the reason, as the
   * kernel's {@code ti->error = "Device lookup failed"}: {@code "Device lookup failed: /dev/x: no
   * such device"}.
   */
  default DmDev getDevice(String path, String error) {
    try {
      return getDevice(path);
    } catch (TargetException e) {
      throw new TargetException(e.errno(), error + ": " + e.getMessage(), e);
    }
  }

  /**
   * A worker for blocking work, named {@code jdm-<device>-<name>}; shut down after the table's
   * targets are closed. Several calls with the same name return the same workqueue.
   *
   * @param threads 1 for an ordered queue, more for parallel work
   */
  Workqueue workqueue(String name, int threads);

  /**
   * A new list for bios this target keeps until it can serve them, which the core lets go of when
   * the device suspends ({@link BioHoldList}). Call from the constructor.
   *
   * @param failStatus how a held bio completes when a flushing suspend lets it go (the kernel's
   *     mirror and multipath use {@link BlockStatus#IOERR})
   */
  BioHoldList holdList(BlockStatus failStatus);

  /**
   * Whether the device is being suspended with {@link SuspendMode#NOFLUSH} ({@code
   * dm_noflush_suspending}): true from before the presuspend hooks until the suspend completes or
   * is abandoned. A bio pushed back then ({@link MapResult#REQUEUE}, or completed with {@link
   * BlockStatus#DM_REQUEUE}) is reissued after resume.
   */
  boolean noflushSuspending();

  /** Raises a table event: the device's event number goes up and waiters wake. */
  void triggerEvent();

  /**
   * A random source for this target alone, split from the device mapper's seed ({@link
   * DeviceMapper.Builder#seed}), so a test that fixes the seed sees the same choices again. Not
   * thread-safe: a target that draws from {@code map} guards it.
   */
  java.util.SplittableRandom random();

  /** The clock of this device mapper: time and timers. */
  Clock clock();

  /**
   * A logger named after the target type ({@code io.jdm.target.<type>}), for messages the kernel
   * would print with DMERR/DMWARN/DMINFO: each message is prefixed as the kernel's are for a
   * device, {@code device-mapper: <type>: dm-N: }.
   */
  System.Logger logger();

  /**
   * State shared by every target of one {@link DeviceMapper}, one instance per {@code type}, made
   * by {@code factory} the first time it is asked for and kept until the device mapper closes: what
   * the kernel keeps in a module's globals (dm-snap's hash of origins, which lets a {@code
   * snapshot-origin} find the snapshots of its device). Scoped to the device mapper, so two device
   * mappers in one JVM share nothing.
   *
   * @throws UnsupportedOperationException from contexts that have no device mapper behind them
   */
  default <T> T shared(Class<T> type, java.util.function.Supplier<? extends T> factory) {
    throw new UnsupportedOperationException("no shared state in " + getClass().getName());
  }
}
