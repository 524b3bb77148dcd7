package io.jdm.core.targets;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.DeviceArea;
import io.jdm.core.DmDev;
import io.jdm.core.MapResult;
import io.jdm.core.StatusType;
import io.jdm.core.Target;
import java.util.List;

/**
 * One {@code linear} line: sector {@code s} of the mapped device goes to {@code offset + (s -
 * begin)} of the underlying device. Thread-safe and stateless after construction.
 */
final class LinearTarget implements Target {
  private final DmDev dmDev;
  private final BlockDevice dev;
  private final long begin;
  private final long length;
  private final long start;

  LinearTarget(DmDev dmDev, long begin, long length, long start) {
    this.dmDev = dmDev;
    this.dev = dmDev.bdev();
    this.begin = begin;
    this.length = length;
    this.start = start;
  }

  @Override
  public MapResult map(Bio bio) {
    bio.remap(dev, start + (bio.sector() - begin));
    return MapResult.REMAPPED;
  }

  @Override
  public String status(StatusType type) {
    return type == StatusType.TABLE ? dmDev.name() + " " + start : "";
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

  @Override
  public boolean flushBypassesMap() {
    return true;
  }
}
