package io.jdm.core;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class DeviceNumberTest {
  @Test
  void parsesMajorMinor() {
    assertThat(DeviceNumber.parse("8:16")).isEqualTo(new DeviceNumber(8, 16));
    assertThat(DeviceNumber.parse("253:0").toString()).isEqualTo("253:0");
    assertThat(DeviceNumber.parse("/dev/sda")).isNull();
    assertThat(DeviceNumber.parse("8:")).isNull();
    assertThat(DeviceNumber.parse(":1")).isNull();
    assertThat(DeviceNumber.parse("8:-1")).isNull();
    assertThat(DeviceNumber.parse("8:1:2")).isNull();
    assertThat(DeviceNumber.parse("99999:1")).isNull();
  }

  @Test
  void splitsALinuxDevT() {
    // makedev(259, 65600) as glibc encodes it
    long major = 259;
    long minor = 65600;
    long devt =
        ((major & 0xfffff000L) << 32)
            | ((major & 0xfffL) << 8)
            | ((minor & 0xffffff00L) << 12)
            | (minor & 0xffL);
    assertThat(DeviceNumber.fromDevT(devt)).isEqualTo(new DeviceNumber(259, 65600));
    assertThat(DeviceNumber.fromDevT(0x0810)).isEqualTo(new DeviceNumber(8, 16));
  }
}
