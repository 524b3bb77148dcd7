package io.jdm.core;

import java.util.Objects;

/**
 * A range of an underlying device that a target maps onto, as reported to the kernel's {@code
 * iterate_devices} callout: the core checks it lies inside the device and is aligned, and stacks
 * the device's limits from it.
 */
public record DeviceArea(DmDev dev, long start, long length) {
  public DeviceArea {
    Objects.requireNonNull(dev, "dev");
    if (start < 0 || length < 0) {
      throw new IllegalArgumentException("area start " + start + ", length " + length);
    }
  }
}
