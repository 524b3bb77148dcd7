package io.jdm.core.region;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.Bio;
import io.jdm.core.dirtylog.DirtyLog;
import io.jdm.core.dirtylog.DirtyLog.SyncState;
import io.jdm.core.dirtylog.InstrumentedDevice;
import io.jdm.core.dirtylog.LogFixture;
import io.jdm.core.region.RegionHash.State;
import io.jdm.core.region.RegionHash.WriteBatch;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The region hash over a {@code disk} log, driven the way {@code dm-raid1.c} drives it: writes are
 * started in batches and sent to a data device, the worker's pass and recovery are called by hand.
 * One journal records the log device's and the data device's I/O in order. 40 regions of 8 sectors.
 */
class RegionHashTest {
  private static final long LENGTH = 320;

  private static final RegionHash.Callbacks NO_CALLBACKS =
      new RegionHash.Callbacks() {
        @Override
        public void dispatchBios(List<Bio> bios) {
          throw new AssertionError("nothing was held");
        }

        @Override
        public void wakeupWorkers() {}

        @Override
        public void wakeupAllRecoveryWaiters() {}
      };

  private LogFixture fx;
  private InstrumentedDevice logDev;
  private InstrumentedDevice data;
  private RegionHash rh;
  private DirtyLog log;
  private final List<Bio> dispatched = new CopyOnWriteArrayList<>();
  private final List<Bio> completed = new CopyOnWriteArrayList<>();
  private final AtomicInteger wakeups = new AtomicInteger();
  private final AtomicInteger recoveryIdle = new AtomicInteger();

  @BeforeEach
  void setUp() {
    fx = new LogFixture();
    logDev = fx.device("log", 8, 512);
    data = new InstrumentedDevice("data", LENGTH, 512, fx.journal);
  }

  @AfterEach
  void tearDown() throws IOException {
    fx.close();
    data.close();
  }

  /** A disk log with {@code args} after the region size, a hash over it, the journal cleared. */
  private void start(String... args) throws IOException {
    String[] all = new String[args.length + 2];
    all[0] = "log";
    all[1] = "8";
    System.arraycopy(args, 0, all, 2, args.length);
    fx.create("m", LENGTH, "disk", all);
    log = fx.log;
    rh =
        RegionHash.create(
            log,
            0,
            1,
            new RegionHash.Callbacks() {
              @Override
              public void dispatchBios(List<Bio> bios) {
                dispatched.addAll(bios);
              }

              @Override
              public void wakeupWorkers() {
                wakeups.incrementAndGet();
              }

              @Override
              public void wakeupAllRecoveryWaiters() {
                recoveryIdle.incrementAndGet();
              }
            });
    rh.flush(); // what the resume touched
    fx.journal.clear();
  }

  /** A one-sector write at the start of {@code region} that ends its pending count when done. */
  private Bio write(long region) {
    return Bio.write(
        region * 8,
        ByteBuffer.allocate(512),
        b -> {
          completed.add(b);
          rh.endWrite(b);
        });
  }

  private static void send(List<Bio> bios, InstrumentedDevice dev) {
    for (Bio b : bios) {
      b.submit(dev);
    }
  }

  /** Byte {@code i} of the clean bitset in the log write at {@code index} of the journal. */
  private int bitsetByte(int index, int i) {
    InstrumentedDevice.Event e = fx.journal.events().get(index);
    assertThat(e.what() + " " + e.device()).isEqualTo("write log");
    return e.byteAt(1024 + i);
  }

  @Test
  void theFirstWriteToACleanRegionGoesOutAfterTheLogIsFlushed() throws IOException {
    start("nosync");
    Bio a = write(3);
    Bio b = write(3);
    Bio c = write(5);
    WriteBatch batch = rh.startWrites(List.of(a, b, c));
    assertThat(batch.sync()).containsExactly(a, b, c);
    assertThat(batch.nosync()).isEmpty();
    assertThat(batch.logFailure()).isNull();
    assertThat(rh.state(3, true)).isEqualTo(State.DIRTY);
    send(batch.sync(), data);
    assertThat(fx.journal.summary())
        .containsExactly("write log", "flush log", "write data", "write data", "write data");
    assertThat(bitsetByte(0, 0)).isEqualTo(0xD7); // regions 3 and 5 dirty in what was flushed
    assertThat(completed).containsExactly(a, b, c);
    assertThat(rh.state(3, true)).isEqualTo(State.CLEAN); // drained, not yet written clean
  }

  @Test
  void aRegionAlreadyDirtyNeedsNoLogWrite() throws IOException {
    start("nosync");
    Bio first = write(7);
    WriteBatch one = rh.startWrites(List.of(first)); // in flight: not sent yet
    fx.journal.clear();
    Bio second = write(7);
    WriteBatch two = rh.startWrites(List.of(second));
    assertThat(two.sync()).containsExactly(second);
    assertThat(fx.journal.summary()).isEmpty();
    send(one.sync(), data);
    send(two.sync(), data);
    assertThat(rh.state(7, true)).isEqualTo(State.CLEAN);
  }

  @Test
  void theWorkersPassWritesDrainedRegionsCleanAfterTheDataIsFlushed() throws IOException {
    start("nosync");
    WriteBatch done = rh.startWrites(List.of(write(3)));
    send(done.sync(), data);
    WriteBatch inFlight = rh.startWrites(List.of(write(9)));
    assertThat(wakeups.get()).isEqualTo(1); // region 3 drained
    fx.journal.clear();
    rh.updateStates(false);
    // the flush callback (the legs' flush) before the clean mark; no cache flush for it
    assertThat(fx.journal.summary()).containsExactly("callback", "write log");
    assertThat(bitsetByte(1, 0)).isEqualTo(0xFF); // region 3 clean again
    assertThat(bitsetByte(1, 1)).isEqualTo(0xFD); // region 9 still dirty
    assertThat(log.isClean(3)).isTrue();
    assertThat(log.isClean(9)).isFalse();
    assertThat(rh.trackedRegions()).isEqualTo(1);
    send(inFlight.sync(), data);
    rh.updateStates(false);
    assertThat(log.isClean(9)).isTrue();
    assertThat(rh.trackedRegions()).isZero();
  }

  @Test
  void writesToOutOfSyncRegionsGoToOneLegAndMarkNothing() throws IOException {
    start(); // a new log: every region out of sync
    Bio w = write(2);
    WriteBatch batch = rh.startWrites(List.of(w));
    assertThat(batch.sync()).isEmpty();
    assertThat(batch.nosync()).containsExactly(w);
    assertThat(fx.journal.summary()).isEmpty();
    send(batch.nosync(), data);
    rh.updateStates(false);
    assertThat(rh.state(2, true)).isEqualTo(State.NOSYNC);
    assertThat(rh.trackedRegions()).isEqualTo(1); // kept until recovered
  }

  @Test
  void flushesAndDiscardsGoEverywhereUncounted() throws IOException {
    start("nosync");
    Bio flush = Bio.flush(b -> rh.endWrite(b));
    Bio discard = Bio.discard(16, 8, b -> rh.endWrite(b));
    WriteBatch batch = rh.startWrites(List.of(flush, discard));
    assertThat(batch.sync()).containsExactly(flush, discard);
    assertThat(rh.trackedRegions()).isZero();
    assertThat(fx.journal.summary()).isEmpty();
    send(batch.sync(), data);
  }

  @Test
  void writesToARecoveringRegionAreHeldUntilItIsRecovered() throws IOException {
    start();
    rh.recoveryPrepare();
    assertThat(rh.recoveryStart()).as("no recovery before startRecovery").isNull();
    rh.startRecovery();
    rh.recoveryPrepare();
    assertThat(rh.recoveryInFlight()).isEqualTo(1);
    Region r = rh.recoveryStart();
    assertThat(r.key()).isZero();
    assertThat(r.regionHash()).isSameAs(rh);
    assertThat(rh.recoveryStart()).isNull(); // one at a time
    Bio held = write(0);
    Bio other = write(1);
    WriteBatch batch = rh.startWrites(List.of(held, other));
    assertThat(batch.sync()).isEmpty();
    assertThat(batch.nosync()).containsExactly(other);
    send(batch.nosync(), data);
    assertThat(rh.state(0, true)).isEqualTo(State.RECOVERING);

    rh.recoveryEnd(r, true);
    assertThat(dispatched).isEmpty(); // released by the worker's pass
    int idle = recoveryIdle.get();
    rh.updateStates(false);
    assertThat(dispatched).containsExactly(held);
    assertThat(log.inSync(0, true)).isEqualTo(SyncState.IN_SYNC);
    assertThat(log.syncCount()).isEqualTo(1);
    assertThat(rh.recoveryInFlight()).isZero();
    assertThat(recoveryIdle.get()).isEqualTo(idle + 1);
    assertThat(completed).containsExactly(other);

    // dispatched writes start again: now to an in-sync region, after the log marks it dirty
    fx.journal.clear();
    WriteBatch again = rh.startWrites(dispatched);
    assertThat(again.sync()).containsExactly(held);
    send(again.sync(), data);
    assertThat(fx.journal.summary()).containsExactly("write log", "flush log", "write data");
    assertThat(bitsetByte(0, 0) & 1).isZero();

    rh.recoveryPrepare(); // region 1 next; its write has drained
    assertThat(rh.recoveryStart().key()).isEqualTo(1);
  }

  @Test
  void recoveryWaitsForWritesInFlight() throws IOException {
    start();
    Bio w = write(0);
    WriteBatch batch = rh.startWrites(List.of(w)); // counted, not sent yet
    rh.startRecovery();
    rh.recoveryPrepare();
    assertThat(rh.state(0, true)).isEqualTo(State.RECOVERING);
    assertThat(rh.recoveryStart()).isNull();
    Bio late = write(0);
    assertThat(rh.startWrites(List.of(late)).nosync()).isEmpty(); // held
    int woken = wakeups.get();
    send(batch.nosync(), data);
    assertThat(wakeups.get()).isEqualTo(woken + 1);
    Region r = rh.recoveryStart();
    assertThat(r.key()).isZero();
    rh.recoveryEnd(r, true);
    rh.updateStates(false);
    assertThat(dispatched).containsExactly(late);
  }

  @Test
  void aFailedRecoveryLeavesTheRegionOutOfSyncWhenErrorsAreHandled() throws IOException {
    start();
    rh.startRecovery();
    rh.recoveryPrepare();
    Region r = rh.recoveryStart();
    Bio held = write(0);
    rh.startWrites(List.of(held));
    rh.recoveryEnd(r, false);
    rh.updateStates(true);
    assertThat(log.inSync(0, true)).isEqualTo(SyncState.NOT_IN_SYNC);
    assertThat(dispatched).containsExactly(held);
    assertThat(rh.startWrites(dispatched).nosync()).containsExactly(held);
    send(List.of(held), data);

    // without error handling the kernel counts the region in sync all the same
    rh.recoveryPrepare();
    Region again = rh.recoveryStart();
    rh.recoveryEnd(again, false);
    rh.updateStates(false);
    assertThat(log.inSync(again.key(), true)).isEqualTo(SyncState.IN_SYNC);
  }

  @Test
  void aWriteThatFailedOnALegKeepsItsRegionDirty() throws IOException {
    start("nosync");
    Bio w = write(4);
    WriteBatch batch = rh.startWrites(List.of(w));
    rh.markNosync(w);
    assertThat(log.syncCount()).isEqualTo(39);
    send(batch.sync(), data);
    assertThat(rh.state(4, true)).isEqualTo(State.NOSYNC);
    rh.updateStates(false);
    assertThat(log.isClean(4)).isFalse();
    assertThat(rh.trackedRegions()).isEqualTo(1);
    rh.recoveryPrepare();
    rh.startRecovery();
    rh.recoveryPrepare();
    assertThat(rh.recoveryStart().key()).isEqualTo(4);
  }

  @Test
  void afterAFailedFlushNoDrainedRegionIsTrustedClean() throws IOException {
    start("nosync");
    Bio w = write(6);
    WriteBatch batch = rh.startWrites(List.of(w));
    rh.markNosync(Bio.flush(b -> {}));
    send(batch.sync(), data);
    assertThat(rh.state(6, true)).isEqualTo(State.NOSYNC);
    rh.updateStates(false);
    assertThat(log.isClean(6)).isFalse();
  }

  @Test
  void aLogFlushFailureIsReportedWithTheBatch() throws IOException {
    start("nosync");
    logDev.failWrites = true;
    Bio w = write(1);
    WriteBatch batch = rh.startWrites(List.of(w));
    assertThat(batch.sync()).containsExactly(w);
    assertThat(batch.logFailure()).isNotNull();
    assertThat(log.status(io.jdm.core.StatusType.INFO)).endsWith(" D");
    send(batch.sync(), data); // the caller decides; the count still drains
    assertThat(rh.state(1, true)).isEqualTo(State.CLEAN);
  }

  @Test
  void stopRecoveryWaitsForTheRecoveryInFlight() throws Exception {
    start();
    rh.startRecovery();
    rh.recoveryPrepare();
    Region r = rh.recoveryStart();
    Thread stopper = new Thread(rh::stopRecovery, "stop-recovery");
    stopper.start();
    Thread.State s;
    while ((s = stopper.getState()) != Thread.State.WAITING && s != Thread.State.TERMINATED) {
      Thread.onSpinWait();
    }
    assertThat(s).isEqualTo(Thread.State.WAITING);
    rh.recoveryEnd(r, true);
    rh.updateStates(false);
    stopper.join();
    rh.recoveryPrepare();
    assertThat(rh.recoveryStart()).as("stopped: nothing new starts").isNull();
  }

  @Test
  void misuseIsRefused() throws IOException {
    start("nosync");
    assertThatThrownBy(() -> rh.dec(7))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("region 7 has no pending write");
    Bio w = write(2);
    WriteBatch batch = rh.startWrites(List.of(w));
    assertThatThrownBy(rh::close)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("has writes pending");
    send(batch.sync(), data);
    Region notRecovering = new Region(rh, 3, State.CLEAN);
    assertThatThrownBy(() -> rh.recoveryEnd(notRecovering, true))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> RegionHash.create(log, -1, 1, NO_CALLBACKS))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("targetBegin -1, maxRecovery 1 (expected: >= 0, >= 1)");
    assertThatThrownBy(() -> RegionHash.create(log, 0, 0, NO_CALLBACKS))
        .isInstanceOf(IllegalArgumentException.class);
    fx.dm.remove("m"); // the fixture's target suspends the log first
    rh.close(); // nothing pending now; closes the log
    assertThatThrownBy(log::flush).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void regionsAreCountedFromTheTargetsStart() throws IOException {
    start("nosync");
    RegionHash shifted = RegionHash.create(log, 1000, 1, NO_CALLBACKS);
    assertThat(shifted.bioToRegion(Bio.write(1000 + 8 * 5 + 3, ByteBuffer.allocate(512), b -> {})))
        .isEqualTo(5);
    assertThat(shifted.regionToSector(5)).isEqualTo(40);
    assertThat(shifted.sectorToRegion(47)).isEqualTo(5);
    assertThat(shifted.regionSize()).isEqualTo(8);
  }
}
