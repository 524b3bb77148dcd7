package io.jdm.targets.multipath;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.Bio;
import io.jdm.core.BlockIOException;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.SuspendMode;
import io.jdm.core.TargetRegistry;
import io.jdm.testkit.BioTracker;
import io.jdm.testkit.ManualClock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What happens to I/O when paths fail: retried on another path, returned when the error is not the
 * path's, failed or held when no path is left, and what suspends and the queueing messages do to
 * held bios. Paths a (240:0) and b (240:1) on one store; time is a manual clock.
 */
class MultipathFailoverTest {
  private final BioTracker bios = new BioTracker();
  private final ManualClock clock = new ManualClock();
  private DeviceMapper dm;
  private MemoryBlockDevice store;
  private PathDevice a;
  private PathDevice b;

  @BeforeEach
  void paths() {
    dm = DeviceMapper.builder().clock(clock).build();
    store = MemoryBlockDevice.create("store", 1024);
    a = new PathDevice("a", store, false);
    b = new PathDevice("b", store, false);
    dm.registerDevice("a", a);
    dm.registerDevice("b", b);
  }

  @AfterEach
  void close() throws IOException {
    try {
      bios.assertAllCompletedOnce();
    } finally {
      dm.close();
      store.close();
    }
  }

  private MappedDevice mp(String features, String selector) {
    return dm.create("mp", "0 1024 multipath " + features + " 0 1 1 " + selector + " 0 2 0 a b");
  }

  private static ByteBuffer data(int sectors, int seed) {
    byte[] d = new byte[sectors * 512];
    Arrays.fill(d, (byte) seed);
    return ByteBuffer.wrap(d);
  }

  private byte[] onStore(long sector, int sectors) throws IOException {
    ByteBuffer dst = ByteBuffer.allocate(sectors * 512);
    store.read(dst, sector * 512);
    return dst.array();
  }

  private BioTracker.Completion write(MappedDevice md, long sector, int seed) {
    BioTracker.Completion c = bios.completion();
    md.submit(Bio.write(sector, data(8, seed), c));
    return c;
  }

  private static String status(MappedDevice md) {
    String s = md.status();
    return s.substring("0 1024 multipath ".length(), s.length() - 1);
  }

  /** Waits for work on kmpathd to reach a state (bounded; no timing is asserted). */
  private static void awaitStatus(MappedDevice md, String expected) {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!status(md).equals(expected) && System.nanoTime() < deadline) {
      Thread.yield();
    }
    assertThat(status(md)).isEqualTo(expected);
  }

  @Test
  void aPathErrorFailsThePathAndTheBioIsRetriedOnAnother() throws IOException {
    MappedDevice md = mp("0", "round-robin");
    a.failWith(BlockStatus.TRANSPORT);
    for (int i = 0; i < 8; i++) {
      md.write(data(8, i + 1), i * 8L * 512);
    }
    assertThat(a.failed.get()).as("one bio failed on a, then a was out of use").isEqualTo(1);
    assertThat(b.submitted.get()).isEqualTo(8);
    assertThat(md.eventNr()).isEqualTo(1);
    assertThat(status(md)).isEqualTo("2 0 0 0 1 1 A 0 2 0 240:0 F 1 240:1 A 0 ");
    for (int i = 0; i < 8; i++) {
      assertThat(onStore(i * 8L, 8)).isEqualTo(data(8, i + 1).array());
    }
    // reinstated, round-robin takes it first again (the kernel puts it at the head)
    a.failWith(null);
    md.message(0, "reinstate_path", "a");
    assertThat(md.eventNr()).isEqualTo(2);
    md.read(ByteBuffer.allocate(512), 0);
    assertThat(a.submitted.get()).isEqualTo(2);
    assertThat(status(md)).isEqualTo("2 0 0 0 1 1 A 0 2 0 240:0 A 1 240:1 A 0 ");
  }

  @Test
  void anErrorThatIsNotThePathsIsReturnedAndThePathStays() {
    MappedDevice md = mp("0", "round-robin");
    for (BlockStatus s :
        new BlockStatus[] {
          BlockStatus.MEDIUM,
          BlockStatus.NOSPC,
          BlockStatus.TARGET,
          BlockStatus.PROTECTION,
          BlockStatus.RESV_CONFLICT,
          BlockStatus.NOTSUPP
        }) {
      a.failWith(s);
      b.failWith(s);
      assertThat(write(md, 0, 1).await()).isEqualTo(s);
    }
    assertThat(status(md)).isEqualTo("2 0 0 0 1 1 A 0 2 0 240:0 A 0 240:1 A 0 ");
    assertThat(md.eventNr()).isZero();
  }

  @Test
  void withNoPathLeftAndNoQueueingIoFails() {
    MappedDevice md = mp("0", "queue-length");
    a.failWith(BlockStatus.TIMEOUT);
    b.failWith(BlockStatus.IOERR);
    assertThat(write(md, 0, 1).await()).isEqualTo(BlockStatus.IOERR);
    // the bio failed in end-I/O without another choice of path: the group stays current
    assertThat(status(md)).isEqualTo("2 0 0 0 1 1 A 0 2 1 240:0 F 1 0 240:1 F 1 0 ");
    assertThatThrownBy(() -> md.read(ByteBuffer.allocate(512), 0))
        .isInstanceOf(BlockIOException.class);
    assertThat(a.submitted.get() + b.submitted.get()).isEqualTo(2);
  }

  @Test
  void queueIfNoPathHoldsIoUntilAPathIsReinstatedOrQueueingStops() throws IOException {
    MappedDevice md = mp("1 queue_if_no_path", "round-robin");
    a.failWith(BlockStatus.TRANSPORT);
    b.failWith(BlockStatus.TRANSPORT);
    BioTracker.Completion first = write(md, 0, 7);
    // failed on a, retried on b by kmpathd, failed there too: then it waits
    awaitStatus(md, "2 0 0 0 1 1 E 0 2 0 240:0 F 1 240:1 F 1 ");
    BioTracker.Completion second = write(md, 8, 8);
    assertThat(a.submitted.get() + b.submitted.get())
        .as("each path tried once, then the bios wait without trying again")
        .isEqualTo(2);
    assertThat(first.isDone()).isFalse();
    assertThat(second.isDone()).isFalse();

    b.failWith(null);
    md.message(0, "reinstate_path", "240:1");
    assertThat(first.await()).isEqualTo(BlockStatus.OK);
    assertThat(second.await()).isEqualTo(BlockStatus.OK);
    assertThat(onStore(0, 8)).isEqualTo(data(8, 7).array());
    assertThat(onStore(8, 8)).isEqualTo(data(8, 8).array());

    b.failWith(BlockStatus.TRANSPORT);
    BioTracker.Completion third = write(md, 16, 9);
    assertThat(third.isDone()).isFalse();
    md.message(0, "fail_if_no_path");
    assertThat(third.await()).isEqualTo(BlockStatus.IOERR);
    assertThat(md.table()).contains(" multipath 0 0 1 1 ");
  }

  @Test
  void aFlushingSuspendFailsHeldIoAndQueueingComesBackOnResume() {
    MappedDevice md = mp("1 queue_if_no_path", "round-robin");
    md.message(0, "fail_path", "a");
    md.message(0, "fail_path", "b");
    BioTracker.Completion held = write(md, 0, 1);
    assertThat(held.isDone()).isFalse();
    md.suspend(SuspendMode.FLUSH);
    assertThat(held.await()).isEqualTo(BlockStatus.IOERR);
    assertThat(md.table()).contains(" multipath 0 0 1 1 ");
    md.resume();
    assertThat(md.table()).contains(" multipath 1 queue_if_no_path 0 1 1 ");
    BioTracker.Completion again = write(md, 0, 2);
    assertThat(again.isDone()).isFalse();
    md.message(0, "fail_if_no_path");
    assertThat(again.await()).isEqualTo(BlockStatus.IOERR);
  }

  @Test
  void aNoflushSuspendPushesHeldIoBackAndItWaitsAgainAfterResume() throws IOException {
    MappedDevice md = mp("3 queue_if_no_path queue_mode bio", "service-time");
    md.message(0, "fail_path", "a");
    md.message(0, "fail_path", "b");
    BioTracker.Completion held = write(md, 0, 3);
    md.suspend(SuspendMode.NOFLUSH);
    assertThat(held.isDone()).as("pushed back to the core, not failed").isFalse();
    // bio mode: queueing is off while suspended, as in the kernel
    assertThat(md.table()).contains(" multipath 3 retain_attached_hw_handler queue_mode bio 0 ");
    assertThatThrownBy(() -> md.message(0, "reinstate_path", "a"))
        .hasMessageContaining("suspended");
    md.resume();
    assertThat(held.isDone()).as("replayed, and waiting for a path again").isFalse();
    md.message(0, "reinstate_path", "a");
    assertThat(held.await()).isEqualTo(BlockStatus.OK);
    assertThat(onStore(0, 8)).isEqualTo(data(8, 3).array());
  }

  @Test
  void aBioRetriedDuringAFlushingSuspendGoesDownAnotherPath() throws Exception {
    MappedDevice md = mp("1 queue_if_no_path", "round-robin");
    a.hold(true);
    BioTracker.Completion w = write(md, 0, 5); // round-robin: path a, where it waits
    assertThat(a.heldCount()).isEqualTo(1);
    // only w stays held: a probe below that round-robin sends to a must complete, or the
    // suspend would wait for it for ever (seen when the suspender thread started late)
    a.hold(false);
    Thread suspender = new Thread(() -> md.suspend(SuspendMode.FLUSH));
    suspender.start();
    // new I/O is held once the suspend has started: a NOWAIT probe then answers AGAIN
    long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
    while (true) {
      BioTracker.Completion probe = bios.completion();
      Bio p = Bio.read(512, ByteBuffer.allocate(512), probe);
      p.setFlags(Bio.NOWAIT);
      md.submit(p);
      if (probe.await() == BlockStatus.AGAIN) {
        break;
      }
      assertThat(System.nanoTime()).as("waiting for the suspend").isLessThan(deadline);
      Thread.yield();
    }
    a.failWith(BlockStatus.TRANSPORT);
    a.releaseHeld();
    assertThat(w.await()).as("retried on b, not failed by the suspend").isEqualTo(BlockStatus.OK);
    suspender.join(TimeUnit.MINUTES.toMillis(1));
    assertThat(md.isSuspended()).isTrue();
    md.resume();
    assertThat(onStore(0, 8)).isEqualTo(data(8, 5).array());
    assertThat(status(md)).contains(" 240:0 F 1 240:1 A 0 ");
  }

  @Test
  void requestModeKeepsQueueingThroughANoflushSuspend() {
    MappedDevice md = mp("1 queue_if_no_path", "round-robin");
    md.message(0, "fail_path", "a");
    md.message(0, "fail_path", "b");
    BioTracker.Completion held = write(md, 0, 4);
    md.suspend(SuspendMode.NOFLUSH);
    assertThat(md.table()).contains(" multipath 1 queue_if_no_path 0 ");
    assertThat(held.isDone()).isFalse();
    md.resume();
    md.message(0, "fail_if_no_path");
    assertThat(held.await()).isEqualTo(BlockStatus.IOERR);
  }

  @Test
  void flushesDiscardsAndWriteZeroesGoDownOnePath() {
    MappedDevice md = mp("0", "round-robin");
    BioTracker.Completion f = bios.completion();
    md.submit(Bio.flush(f));
    assertThat(f.await()).isEqualTo(BlockStatus.OK);
    int before = a.submitted.get() + b.submitted.get();
    BioTracker.Completion d = bios.completion();
    md.submit(Bio.discard(0, 64, d));
    assertThat(d.await()).isEqualTo(BlockStatus.OK);
    BioTracker.Completion z = bios.completion();
    md.submit(Bio.writeZeroes(0, 64, z));
    assertThat(z.await()).isEqualTo(BlockStatus.OK);
    assertThat(a.submitted.get() + b.submitted.get() - before).isEqualTo(2);
  }

  @Test
  void thePathCheckerProbesFailedPathsOnTheClockAndReinstatesThoseThatAnswer() throws IOException {
    MappedDevice plain = mp("0", "round-robin");
    assertThat(clock.pendingTasks()).as("no checker in the default type").isZero();
    dm.remove(plain.name());
    TargetRegistry registry = TargetRegistry.loadDefault();
    registry.unregister("multipath");
    registry.register(MultipathTargetType.withPathChecker(Duration.ofSeconds(5)));
    try (DeviceMapper checked = DeviceMapper.builder().clock(clock).registry(registry).build()) {
      checked.registerDevice("a", a);
      checked.registerDevice("b", b);
      MappedDevice md = checked.create("mp", "0 1024 multipath 0 0 1 1 round-robin 0 2 0 a b");
      a.failWith(BlockStatus.TRANSPORT);
      md.write(data(8, 1), 0);
      assertThat(status(md)).contains(" 240:0 F 1 ");
      int probes = a.submitted.get();
      clock.advance(Duration.ofSeconds(5)); // probed, still failing
      awaitCount(a, probes + 1);
      assertThat(status(md)).contains(" 240:0 F 1 ");
      a.failWith(null);
      clock.advance(Duration.ofSeconds(4));
      assertThat(a.submitted.get()).isEqualTo(probes + 1);
      clock.advance(Duration.ofSeconds(1)); // answers: back in use
      awaitStatus(md, "2 0 0 0 1 1 A 0 2 0 240:0 A 1 240:1 A 0 ");
      md.read(ByteBuffer.allocate(512), 0);
      md.read(ByteBuffer.allocate(512), 0);
      assertThat(a.submitted.get()).isEqualTo(probes + 3);
    }
  }

  private static void awaitCount(PathDevice p, int n) {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (p.submitted.get() < n && System.nanoTime() < deadline) {
      Thread.yield();
    }
    assertThat(p.submitted.get()).isEqualTo(n);
  }

  @Test
  void historicalServiceTimeMeasuresOnTheDeviceMappersClock() {
    MappedDevice md =
        dm.create("mp", "0 1024 multipath 0 0 1 1 historical-service-time 2 0 0 2 0 a b");
    a.hold(true);
    BioTracker.Completion slow = write(md, 0, 1); // both idle and equal: the first path
    assertThat(a.heldCount()).isEqualTo(1);
    clock.advance(Duration.ofMillis(100));
    a.hold(false);
    a.releaseHeld();
    assertThat(slow.await()).isEqualTo(BlockStatus.OK);
    // base weight 0: the average is the last service time, 100 ms = 1e8 ns, in 10-bit fixed
    // point; fresh for 2 valid paths x 100 ms after it finished
    assertThat(status(md))
        .isEqualTo(
            "2 0 0 0 1 1 A 2 0 0 2 3 240:0 A 0 102400000000 0 300000000 240:1 A 0 1024 0 0 ");
  }
}
