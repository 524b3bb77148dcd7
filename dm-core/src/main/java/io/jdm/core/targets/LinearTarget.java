package io.jdm.core.targets;

import io.jdm.core.DmDev;
import io.jdm.core.PassThroughTarget;

/**
 * One {@code linear} line: sector {@code s} of the mapped device goes to {@code offset + (s -
 * begin)} of the underlying device. Thread-safe and stateless after construction.
 */
final class LinearTarget extends PassThroughTarget {

  LinearTarget(DmDev dmDev, long begin, long length, long start) {
    super(dmDev, begin, length, start);
  }

  @Override
  public boolean flushBypassesMap() {
    return true;
  }
}
