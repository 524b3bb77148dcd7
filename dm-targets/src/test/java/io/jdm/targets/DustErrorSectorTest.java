package io.jdm.targets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.jdm.core.BlockIOException;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** A long read over a dust bad block names the bad block's sector, not the read's first. */
class DustErrorSectorTest {
  @Test
  void aBadBlockInALongReadIsNamed() throws IOException {
    try (DeviceMapper dm = DeviceMapper.create();
        MemoryBlockDevice disk = MemoryBlockDevice.create("disk", 1024)) {
      dm.registerDevice("disk", disk);
      // blocks of 8 sectors counted on disk; the target starts at disk sector 8 (block 1)
      MappedDevice dust = dm.create("dusty", "0 256 dust disk 8 4096");
      dust.message(0, "addbadblock", "3");
      dust.message(0, "enable");
      BlockIOException e =
          catchThrowableOfType(
              BlockIOException.class, () -> dust.read(ByteBuffer.allocate(64 * 512), 0));
      // disk block 3 = disk sectors 24..31 = dusty sectors 16..23
      assertThat(e.sector()).isEqualTo(16);
      assertThat(e).hasMessage("I/O error, dev dusty, sector 16 (read of 64 sectors at 0)");
    }
  }
}
