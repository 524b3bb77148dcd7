package io.jdm.testkit.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.BaseBlockDeviceTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.ReferenceModel;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** A memory device with a volatile cache: still a disk, and a power cut loses what was unsynced. */
class MemoryBlockDeviceVolatileCacheTest extends BaseBlockDeviceTestCase {
  private int made;

  @Override
  protected BlockDevice createDevice(long sectors) {
    return MemoryBlockDevice.builder("mem", sectors)
        .chunkSize(4096)
        .direct(made++ % 2 == 1)
        .volatileCache(true)
        .build();
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk();
  }

  private MemoryBlockDevice device() throws IOException {
    MemoryBlockDevice dev = (MemoryBlockDevice) newDevice(256);
    assertThat(dev.hasVolatileCache()).isTrue();
    assertThat(dev.limits().writeCache()).isTrue();
    return dev;
  }

  @Test
  void unflushedWritesAreLostAndFlushedOnesKept() throws IOException {
    for (int round = 0; round < 2; round++) {
      MemoryBlockDevice dev = device();
      ReferenceModel durable = new ReferenceModel(dev.sectors());
      ByteBuffer a = randomData(8192);
      dev.write(a.duplicate(), 1024); // sectors 2..17, three chunks
      dev.flush();
      durable.write(2, a);
      dev.write(randomData(6144), 2048); // sectors 4..15: unsynced over synced data
      dev.write(randomData(512), 64 * 512); // a chunk never synced
      assertThat(dev.dropUnsynced()).isEqualTo(3);
      verify(dev, durable, 0, 128);
      assertThat(dev.dropUnsynced()).isZero();
    }
  }

  @Test
  void fuaWriteIsDurableButNotTheUnsyncedDataAroundIt() throws IOException {
    MemoryBlockDevice dev = device();
    ReferenceModel durable = new ReferenceModel(dev.sectors());
    dev.write(randomData(4096), 0); // chunk 0, unsynced
    ByteBuffer fua = randomData(1024);
    assertThat(writeBio(dev, 2, fua.duplicate(), Bio.FUA)).isEqualTo(BlockStatus.OK);
    durable.write(2, fua);
    ByteBuffer fresh = randomData(512);
    assertThat(writeBio(dev, 40, fresh.duplicate(), Bio.FUA)).isEqualTo(BlockStatus.OK);
    durable.write(40, fresh);
    dev.dropUnsynced();
    verify(dev, durable, 0, 64);
  }

  @Test
  void preflushWriteSyncsWhatCameBefore() throws IOException {
    MemoryBlockDevice dev = device();
    ReferenceModel durable = new ReferenceModel(dev.sectors());
    ByteBuffer before = randomData(512);
    dev.write(before.duplicate(), 0);
    durable.write(0, before);
    assertThat(writeBio(dev, 16, randomData(512), Bio.PREFLUSH)).isEqualTo(BlockStatus.OK);
    dev.dropUnsynced();
    verify(dev, durable, 0, 32);
  }

  @Test
  void unsyncedDiscardAndWriteZeroesComeBack() throws IOException {
    MemoryBlockDevice dev = device();
    ReferenceModel durable = new ReferenceModel(dev.sectors());
    ByteBuffer a = randomData(16384);
    dev.write(a.duplicate(), 0);
    dev.flush();
    durable.write(0, a);
    long allocated = dev.allocatedBytes();
    dev.discard(0, 8192);
    dev.writeZeroes(8192, 1024);
    assertThat(dev.allocatedBytes()).isLessThan(allocated);
    dev.dropUnsynced();
    assertThat(dev.allocatedBytes()).isEqualTo(allocated);
    verify(dev, durable, 0, 32);
  }

  @Test
  void durableCopyLeavesTheDeviceAsItIs() throws IOException {
    MemoryBlockDevice dev = device();
    ReferenceModel durable = new ReferenceModel(dev.sectors());
    ReferenceModel now = new ReferenceModel(dev.sectors());
    ByteBuffer a = randomData(4096);
    dev.write(a.duplicate(), 0);
    dev.flush();
    durable.write(0, a);
    now.write(0, a);
    ByteBuffer b = randomData(1024);
    dev.write(b.duplicate(), 512);
    now.write(1, b);
    ByteBuffer c = randomData(512);
    dev.write(c.duplicate(), 100 * 512);
    now.write(100, c);
    try (MemoryBlockDevice copy = dev.durableCopy("copy")) {
      assertThat(copy.name()).isEqualTo("copy");
      assertThat(copy.sectors()).isEqualTo(dev.sectors());
      assertThat(copy.hasVolatileCache()).isTrue();
      verify(copy, durable, 0, 128);
      assertThat(copy.dropUnsynced()).isZero();
    }
    verify(dev, now, 0, 128);
  }

  @Test
  void withoutAVolatileCacheThereIsNothingToDrop() throws IOException {
    try (MemoryBlockDevice plain = MemoryBlockDevice.create("plain", 8)) {
      assertThat(plain.hasVolatileCache()).isFalse();
      assertThatThrownBy(plain::dropUnsynced)
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("plain has no volatile cache");
      assertThatThrownBy(() -> plain.durableCopy("x")).isInstanceOf(IllegalStateException.class);
    }
  }
}
