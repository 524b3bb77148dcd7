package io.jdm.testkit.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.BlockDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.BaseBlockDeviceTestCase;
import io.jdm.testkit.DeviceCapabilities;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class MemoryBlockDeviceTest extends BaseBlockDeviceTestCase {
  @Override
  protected BlockDevice createDevice(long sectors) {
    return MemoryBlockDevice.builder("mem", sectors).chunkSize(4096).build();
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk();
  }

  @Test
  void readsOfUnwrittenChunksAllocateNothing() throws IOException {
    MemoryBlockDevice dev = (MemoryBlockDevice) newDevice();
    dev.read(ByteBuffer.allocate(65536), 0);
    assertThat(dev.allocatedBytes()).isZero();
    dev.write(ByteBuffer.allocate(512), 4096);
    assertThat(dev.allocatedBytes()).isEqualTo(4096);
  }

  @Test
  void discardGivesWholeChunksBack() throws IOException {
    MemoryBlockDevice dev = (MemoryBlockDevice) newDevice();
    dev.write(ByteBuffer.allocate(16384), 0);
    assertThat(dev.allocatedBytes()).isEqualTo(16384);
    dev.discard(2048, 8192); // [2048, 10240): chunk 1 whole, chunks 0 and 2 in part
    assertThat(dev.allocatedBytes()).isEqualTo(12288);
    dev.writeZeroes(0, 16384);
    assertThat(dev.allocatedBytes()).isZero();
  }

  @Test
  void sparseDeviceLargerThanMemory() throws IOException {
    // 1 TiB: only the chunk directory is allocated
    MemoryBlockDevice dev = MemoryBlockDevice.create("huge", 1L << 31);
    try {
      ByteBuffer b = ByteBuffer.allocate(512);
      b.put(0, (byte) 42);
      dev.write(b, dev.size() - 512);
      ByteBuffer r = ByteBuffer.allocate(512);
      dev.read(r, dev.size() - 512);
      assertThat(r.get(0)).isEqualTo((byte) 42);
      assertThat(dev.allocatedBytes()).isEqualTo(64 * 1024);
    } finally {
      dev.close();
    }
  }
}
