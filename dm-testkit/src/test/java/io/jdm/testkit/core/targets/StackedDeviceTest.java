package io.jdm.testkit.core.targets;

import io.jdm.core.BlockDevice;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.testkit.BaseBlockDeviceTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.TargetFixture;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * linear over striped over linear over files: the whole stack, with targets splitting bios at three
 * levels, through the device suite. Closing the top device must not take the stack down, and the
 * stack is removed top first when the device mapper closes.
 */
class StackedDeviceTest extends BaseBlockDeviceTestCase {
  private final List<DeviceMapper> mappers = new ArrayList<>();
  private final List<TargetFixture> fixtures = new ArrayList<>();
  private int n;

  @Override
  protected BlockDevice createDevice(long sectors) throws IOException {
    DeviceMapper dm = DeviceMapper.create();
    mappers.add(dm);
    TargetFixture f = new TargetFixture(dm);
    fixtures.add(f);
    long per = sectors / 2; // two legs
    String p = "s" + n++ + "-";
    // bottom: each leg is two linear pieces over two files
    for (int leg = 0; leg < 2; leg++) {
      String a = f.file(per / 2 + 16);
      String b = f.file(per - per / 2);
      dm.create(
          p + "leg" + leg,
          "0 "
              + (per / 2)
              + " linear "
              + a
              + " 16\n"
              + (per / 2)
              + " "
              + (per - per / 2)
              + " linear "
              + b
              + " 0");
    }
    // middle: striped over the legs, 16-sector chunks
    long striped = per / 16 * 16 * 2;
    dm.create(
        p + "stripe", "0 " + striped + " striped 2 16 /dev/mapper/" + p + "leg0 0 " + p + "leg1 0");
    // top: two linear pieces over the striped device, crossing its chunk boundaries
    long half = striped / 2 + 5;
    MappedDevice stripe = dm.device(p + "stripe");
    return dm.create(
        p + "top",
        "0 "
            + half
            + " linear "
            + stripe.number()
            + " 0\n"
            + half
            + " "
            + (striped - half)
            + " linear "
            + p
            + "stripe "
            + half);
  }

  @Override
  protected DeviceCapabilities capabilities() {
    // files punch holes where JNA and the file system can
    return DeviceCapabilities.disk()
        .withDiscard(io.jdm.testkit.core.FileBlockDevicePunchTest.fileDiscard());
  }

  @Override
  protected void afterDevicesClosed() throws IOException {
    for (DeviceMapper dm : mappers) {
      dm.close();
      org.assertj.core.api.Assertions.assertThat(dm.list()).isEmpty();
      org.assertj.core.api.Assertions.assertThat(dm.openDeviceCount()).isZero();
    }
    for (TargetFixture f : fixtures) {
      f.close();
    }
  }
}
