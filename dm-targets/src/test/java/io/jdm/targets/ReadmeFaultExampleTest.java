package io.jdm.targets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.BlockIOException;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.DeviceMapperExtension;
import io.jdm.testkit.ManualClock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The README's extension and jdm-fault example, with a small append-only log as the code. */
@ExtendWith(DeviceMapperExtension.class)
class ReadmeFaultExampleTest {
  @Test
  void survivesTheThirdWriteFailing(
      DeviceMapper dm, ManualClock clock, DeviceMapperExtension.Seed seed) throws IOException {
    try (MemoryBlockDevice disk =
        MemoryBlockDevice.builder("disk", 2048).volatileCache(true).build()) {
      dm.registerDevice("disk", disk);
      MappedDevice dev = dm.create("log", "0 2048 jdm-fault disk 0 2 fail_nth_write 3");
      try (FileChannel log = dev.asFileChannel()) {
        log.write(ByteBuffer.wrap(new byte[512]), 0);
        log.write(ByteBuffer.wrap(new byte[512]), 512);
        log.force(true); // records 1 and 2 are durable
        assertThatThrownBy(() -> log.write(ByteBuffer.wrap(new byte[] {7}), 1024))
            .isInstanceOf(BlockIOException.class)
            .hasMessageContaining("sector 2");
        ByteBuffer fourth = ByteBuffer.allocate(512);
        fourth.put(0, (byte) 9);
        log.write(fourth, 1536); // not flushed
      }
      disk.dropUnsynced(); // power cut: what was not flushed is gone
      ByteBuffer back = ByteBuffer.allocate(512);
      disk.read(back, 1536);
      assertThat(back.get(0)).isZero();
      assertThat(dev.status()).isEqualTo("0 2048 jdm-fault 1 4 0 1\n");
      dev.remove();
    }
    assertThat(seed.value()).isEqualTo(dm.seed());
    assertThat(dm.clock()).isSameAs(clock);
  }
}
