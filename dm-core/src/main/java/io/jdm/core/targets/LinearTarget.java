package io.jdm.core.targets;

import io.jdm.core.AllocationMap;
import io.jdm.core.DmDev;
import io.jdm.core.PassThroughTarget;
import java.io.IOException;
import java.util.List;

/**
 * One {@code linear} line: sector {@code s} of the mapped device goes to {@code offset + (s -
 * begin)} of the underlying device. Thread-safe and stateless after construction. Its allocation
 * ({@link AllocationMap}) is the underlying device's, for the same range.
 */
final class LinearTarget extends PassThroughTarget implements AllocationMap {

  LinearTarget(DmDev dmDev, long begin, long length, long start) {
    super(dmDev, begin, length, start);
  }

  @Override
  public boolean flushBypassesMap() {
    return true;
  }

  @Override
  public List<Extent> extents(long sector, long sectors) throws IOException {
    return AllocationMap.extents(dev, start + (sector - begin), sectors);
  }
}
