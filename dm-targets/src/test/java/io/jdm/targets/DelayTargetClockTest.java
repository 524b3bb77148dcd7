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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code delay} timing, routing, status and suspend, on a clock the test moves. */
class DelayTargetClockTest {
  private final ManualClock clock = new ManualClock();
  private final BioTracker bios = new BioTracker();
  private DeviceMapper dm;
  private CountingBlockDevice r;
  private CountingBlockDevice w;
  private CountingBlockDevice f;

  @BeforeEach
  void setUp() {
    dm = DeviceMapper.builder().clock(clock).build();
    r = new CountingBlockDevice(MemoryBlockDevice.create("r", 1024));
    w = new CountingBlockDevice(MemoryBlockDevice.create("w", 1024));
    f = new CountingBlockDevice(MemoryBlockDevice.create("f", 1024));
    dm.registerDevice("r", r);
    dm.registerDevice("w", w);
    dm.registerDevice("f", f);
  }

  @AfterEach
  void tearDown() throws IOException {
    dm.close();
    r.close();
    w.close();
    f.close();
    bios.assertAllCompletedOnce();
  }

  private static void advanceMillis(ManualClock c, long ms) {
    c.advance(Duration.ofMillis(ms));
  }

  private BioTracker.Completion write(MappedDevice md, long sector, byte fill) {
    ByteBuffer b = ByteBuffer.allocate(512);
    b.put(0, fill);
    BioTracker.Completion c = bios.completion();
    md.submit(Bio.write(sector, b, c));
    return c;
  }

  private BioTracker.Completion read(MappedDevice md, long sector) {
    BioTracker.Completion c = bios.completion();
    md.submit(Bio.read(sector, ByteBuffer.allocate(512), c));
    return c;
  }

  private BioTracker.Completion flush(MappedDevice md) {
    BioTracker.Completion c = bios.completion();
    md.submit(Bio.flush(c));
    return c;
  }

  @Test
  void tableAndStatusTextOfTheThreeForms() {
    MappedDevice three = dm.create("d3", "0 100 delay r 10 200");
    assertThat(three.table()).isEqualTo("0 100 delay 240:0 10 200\n");
    assertThat(three.status()).isEqualTo("0 100 delay 0 0 0\n");
    MappedDevice six = dm.create("d6", "0 100 delay r 10 200 w 20 0");
    assertThat(six.table()).isEqualTo("0 100 delay 240:0 10 200 240:1 20 0\n");
    MappedDevice nine = dm.create("d9", "0 100 delay r 10 200 w 20 0 f 30 5");
    assertThat(nine.table()).isEqualTo("0 100 delay 240:0 10 200 240:1 20 0 240:2 30 5\n");
    for (MappedDevice md : List.of(three, six, nine)) {
      md.load(md.table());
      md.resume();
      md.close();
    }
  }

  @Test
  void aBioWaitsExactlyItsDelayAndTheStatusCountsHeldBios() {
    MappedDevice md = dm.create("d", "0 100 delay r 0 100");
    BioTracker.Completion wr = write(md, 5, (byte) 1);
    BioTracker.Completion rd = read(md, 6);
    BioTracker.Completion fl = flush(md);
    assertThat(md.status()).isEqualTo("0 100 delay 1 1 1\n");
    advanceMillis(clock, 99);
    assertThat(wr.isDone() || rd.isDone() || fl.isDone()).as("released early").isFalse();
    assertThat(r.count(Bio.Op.WRITE)).isZero();
    advanceMillis(clock, 1);
    assertThat(wr.await()).isEqualTo(BlockStatus.OK);
    assertThat(rd.await()).isEqualTo(BlockStatus.OK);
    assertThat(fl.await()).isEqualTo(BlockStatus.OK);
    assertThat(md.status()).isEqualTo("0 100 delay 0 0 0\n");
    assertThat(r.count(Bio.Op.WRITE)).isEqualTo(1);
    assertThat(r.count(Bio.Op.FLUSH)).isEqualTo(1);
    assertThat(clock.pendingTasks()).isZero();
  }

  @Test
  void eachClassGoesToItsDeviceWithItsDelay() throws IOException {
    MappedDevice md = dm.create("d", "0 100 delay r 0 300 w 100 200 f 200 100");
    BioTracker.Completion rd = read(md, 1);
    BioTracker.Completion wr = write(md, 2, (byte) 7);
    BioTracker.Completion fl = flush(md);
    BioTracker.Completion disc = bios.completion();
    md.submit(Bio.discard(10, 8, disc));
    assertThat(md.status()).isEqualTo("0 100 delay 1 2 1\n");
    advanceMillis(clock, 100);
    assertThat(fl.await()).isEqualTo(BlockStatus.OK);
    assertThat(rd.isDone() || wr.isDone() || disc.isDone()).isFalse();
    advanceMillis(clock, 100);
    assertThat(wr.await()).isEqualTo(BlockStatus.OK);
    assertThat(disc.await()).isEqualTo(BlockStatus.OK);
    assertThat(rd.isDone()).isFalse();
    advanceMillis(clock, 100);
    assertThat(rd.await()).isEqualTo(BlockStatus.OK);
    assertThat(r.count(Bio.Op.READ)).isEqualTo(1);
    assertThat(w.count(Bio.Op.WRITE)).isEqualTo(1);
    assertThat(w.count(Bio.Op.DISCARD)).isEqualTo(1);
    assertThat(f.count(Bio.Op.FLUSH)).isEqualTo(1);
    assertThat(r.count(Bio.Op.WRITE) + f.count(Bio.Op.WRITE) + w.count(Bio.Op.FLUSH)).isZero();
    ByteBuffer got = ByteBuffer.allocate(512);
    w.read(got, (100 + 2) * 512);
    assertThat(got.get(0)).isEqualTo((byte) 7);
  }

  @Test
  void aZeroDelayPassesStraightThrough() {
    MappedDevice md = dm.create("d", "0 100 delay r 0 0 w 0 50");
    BioTracker.Completion rd = read(md, 1);
    assertThat(rd.isDone()).as("a read with no delay completes at once").isTrue();
    BioTracker.Completion wr = write(md, 1, (byte) 1);
    assertThat(wr.isDone()).isFalse();
    advanceMillis(clock, 50);
    assertThat(wr.await()).isEqualTo(BlockStatus.OK);
  }

  @Test
  void biosWithTheSameDelayKeepTheirOrder() throws IOException {
    MappedDevice md = dm.create("d", "0 100 delay r 0 10");
    List<BioTracker.Completion> writes = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      writes.add(write(md, 3, (byte) i));
      advanceMillis(clock, i % 3 == 0 ? 1 : 0);
    }
    advanceMillis(clock, 10);
    for (BioTracker.Completion c : writes) {
      assertThat(c.await()).isEqualTo(BlockStatus.OK);
    }
    ByteBuffer got = ByteBuffer.allocate(512);
    r.read(got, 3 * 512);
    assertThat(got.get(0)).as("the last write submitted lands last").isEqualTo((byte) 49);
  }

  @Test
  void suspendReleasesHeldBiosAndStopsDelayingUntilResume() {
    MappedDevice md = dm.create("d", "0 100 delay r 0 60000");
    BioTracker.Completion wr = write(md, 1, (byte) 1);
    BioTracker.Completion rd = read(md, 2);
    md.suspend(); // the kernel's presuspend flushes the delayed list
    assertThat(wr.await()).isEqualTo(BlockStatus.OK);
    assertThat(rd.await()).isEqualTo(BlockStatus.OK);
    assertThat(md.status()).isEqualTo("0 100 delay 0 0 0\n");
    assertThat(clock.pendingTasks()).as("timer cancelled").isZero();
    md.resume();
    BioTracker.Completion after = write(md, 1, (byte) 2);
    assertThat(after.isDone()).as("delaying again after resume").isFalse();
    advanceMillis(clock, 60000);
    assertThat(after.await()).isEqualTo(BlockStatus.OK);
  }

  @Test
  void removingTheDeviceWaitsForNothingHeldForever() {
    MappedDevice md = dm.create("d", "0 100 delay r 0 1000000");
    BioTracker.Completion wr = write(md, 1, (byte) 1);
    dm.remove("d");
    assertThat(wr.await()).isEqualTo(BlockStatus.OK);
    assertThat(dm.list()).isEmpty();
    assertThat(dm.openDeviceCount()).isZero();
  }
}
