package io.jdm.core;

import java.util.List;

/**
 * The common case of a target that maps its sectors onto one range of one device, as {@code
 * linear}, {@code dust}, {@code flakey} and the tutorial's {@code basic_target} do: sector {@code
 * s} of the mapped device goes to {@code start + (s - begin)} of the device ({@code
 * dm_target_offset}).
 *
 * <p>What it does for a subclass, so none forgets it:
 *
 * <ul>
 *   <li>{@link #map} remaps every bio (a subclass that looks at bios first calls {@link #remap});
 *   <li>flushes, discards and write-zeroes are forwarded, one copy each ({@code num_flush_bios},
 *       {@code num_discard_bios} and {@code num_write_zeroes_bios} = 1), so {@code fsync} reaches
 *       the disk and the device keeps the limits of the one below;
 *   <li>{@link #devices()} reports the one area, for validation, limits and {@code deps};
 *   <li>{@link #status} prints {@code <device> <start>} as the table text, the first two arguments
 *       of every such target ({@link #tableText()} for subclasses that print more).
 * </ul>
 *
 * <p>Thread-safe and allocation-free on the map path; subclasses keep that.
 */
public abstract class PassThroughTarget implements Target {
  /** The device, as the table named it. */
  protected final DmDev dmDev;

  /** The device to submit to. */
  protected final BlockDevice dev;

  /** The target's first sector on the mapped device. */
  protected final long begin;

  /** The target's length in sectors. */
  protected final long length;

  /** The first sector on {@link #dev}. */
  protected final long start;

  /**
   * @param dev the device, from {@link TargetContext#getDevice}
   * @param begin the target's first sector on the mapped device
   * @param length the target's length
   * @param start the first sector on {@code dev}
   */
  protected PassThroughTarget(DmDev dev, long begin, long length, long start) {
    this.dmDev = dev;
    this.dev = dev.bdev();
    this.begin = begin;
    this.length = length;
    this.start = start;
  }

  /** Points {@code bio} at the device, at the sector this target maps its sector to. */
  protected final void remap(Bio bio) {
    bio.remap(dev, start + (bio.sector() - begin));
  }

  /** Remaps the bio; the core submits it. */
  @Override
  public MapResult map(Bio bio) {
    remap(bio);
    return MapResult.REMAPPED;
  }

  /** {@code <device> <start>}, as the kernel prints a device and sector pair. */
  protected final String tableText() {
    return dmDev.name() + " " + start;
  }

  /** TABLE: {@link #tableText()}; INFO: nothing. */
  @Override
  public String status(StatusType type) {
    return type == StatusType.TABLE ? tableText() : "";
  }

  @Override
  public List<DeviceArea> devices() {
    return List.of(new DeviceArea(dmDev, start, length));
  }

  @Override
  public int numFlushBios() {
    return 1;
  }

  @Override
  public int numDiscardBios() {
    return 1;
  }

  @Override
  public int numWriteZeroesBios() {
    return 1;
  }
}
