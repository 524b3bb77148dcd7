package io.jdm.crypto;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.TargetFixture;
import java.util.ArrayList;
import java.util.List;

/** aes-cbc-essiv:sha256 (the classic LUKS1 default) over a striped device, with discards. */
class CryptOverStripedTest extends CryptSuite {
  private final List<DeviceMapper> lower = new ArrayList<>();

  @Override
  protected String targetArgs(TargetFixture f, long length) {
    DeviceMapper dm = DeviceMapper.create();
    lower.add(dm);
    long leg = (length + 64) / 2 / 8 * 8 + 8;
    dm.registerDevice("a", MemoryBlockDevice.create("a", leg));
    dm.registerDevice("b", MemoryBlockDevice.builder("b", leg).direct(true).build());
    MappedDevice striped = dm.create("s", "0 " + 2 * leg + " striped 2 8 a 0 b 0");
    return "aes-cbc-essiv:sha256 "
        + key(32, 4)
        + " 0 "
        + f.register(striped)
        + " 64 1 allow_discards";
  }

  /** A discard reaches the disk below; what it then reads decrypts to noise, not zeros. */
  @Override
  protected DeviceCapabilities capabilities() {
    return super.capabilities().withDiscard(DeviceCapabilities.Discard.UNSPECIFIED);
  }

  @Override
  protected void afterDevicesClosed() throws Exception {
    try {
      super.afterDevicesClosed();
    } finally {
      for (DeviceMapper dm : lower) {
        dm.close();
      }
      lower.clear();
    }
  }
}
