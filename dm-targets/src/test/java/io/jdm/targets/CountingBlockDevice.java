package io.jdm.targets;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.IoLimits;
import java.io.IOException;
import java.util.EnumMap;
import java.util.Map;

/**
 * A pass-through device that counts the bios of each operation it is given. It advertises a
 * volatile write cache with FUA, so that the device mapper sends it flushes (a device without a
 * cache has nothing to flush, and flushes to it complete at once, as in the kernel).
 */
final class CountingBlockDevice implements BlockDevice {
  private final BlockDevice dev;
  private final IoLimits limits;
  private final Map<Bio.Op, Integer> counts = new EnumMap<>(Bio.Op.class);

  CountingBlockDevice(BlockDevice dev) {
    this(dev, true);
  }

  /** As {@link #CountingBlockDevice(BlockDevice)}, advertising no discard support if asked. */
  CountingBlockDevice(BlockDevice dev, boolean discard) {
    this.dev = dev;
    IoLimits.Builder b = dev.limits().toBuilder().writeCache(true).fua(true);
    if (!discard) {
      b.maxDiscardSectors(0);
    }
    this.limits = b.build();
  }

  synchronized int count(Bio.Op op) {
    return counts.getOrDefault(op, 0);
  }

  @Override
  public String name() {
    return dev.name();
  }

  @Override
  public long sectors() {
    return dev.sectors();
  }

  @Override
  public IoLimits limits() {
    return limits;
  }

  @Override
  public boolean isReadOnly() {
    return dev.isReadOnly();
  }

  @Override
  public void submit(Bio bio) {
    synchronized (this) {
      counts.merge(bio.op(), 1, Integer::sum);
    }
    dev.submit(bio);
  }

  @Override
  public void close() throws IOException {
    dev.close();
  }
}
