package io.jdm.testkit.core;

import io.jdm.core.BlockDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.BaseBlockDeviceTestCase;
import io.jdm.testkit.DeviceCapabilities;

/** Direct memory, 4 KiB logical blocks, chunks smaller than a block. */
class MemoryBlockDeviceDirect4kTest extends BaseBlockDeviceTestCase {
  @Override
  protected BlockDevice createDevice(long sectors) {
    return MemoryBlockDevice.builder("mem4k", sectors / 8 * 8)
        .direct(true)
        .logicalBlockSize(4096)
        .chunkSize(1024)
        .build();
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk();
  }
}
