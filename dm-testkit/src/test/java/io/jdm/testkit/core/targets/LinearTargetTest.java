package io.jdm.testkit.core.targets;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.MappedDevice;
import io.jdm.testkit.BaseTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.TargetFixture;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

class LinearTargetTest extends BaseTargetTestCase {
  @Override
  protected String targetType() {
    return "linear";
  }

  @Override
  protected String targetArgs(TargetFixture fixture, long length) {
    return fixture.memory(length + 100) + " 100";
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk();
  }

  @Override
  protected List<BadArguments> badArguments(TargetFixture f) {
    String dev = f.memory(1000);
    return List.of(
        new BadArguments(100, "", "Invalid argument count"),
        new BadArguments(100, dev, "Invalid argument count"),
        new BadArguments(100, dev + " 0 0", "Invalid argument count"),
        new BadArguments(100, dev + " -1", "Invalid device sector"),
        new BadArguments(100, dev + " 0x10", "Invalid device sector"),
        new BadArguments(100, dev + " 10a", "Invalid device sector"),
        new BadArguments(100, dev + " 99999999999999999999", "Invalid device sector"),
        new BadArguments(100, "/no/such/device 0", "Device lookup failed"),
        new BadArguments(100, dev + " 901", "too small for target"),
        new BadArguments(1001, dev + " 0", "too small for target"),
        new BadArguments(100, dev + " 1000", "too small for target"));
  }

  @Test
  void tableAndStatusTextAreTheKernels() throws IOException {
    MappedDevice md = (MappedDevice) newDevice(2048);
    assertThat(md.table()).isEqualTo("0 2048 linear 240:0 100\n");
    assertThat(md.status()).isEqualTo("0 2048 linear \n");
  }

  @Test
  void remapsOntoTheOffset() throws IOException {
    MappedDevice md = (MappedDevice) newDevice(2048);
    ByteBuffer data = randomData(1024);
    md.write(data.duplicate(), 512 * 5);
    ByteBuffer under = ByteBuffer.allocate(1024);
    fixture().devices().get(0).read(under, 512 * 105);
    under.flip();
    assertThat(under).isEqualTo(data);
  }
}
