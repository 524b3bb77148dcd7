package io.jdm.targets;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.BioTracker;
import io.jdm.testkit.ManualClock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code flakey} up and down intervals and every feature, on a clock the test moves. */
class FlakeyTargetClockTest {
  private final ManualClock clock = new ManualClock();
  private final BioTracker bios = new BioTracker();
  private final Random random = new Random(42);
  private DeviceMapper dm;
  private MemoryBlockDevice mem;
  private CountingBlockDevice disk;

  @BeforeEach
  void setUp() throws IOException {
    dm = DeviceMapper.builder().clock(clock).build();
    mem = MemoryBlockDevice.create("disk", 1024);
    disk = new CountingBlockDevice(mem);
    dm.registerDevice("disk", disk);
    ByteBuffer fill = ByteBuffer.allocate(1024 * 512);
    random.nextBytes(fill.array());
    mem.write(fill, 0);
  }

  @AfterEach
  void tearDown() throws IOException {
    dm.close();
    disk.close();
    bios.assertAllCompletedOnce();
  }

  /** A flakey device over {@code disk} at offset 100, up 2 s, down 3 s, with these features. */
  private MappedDevice flakey(String features) {
    return dm.create("f", "0 512 flakey disk 100 2 3" + (features.isEmpty() ? "" : " " + features));
  }

  private void at(long millis) {
    clock.advance(Duration.ofMillis(millis - clock.nanoTime() / 1_000_000));
  }

  private BlockStatus read(MappedDevice md, long sector, ByteBuffer dst) {
    BioTracker.Completion c = bios.completion();
    md.submit(Bio.read(sector, dst, c));
    return c.await();
  }

  private BlockStatus write(MappedDevice md, long sector, ByteBuffer src, int flags) {
    BioTracker.Completion c = bios.completion();
    md.submit(Bio.write(sector, src, flags, c));
    return c.await();
  }

  private ByteBuffer onDisk(long sector) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(512);
    mem.read(b, (100 + sector) * 512);
    return b.flip();
  }

  private ByteBuffer data() {
    ByteBuffer b = ByteBuffer.allocate(512);
    random.nextBytes(b.array());
    return b;
  }

  private static int differingBytes(ByteBuffer a, ByteBuffer b) {
    int n = 0;
    for (int i = 0; i < a.remaining(); i++) {
      if (a.get(a.position() + i) != b.get(b.position() + i)) {
        n++;
      }
    }
    return n;
  }

  @Test
  void statusTextIsTheKernels() {
    MappedDevice md = flakey("");
    assertThat(md.table()).isEqualTo("0 512 flakey 240:0 100 2 3 2 error_reads error_writes\n");
    assertThat(md.status()).isEqualTo("0 512 flakey \n");
    md.close();
    md = flakey("1 drop_writes");
    assertThat(md.table()).isEqualTo("0 512 flakey 240:0 100 2 3 1 drop_writes\n");
    md.close();
    md =
        flakey(
            "10 error_writes random_write_corrupt 10 corrupt_bio_byte 32 r 1 4096"
                + " random_read_corrupt 500");
    assertThat(md.table())
        .isEqualTo(
            "0 512 flakey 240:0 100 2 3 10 error_writes corrupt_bio_byte 32 r 1 4096"
                + " random_read_corrupt 500 random_write_corrupt 10\n");
    md.load(md.table());
    md.resume();
    assertThat(md.table())
        .isEqualTo(
            "0 512 flakey 240:0 100 2 3 10 error_writes corrupt_bio_byte 32 r 1 4096"
                + " random_read_corrupt 500 random_write_corrupt 10\n");
    md.close();
    md = flakey("0");
    assertThat(md.table()).isEqualTo("0 512 flakey 240:0 100 2 3 2 error_reads error_writes\n");
  }

  @Test
  void upAndDownFollowTheClockToTheSecond() throws IOException {
    MappedDevice md = flakey(""); // no features: reads and writes fail while down
    ByteBuffer buf = ByteBuffer.allocate(512);
    long[] upAt = {0, 1999, 5000, 6999, 10000};
    long[] downAt = {2000, 4999, 7000, 9999};
    for (long t = 0; t <= 10000; t += 1) {
      boolean isUp = t % 5000 < 2000;
      if (t % 500 != 0 && !contains(upAt, t) && !contains(downAt, t)) {
        continue;
      }
      at(t);
      BlockStatus expected = isUp ? BlockStatus.OK : BlockStatus.IOERR;
      assertThat(read(md, 7, buf.clear())).as("read at %d ms", t).isEqualTo(expected);
      assertThat(write(md, 7, data(), 0)).as("write at %d ms", t).isEqualTo(expected);
    }
  }

  private static boolean contains(long[] a, long v) {
    for (long x : a) {
      if (x == v) {
        return true;
      }
    }
    return false;
  }

  @Test
  void dropWritesSucceedsAndWritesNothing() throws IOException {
    MappedDevice md = flakey("1 drop_writes");
    at(2000);
    ByteBuffer before = onDisk(5);
    assertThat(write(md, 5, data(), 0)).isEqualTo(BlockStatus.OK);
    assertThat(onDisk(5)).isEqualTo(before);
    int flushes = disk.count(Bio.Op.FLUSH);
    BioTracker.Completion fl = bios.completion();
    md.submit(Bio.flush(fl));
    assertThat(fl.await()).isEqualTo(BlockStatus.OK);
    BioTracker.Completion disc = bios.completion();
    md.submit(Bio.discard(0, 8, disc));
    assertThat(disc.await()).isEqualTo(BlockStatus.OK);
    assertThat(disk.count(Bio.Op.FLUSH)).as("flush dropped").isEqualTo(flushes);
    assertThat(disk.count(Bio.Op.DISCARD)).as("discard dropped").isZero();
    assertThat(onDisk(0)).as("discard dropped").isNotEqualTo(ByteBuffer.allocate(512));
    ByteBuffer got = ByteBuffer.allocate(512);
    assertThat(read(md, 5, got)).as("reads work with drop_writes alone").isEqualTo(BlockStatus.OK);
    assertThat(got).isEqualTo(before);
    at(5000);
    ByteBuffer d = data();
    assertThat(write(md, 5, d.duplicate(), 0)).isEqualTo(BlockStatus.OK);
    assertThat(onDisk(5)).isEqualTo(d);
  }

  @Test
  void errorWritesFailsWritesAndLetsReadsThrough() throws IOException {
    MappedDevice md = flakey("1 error_writes");
    at(3000);
    ByteBuffer before = onDisk(9);
    assertThat(write(md, 9, data(), 0)).isEqualTo(BlockStatus.IOERR);
    assertThat(onDisk(9)).isEqualTo(before);
    BioTracker.Completion fl = bios.completion();
    md.submit(Bio.flush(fl));
    assertThat(fl.await()).isEqualTo(BlockStatus.IOERR);
    assertThat(read(md, 9, ByteBuffer.allocate(512))).isEqualTo(BlockStatus.OK);
  }

  @Test
  void errorReadsFailsReadsAndLetsWritesThrough() throws IOException {
    MappedDevice md = flakey("1 error_reads");
    at(2500);
    ByteBuffer d = data();
    assertThat(write(md, 9, d.duplicate(), 0)).isEqualTo(BlockStatus.OK);
    assertThat(onDisk(9)).isEqualTo(d);
    assertThat(read(md, 9, ByteBuffer.allocate(512))).isEqualTo(BlockStatus.IOERR);
  }

  @Test
  void corruptBioByteOnReadsChangesTheReturnedDataOnly() throws IOException {
    MappedDevice md = flakey("5 corrupt_bio_byte 3 r 99 0");
    ByteBuffer expected = onDisk(0);
    ByteBuffer got = ByteBuffer.allocate(4096);
    at(2000);
    assertThat(read(md, 0, got)).isEqualTo(BlockStatus.OK);
    assertThat(got.get(2)).isEqualTo((byte) 99);
    expected.put(2, (byte) 99);
    assertThat(got.slice(0, 512)).isEqualTo(expected);
    assertThat(onDisk(0).get(2)).as("the disk is not touched").isNotEqualTo((byte) 99);
    at(5000);
    assertThat(read(md, 0, got.clear())).isEqualTo(BlockStatus.OK);
    assertThat(got.get(2)).isEqualTo(onDisk(0).get(2));
  }

  @Test
  void corruptBioByteOnWritesStoresACorruptedCopy() throws IOException {
    MappedDevice md = flakey("5 corrupt_bio_byte 600 w 7 0");
    at(2000);
    ByteBuffer d = ByteBuffer.allocate(1024);
    random.nextBytes(d.array());
    d.put(599, (byte) 1);
    ByteBuffer original = ByteBuffer.allocate(1024).put(0, d, 0, 1024);
    assertThat(write(md, 20, d, 0)).isEqualTo(BlockStatus.OK);
    assertThat(d.clear()).as("the caller's buffer is not touched").isEqualTo(original);
    ByteBuffer stored = ByteBuffer.allocate(1024);
    mem.read(stored, 120 * 512);
    original.put(599, (byte) 7);
    assertThat(stored.flip()).isEqualTo(original);
  }

  @Test
  void corruptBioByteOnlyTouchesBiosWithAllTheFlags() throws IOException {
    MappedDevice md = flakey("5 corrupt_bio_byte 1 w 7 131072"); // REQ_FUA = 1 << 17
    at(2000);
    ByteBuffer plain = data();
    plain.put(0, (byte) 1);
    assertThat(write(md, 30, plain.duplicate(), 0)).isEqualTo(BlockStatus.OK);
    assertThat(onDisk(30)).isEqualTo(plain);
    assertThat(write(md, 31, plain.duplicate(), Bio.FUA)).isEqualTo(BlockStatus.OK);
    assertThat(onDisk(31).get(0)).isEqualTo((byte) 7);
  }

  @Test
  void aCorruptByteBeyondTheBioLeavesItAlone() throws IOException {
    MappedDevice md = flakey("5 corrupt_bio_byte 513 r 1 0");
    at(2000);
    ByteBuffer got = ByteBuffer.allocate(512);
    assertThat(read(md, 40, got)).isEqualTo(BlockStatus.OK);
    assertThat(got).isEqualTo(onDisk(40));
  }

  @Test
  void randomCorruptionChangesAtMostOneByte() throws IOException {
    MappedDevice md = flakey("4 random_read_corrupt 1000000000 random_write_corrupt 1000000000");
    at(2000);
    int changedReads = 0;
    int changedWrites = 0;
    for (int i = 0; i < 200; i++) {
      ByteBuffer got = ByteBuffer.allocate(512);
      assertThat(read(md, i, got)).isEqualTo(BlockStatus.OK);
      int diff = differingBytes(got, onDisk(i));
      assertThat(diff).isLessThanOrEqualTo(1);
      changedReads += diff;
      ByteBuffer d = data();
      assertThat(write(md, 200 + i, d.duplicate(), 0)).isEqualTo(BlockStatus.OK);
      diff = differingBytes(d, onDisk(200 + i));
      assertThat(diff).isLessThanOrEqualTo(1);
      changedWrites += diff;
    }
    // a random byte equals the old one 1 time in 256: 200 tries all missing is impossible
    assertThat(changedReads).isGreaterThan(150);
    assertThat(changedWrites).isGreaterThan(150);
  }

  /** The bytes random_read_corrupt changes in 100 reads, under a device mapper of this seed. */
  private List<String> corruptionsWithSeed(long seed) {
    ManualClock c = new ManualClock();
    List<String> changes = new ArrayList<>();
    try (DeviceMapper seeded = DeviceMapper.builder().clock(c).seed(seed).build()) {
      seeded.registerDevice("disk", mem);
      MappedDevice md =
          seeded.create("f", "0 512 flakey disk 100 0 1 2 random_read_corrupt 1000000000");
      for (int i = 0; i < 100; i++) {
        ByteBuffer got = ByteBuffer.allocate(512);
        md.read(got, i * 512L);
        ByteBuffer want = onDisk(i);
        for (int b = 0; b < 512; b++) {
          if (got.get(b) != want.get(b)) {
            changes.add(i + ":" + b + "=" + got.get(b));
          }
        }
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return changes;
  }

  @Test
  void randomCorruptionReplaysFromTheDeviceMappersSeed() {
    List<String> first = corruptionsWithSeed(42);
    assertThat(first).hasSizeGreaterThan(90);
    assertThat(corruptionsWithSeed(42)).isEqualTo(first);
    assertThat(corruptionsWithSeed(43)).isNotEqualTo(first);
  }

  @Test
  void aZeroDownIntervalIsNeverDown() {
    MappedDevice md = dm.create("f", "0 512 flakey disk 100 1 0");
    for (int s = 0; s < 20; s++) {
      at(s * 1000L + 999);
      assertThat(read(md, 0, ByteBuffer.allocate(512))).isEqualTo(BlockStatus.OK);
    }
  }

  @Test
  void aZeroUpIntervalIsAlwaysDown() {
    MappedDevice md = dm.create("f", "0 512 flakey disk 100 0 1");
    for (int s = 0; s < 5; s++) {
      at(s * 1000L);
      assertThat(read(md, 0, ByteBuffer.allocate(512))).isEqualTo(BlockStatus.IOERR);
    }
  }

  @Test
  void theIntervalsRestartWithANewTable() {
    MappedDevice md = flakey("");
    at(2000);
    assertThat(read(md, 0, ByteBuffer.allocate(512))).isEqualTo(BlockStatus.IOERR);
    md.load(md.table());
    md.resume();
    assertThat(read(md, 0, ByteBuffer.allocate(512))).isEqualTo(BlockStatus.OK);
    at(4000);
    assertThat(read(md, 0, ByteBuffer.allocate(512))).isEqualTo(BlockStatus.IOERR);
  }
}
