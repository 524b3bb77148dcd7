package io.jdm.testkit.core.targets;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.BaseTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.TargetFixture;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;

class ErrorTargetTest extends BaseTargetTestCase {
  @Override
  protected String targetType() {
    return "error";
  }

  @Override
  protected String targetArgs(TargetFixture fixture, long length) {
    return "";
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk()
        .withData(DeviceCapabilities.Data.FAILS)
        .withDiscard(DeviceCapabilities.Discard.FAILS)
        .withWriteZeroes(false);
  }

  @Override
  protected List<BadArguments> badArguments(TargetFixture f) {
    String dev = f.memory(100);
    return List.of(
        new BadArguments(100, dev + " -5", "Invalid device sector"),
        new BadArguments(100, "/no/such/dev 0", "Device lookup failed"),
        new BadArguments(101, dev + " 0", "too small for target"));
  }

  @Test
  void withADeviceItStacksItsLimitsAndStillFails() throws IOException {
    try (DeviceMapper dm = DeviceMapper.create()) {
      dm.registerDevice("d", MemoryBlockDevice.builder("d", 1024).logicalBlockSize(4096).build());
      MappedDevice md = dm.create("e", "0 1024 error d 0");
      assertThat(md.limits().logicalBlockSize()).isEqualTo(4096);
      assertThat(md.table()).isEqualTo("0 1024 error \n");
      assertThat(md.deps()).hasSize(1);
    }
  }

  @Test
  void extraArgumentsAreIgnoredAsTheKernelDoes() throws IOException {
    try (DeviceMapper dm = DeviceMapper.create()) {
      MappedDevice md = dm.create("e", "0 8 error a b c");
      assertThat(md.table()).isEqualTo("0 8 error \n");
    }
  }
}
