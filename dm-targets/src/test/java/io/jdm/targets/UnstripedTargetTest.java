package io.jdm.targets;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.BaseChunkedTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.DeviceCapabilities.Discard;
import io.jdm.testkit.TargetFixture;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code unstriped}: stripe 1 of 3 over one memory device, plus its relation to {@code striped}.
 */
class UnstripedTargetTest extends BaseChunkedTargetTestCase {
  @Override
  protected String targetType() {
    return "unstriped";
  }

  @Override
  protected String targetArgs(TargetFixture f, long length, int chunk) {
    return "3 " + chunk + " 1 " + f.memory(3 * length + chunk + 16) + " 16";
  }

  @Override
  protected DeviceCapabilities capabilities() {
    // The kernel sets no discard bios for unstriped, so discards are not supported; nor flush bios
    // (dm-unstripe.c leaves num_flush_bios 0), so a flush never reaches a disk with a volatile
    // cache and flushed writes can be lost in a power cut, there as here.
    return DeviceCapabilities.disk()
        .withDiscard(Discard.UNSUPPORTED)
        .withWriteZeroes(false)
        .withDurableFlush(false);
  }

  @Override
  protected List<BadArguments> badArguments(TargetFixture f) {
    String d = f.memory(4096);
    return List.of(
        new BadArguments(64, "", "Invalid number of arguments"),
        new BadArguments(64, "2 8 0 " + d, "Invalid number of arguments"),
        new BadArguments(64, "2 8 0 " + d + " 0 0", "Invalid number of arguments"),
        new BadArguments(64, "0 8 0 " + d + " 0", "Invalid stripe count"),
        new BadArguments(64, "x 8 0 " + d + " 0", "Invalid stripe count"),
        new BadArguments(64, "4294967296 8 0 " + d + " 0", "Invalid stripe count"),
        new BadArguments(64, "2 0 0 " + d + " 0", "Invalid chunk_size"),
        new BadArguments(64, "2 -8 0 " + d + " 0", "Invalid chunk_size"),
        new BadArguments(64, "2 8 -1 " + d + " 0", "Invalid stripe number"),
        new BadArguments(
            64, "2 8 3 " + d + " 0", "Please provide stripe between [0, # of stripes]"),
        new BadArguments(64, "2 8 0 /no/such/dev 0", "Couldn't get striped device"),
        new BadArguments(64, "2 8 0 " + d + " 0x10", "Invalid striped device offset"),
        new BadArguments(60, "2 8 0 " + d + " 0", "Target length not divisible by chunk size"),
        new BadArguments(64, "2 8 0 " + d + " 4090", "too small for target"));
  }

  @Test
  void tableAndStatusTextAreTheKernels() throws IOException {
    try (DeviceMapper dm = DeviceMapper.create()) {
      dm.registerDevice("raid0", MemoryBlockDevice.create("raid0", 4096));
      MappedDevice md = dm.create("u", "0 1024 unstriped 4 16 2 raid0 100");
      assertThat(md.table()).isEqualTo("0 1024 unstriped 4 16 2 240:0 100\n");
      assertThat(md.status()).isEqualTo("0 1024 unstriped \n");
      assertThat(md.limits().chunkSectors()).isEqualTo(16);
    }
  }

  /** The kernel prints the stripe count and number with {@code %d}: as signed 32-bit ints. */
  @Test
  void stripeNumbersPrintSignedAsInTheKernel() throws IOException {
    try (DeviceMapper dm = DeviceMapper.create()) {
      dm.registerDevice("raid0", MemoryBlockDevice.create("raid0", 4096));
      MappedDevice md = dm.create("u", "0 64 unstriped 3000000000 8 2999999999 raid0 0");
      assertThat(md.table()).isEqualTo("0 64 unstriped -1294967296 8 -1294967297 240:0 0\n");
      md.close();
    }
  }

  /** The kernel accepts a stripe number equal to the stripe count (an off-by-one it keeps). */
  @Test
  void stripeNumberEqualToCountIsAcceptedAsInTheKernel() throws IOException {
    try (DeviceMapper dm = DeviceMapper.create()) {
      dm.registerDevice("raid0", MemoryBlockDevice.create("raid0", 4096));
      MappedDevice md = dm.create("u", "0 64 unstriped 2 8 2 raid0 0");
      assertThat(md.table()).isEqualTo("0 64 unstriped 2 8 2 240:0 0\n");
      md.close();
    }
  }

  /** Each unstriped leg of a striped device reads back exactly the member device under it. */
  @Test
  void unstripedLegsOfAStripedSetAreItsMembers() throws IOException {
    try (DeviceMapper dm = DeviceMapper.create()) {
      MemoryBlockDevice[] members = new MemoryBlockDevice[3];
      for (int i = 0; i < 3; i++) {
        members[i] = MemoryBlockDevice.create("m" + i, 256);
        dm.registerDevice("m" + i, members[i]);
      }
      MappedDevice striped = dm.create("s", "0 768 striped 3 8 m0 0 m1 0 m2 0");
      ByteBuffer all = randomData(768 * 512);
      striped.write(all.duplicate(), 0);
      for (int i = 0; i < 3; i++) {
        MappedDevice leg = dm.create("u" + i, "0 256 unstriped 3 8 " + i + " s 0");
        ByteBuffer viaLeg = ByteBuffer.allocate(256 * 512);
        leg.read(viaLeg, 0);
        ByteBuffer member = ByteBuffer.allocate(256 * 512);
        members[i].read(member, 0);
        assertThat(viaLeg.flip()).as("leg %d", i).isEqualTo(member.flip());
        leg.close();
      }
      striped.close();
    }
  }

  @Test
  void mapsRowByRowOntoTheOffset() throws IOException {
    try (DeviceMapper dm = DeviceMapper.create()) {
      MemoryBlockDevice raid = MemoryBlockDevice.create("raid0", 4096);
      dm.registerDevice("raid0", raid);
      MappedDevice md = dm.create("u", "0 48 unstriped 3 8 2 raid0 100");
      for (int s = 0; s < 48; s++) {
        ByteBuffer one = ByteBuffer.allocate(512);
        one.putInt(0, s + 1);
        md.write(one, s * 512L);
      }
      for (int s = 0; s < 48; s++) {
        long expected = 100 + s + (s / 8) * 2 * 8 + 2 * 8;
        ByteBuffer got = ByteBuffer.allocate(512);
        raid.read(got, expected * 512);
        assertThat(got.getInt(0)).as("sector %d at %d", s, expected).isEqualTo(s + 1);
      }
    }
  }
}
