package io.jdm.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.AllocationMap.Extent;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link AllocationMap} of memory devices, linear tables, and devices that cannot say. */
class AllocationMapTest {
  private final DeviceMapper dm = DeviceMapper.create();
  private final MemoryBlockDevice mem =
      MemoryBlockDevice.builder("mem", 1024).chunkSize(4096).build(); // 128 chunks of 8 sectors

  @AfterEach
  void close() throws Exception {
    dm.close();
    mem.close();
  }

  private void write(long sector, int sectors) throws Exception {
    mem.write(ByteBuffer.allocate(sectors * 512), sector * 512);
  }

  @Test
  void memoryDeviceReportsChunksNeverWrittenAsHoles() throws Exception {
    assertThat(mem.extents(0, 1024)).containsExactly(Extent.hole(1024));
    write(8, 1); // chunk 1
    write(24, 16); // chunks 3 and 4
    assertThat(mem.extents(0, 1024))
        .containsExactly(
            Extent.hole(8), Extent.data(8), Extent.hole(8), Extent.data(16), Extent.hole(984));
    // from the middle of a chunk, clipped at the end of the range
    assertThat(mem.extents(10, 20)).containsExactly(Extent.data(6), Extent.hole(8), Extent.data(6));
    // a discard of whole chunks gives them back; of part of one keeps it (zeroed) allocated
    mem.discard(24 * 512, 8 * 512);
    mem.discard(36 * 512, 512);
    assertThat(mem.extents(16, 24)).containsExactly(Extent.hole(16), Extent.data(8));
  }

  @Test
  void largeDeviceWithNothingWrittenIsOneHole() throws Exception {
    try (MemoryBlockDevice big = MemoryBlockDevice.create("big", 1L << 31)) { // 1 TiB
      assertThat(big.extents(0, 1L << 31)).containsExactly(Extent.hole(1L << 31));
    }
  }

  @Test
  void linearTablesPassTheirDevicesAllocationOn() throws Exception {
    write(0, 8);
    write(512, 8);
    dm.registerDevice("mem", mem);
    // the second half of mem, then its first half, then a zero target (which cannot say)
    MappedDevice md = dm.create("v", "0 512 linear mem 512\n512 512 linear mem 0\n1024 8 zero");
    assertThat(md.extents(0, 1032))
        .containsExactly(
            Extent.data(8), Extent.hole(504), Extent.data(8), Extent.hole(504), Extent.data(8));
    try (BlockDevice handle = md.open()) {
      assertThat(AllocationMap.extents(handle, 500, 20))
          .containsExactly(Extent.hole(12), Extent.data(8));
    }
    // a device that does not implement it is data; ranges are clipped to the device
    assertThat(AllocationMap.extents(NullBlockDevice.create("null", 64), 60, 100))
        .containsExactly(Extent.data(4));
    assertThat(AllocationMap.extents(mem, 1024, 8)).isEmpty();
  }

  @Test
  void clipAndAppend() {
    List<Extent> l = new java.util.ArrayList<>();
    AllocationMap.append(l, Extent.hole(2));
    AllocationMap.append(l, Extent.hole(3));
    AllocationMap.append(l, Extent.data(4));
    assertThat(l).containsExactly(Extent.hole(5), Extent.data(4));
    assertThat(AllocationMap.clip(l, 6)).containsExactly(Extent.hole(5), Extent.data(1));
  }
}
