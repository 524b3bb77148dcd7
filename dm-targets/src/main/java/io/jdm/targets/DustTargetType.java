package io.jdm.targets;

import io.jdm.core.ArgSet;
import io.jdm.core.DmDev;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;

/**
 * {@code dust <dev> <offset> <blksz>}: a pass-through device with a list of bad blocks that fail
 * reads, as a disk with unreadable sectors does ({@code drivers/md/dm-dust.c}, v1.0.0). See {@link
 * DustTarget} for the messages.
 *
 * <p>The block size is in bytes: a power of two from 512 bytes to 1 GiB and no larger than the
 * target. Blocks are counted on the underlying device ({@code (offset + x) / sectors_per_block}).
 * Failing reads starts disabled ({@code bypass}); the {@code enable} message turns it on.
 */
public final class DustTargetType implements TargetType {
  /** Creates the type; instances are found through {@link java.util.ServiceLoader}. */
  public DustTargetType() {}

  private static final TargetVersion VERSION = TargetVersion.of(1, 0, 0);
  private static final long MAX_BLOCK_SECTORS = 2097152;

  @Override
  public String name() {
    return "dust";
  }

  @Override
  public TargetVersion version() {
    return VERSION;
  }

  @Override
  public Target create(TargetContext ctx, long begin, long length, String[] args) {
    if (args.length != 3) {
      throw new TargetException("Invalid argument count");
    }
    long blksz = ArgSet.parseLong(args[2], 1, 0xFFFF_FFFFL, "Invalid block size parameter");
    if (blksz < 512) {
      throw new TargetException("Block size must be at least 512");
    }
    if (Long.bitCount(blksz) != 1) {
      throw new TargetException("Block size must be a power of 2");
    }
    if (blksz / 512 > Math.min(length, MAX_BLOCK_SECTORS)) {
      throw new TargetException("Block size is too large");
    }
    long start = ArgSet.parseSector(args[1], "Invalid device offset sector");
    DmDev dev = ctx.getDevice(args[0], "Device lookup failed");
    return new DustTarget(ctx.logger(), dev, begin, length, start, (int) blksz);
  }
}
