package io.jdm.testkit.core.targets;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.TargetFixture;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Three stripes (the division path for the stripe index) over memory devices. */
class StripedTargetTest extends StripedSuite {
  @Override
  int stripes() {
    return 3;
  }

  @Override
  long offset(int i) {
    return 8L * i;
  }

  @Override
  protected List<BadArguments> badArguments(TargetFixture f) {
    String a = f.memory(1000);
    String b = f.memory(1000);
    return List.of(
        new BadArguments(64, "", "Not enough arguments"),
        new BadArguments(64, "2", "Not enough arguments"),
        new BadArguments(64, "0 8 " + a + " 0", "Invalid stripe count"),
        new BadArguments(64, "-2 8 " + a + " 0 " + b + " 0", "Invalid stripe count"),
        new BadArguments(64, "two 8 " + a + " 0 " + b + " 0", "Invalid stripe count"),
        new BadArguments(64, "2 0 " + a + " 0 " + b + " 0", "Invalid chunk_size"),
        new BadArguments(64, "2 0x8 " + a + " 0 " + b + " 0", "Invalid chunk_size"),
        new BadArguments(64, "2 4294967296 " + a + " 0 " + b + " 0", "Invalid chunk_size"),
        new BadArguments(
            63, "2 8 " + a + " 0 " + b + " 0", "Target length not divisible by number of stripes"),
        new BadArguments(
            64, "2 7 " + a + " 0 " + b + " 0", "Target length not divisible by chunk size"),
        new BadArguments(64, "2 8 " + a + " 0", "Not enough destinations specified"),
        new BadArguments(
            64, "2 8 " + a + " 0 " + b + " 0 " + a + " 0", "Not enough destinations specified"),
        new BadArguments(64, "2 8 " + a + " x " + b + " 0", "Couldn't parse stripe destination"),
        new BadArguments(64, "2 8 " + a + " 0 /no/such 0", "Couldn't parse stripe destination"),
        new BadArguments(64, "2 8 " + a + " 0 " + b + " 990", "too small for target"));
  }

  @Test
  void tableAndStatusTextAreTheKernels() throws IOException {
    try (DeviceMapper dm = DeviceMapper.create()) {
      dm.registerDevice("a", MemoryBlockDevice.create("a", 1024));
      dm.registerDevice("b", MemoryBlockDevice.create("b", 1024));
      MappedDevice md = dm.create("s", "0 1024 striped 2 16 a 0 b 512");
      assertThat(md.table()).isEqualTo("0 1024 striped 2 16 240:0 0 240:1 512\n");
      assertThat(md.status()).isEqualTo("0 1024 striped 2 240:0 240:1 1 AA\n");
      assertThat(md.limits().chunkSectors()).isEqualTo(16);
      assertThat(md.limits().ioMin()).isEqualTo(16 * 512);
      assertThat(md.limits().ioOpt()).isEqualTo(2 * 16 * 512);
    }
  }

  @Test
  void chunksGoRoundRobin() throws IOException {
    try (DeviceMapper dm = DeviceMapper.create()) {
      MemoryBlockDevice a = MemoryBlockDevice.create("a", 1024);
      MemoryBlockDevice b = MemoryBlockDevice.create("b", 1024);
      dm.registerDevice("a", a);
      dm.registerDevice("b", b);
      MappedDevice md = dm.create("s", "0 64 striped 2 8 a 100 b 200");
      for (int chunk = 0; chunk < 8; chunk++) {
        ByteBuffer one = ByteBuffer.allocate(512);
        one.put(0, (byte) (chunk + 1));
        md.write(one, (chunk * 8L + 3) * 512);
      }
      for (int chunk = 0; chunk < 8; chunk++) {
        BlockDevice leg = chunk % 2 == 0 ? a : b;
        long base = chunk % 2 == 0 ? 100 : 200;
        ByteBuffer got = ByteBuffer.allocate(512);
        leg.read(got, (base + (chunk / 2) * 8L + 3) * 512);
        assertThat(got.get(0)).as("chunk %d", chunk).isEqualTo((byte) (chunk + 1));
      }
    }
  }

  @Test
  void aFailingStripeShowsInStatusAndRaisesEvents() throws IOException {
    try (DeviceMapper dm = DeviceMapper.create()) {
      dm.registerDevice("a", MemoryBlockDevice.create("a", 1024));
      MappedDevice broken = dm.create("broken", "0 1024 error");
      MappedDevice md = dm.create("s", "0 128 striped 2 8 a 0 broken 0");
      int events = md.eventNr();
      ByteBuffer buf = ByteBuffer.allocate(512);
      BlockStatus[] status = new BlockStatus[1];
      md.submit(Bio.read(8, buf, b -> status[0] = b.status())); // chunk 1: the broken stripe
      assertThat(status[0]).isEqualTo(BlockStatus.IOERR);
      assertThat(md.status()).isEqualTo("0 128 striped 2 240:0 253:0 1 AD\n");
      assertThat(md.eventNr()).isEqualTo(events + 1);
      for (int i = 0; i < 20; i++) {
        md.submit(Bio.read(8, buf, b -> {}));
      }
      assertThat(md.eventNr()).as("events stop at 15 errors").isEqualTo(events + 14);
      md.submit(Bio.read(0, buf, b -> status[0] = b.status()));
      assertThat(status[0]).isEqualTo(BlockStatus.OK);
      md.close();
      broken.close();
    }
  }

  @Test
  void discardGoesToEachStripeOnce() throws IOException {
    try (DeviceMapper dm = DeviceMapper.create()) {
      MemoryBlockDevice a = MemoryBlockDevice.builder("a", 1024).chunkSize(512).build();
      MemoryBlockDevice b = MemoryBlockDevice.builder("b", 1024).chunkSize(512).build();
      dm.registerDevice("a", a);
      dm.registerDevice("b", b);
      MappedDevice md = dm.create("s", "0 128 striped 2 8 a 0 b 0");
      md.write(ByteBuffer.allocate(128 * 512), 0);
      assertThat(a.allocatedBytes() + b.allocatedBytes()).isEqualTo(128 * 512);
      md.discard(4 * 512, 40 * 512); // sectors 4..43: parts of chunks 0 and 5, chunks 1-4
      // a holds chunks 0,2,4 → discarded 4..7 of chunk 0, all of 2 and 4; b holds 1,3 whole, 5 in
      // part
      assertThat(a.allocatedBytes()).isEqualTo((64 - 4 - 8 - 8) * 512);
      assertThat(b.allocatedBytes()).isEqualTo((64 - 8 - 8 - 4) * 512);
    }
  }
}
