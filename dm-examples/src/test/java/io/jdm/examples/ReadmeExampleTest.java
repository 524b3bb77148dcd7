package io.jdm.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** The Java example on the README's first screen, so the README stays true. */
class ReadmeExampleTest {
  @Test
  void theReadmeExampleWorks() throws IOException {
    try (DeviceMapper dm = DeviceMapper.create()) {
      dm.registerDevice("disk1", MemoryBlockDevice.create("disk1", 20000));
      dm.registerDevice("disk2", MemoryBlockDevice.create("disk2", 10000));
      MappedDevice dev =
          dm.create(
              "vol", "0 10000 linear disk1 0\n" + "10000 10000 striped 2 8 disk1 10000 disk2 5000");
      dev.write(ByteBuffer.wrap(new byte[4096]), 9998L * 512);
      assertThat(dev.table())
          .isEqualTo("0 10000 linear 240:0 0\n10000 10000 striped 2 8 240:0 10000 240:1 5000\n");
      assertThat(dev.info().toString()).startsWith("Name:              vol\n");
      dev.load("0 20000 linear disk1 0");
      dev.resume();
      assertThat(dev.table()).isEqualTo("0 20000 linear 240:0 0\n");
    }
  }
}
