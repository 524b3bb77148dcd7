package io.jdm.testkit.core;

import io.jdm.core.BlockDevice;
import io.jdm.core.NullBlockDevice;
import io.jdm.testkit.BaseBlockDeviceTestCase;
import io.jdm.testkit.DeviceCapabilities;

class NullBlockDeviceTest extends BaseBlockDeviceTestCase {
  @Override
  protected BlockDevice createDevice(long sectors) {
    return NullBlockDevice.create("null", sectors);
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk()
        .withData(DeviceCapabilities.Data.DISCARDED)
        .withDiscard(DeviceCapabilities.Discard.UNSPECIFIED);
  }
}
