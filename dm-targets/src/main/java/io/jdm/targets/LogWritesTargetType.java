package io.jdm.targets;

import io.jdm.core.Bio;
import io.jdm.core.DmDev;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;

/**
 * {@code log-writes <dev> <log_dev>}: passes I/O through to {@code dev} and records every write,
 * flush, FUA write, discard and mark on {@code log_dev} in the kernel's on-disk format ({@code
 * drivers/md/dm-log-writes.c}, v1.1.0), for replaying a workload to any point and checking what a
 * crash there would leave. See {@link LogWritesTarget} for the format and the ordering rules.
 *
 * <p>As in the kernel, bios go to {@code dev} at the mapped device's own sector (the target start
 * is not subtracted), so the target is meant to be the only line of its table, at sector 0.
 *
 * <p>Beyond the kernel: a log device with no room for an entry after its super block is refused at
 * construction (the kernel accepts it and turns logging off at the first entry).
 */
public final class LogWritesTargetType implements TargetType {
  /** Creates the type; instances are found through {@link java.util.ServiceLoader}. */
  public LogWritesTargetType() {}

  private static final TargetVersion VERSION = TargetVersion.of(1, 1, 0);

  @Override
  public String name() {
    return "log-writes";
  }

  @Override
  public TargetVersion version() {
    return VERSION;
  }

  @Override
  public Target create(TargetContext ctx, long begin, long length, String[] args) {
    if (args.length < 2) {
      throw new TargetException("Invalid argument count");
    }
    DmDev dev = ctx.getDevice(args[0], "Device lookup failed");
    DmDev logDev = ctx.getDevice(args[1], "Log device lookup failed");
    long blockSectors = dev.bdev().limits().logicalBlockSize() >>> Bio.SECTOR_SHIFT;
    if (logDev.bdev().sectors() <= 2 * blockSectors) {
      // jdm only: the kernel takes such a log and turns logging off at the first entry
      throw new TargetException(
          "Log device too small: "
              + logDev.bdev().sectors()
              + " sectors hold no entry after the super block (need more than "
              + 2 * blockSectors
              + ")");
    }
    return new LogWritesTarget(ctx, dev, logDev, length);
  }
}
