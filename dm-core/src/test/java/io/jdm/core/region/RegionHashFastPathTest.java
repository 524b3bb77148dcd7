package io.jdm.core.region;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.Bio;
import io.jdm.core.StatusType;
import io.jdm.core.dirtylog.DirtyLog;
import io.jdm.core.dirtylog.DirtyLogType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link RegionHash#tryStartWrite}: a write starts without the worker only in a dirty region whose
 * mark is durable, and is counted like a batched one.
 */
class RegionHashFastPathTest {
  /** A log in memory that records marks and flushes, and can be told to fail flushes. */
  private static final class FakeLog implements DirtyLog {
    final List<String> events = new ArrayList<>();
    boolean failFlush;
    boolean inMemory;
    long notInSync = -1;

    @Override
    public boolean marksNeedFlush() {
      return !inMemory;
    }

    @Override
    public DirtyLogType type() {
      return null;
    }

    @Override
    public long regionSize() {
      return 8;
    }

    @Override
    public long regionCount() {
      return 16;
    }

    @Override
    public boolean isClean(long region) {
      return true;
    }

    @Override
    public SyncState inSync(long region, boolean canBlock) {
      return region == notInSync ? SyncState.NOT_IN_SYNC : SyncState.IN_SYNC;
    }

    @Override
    public void flush() throws IOException {
      events.add("flush");
      if (failFlush) {
        throw new IOException("flush failed");
      }
    }

    @Override
    public void markRegion(long region) {
      events.add("mark " + region);
    }

    @Override
    public void clearRegion(long region) {
      events.add("clear " + region);
    }

    @Override
    public long resyncWork() {
      return NO_REGION;
    }

    @Override
    public void setRegionSync(long region, boolean inSync) {}

    @Override
    public long syncCount() {
      return 16;
    }

    @Override
    public String status(StatusType type) {
      return "";
    }

    @Override
    public void close() {}
  }

  private static final RegionHash.Callbacks NONE =
      new RegionHash.Callbacks() {
        @Override
        public void dispatchBios(List<Bio> bios) {}

        @Override
        public void wakeupWorkers() {}

        @Override
        public void wakeupAllRecoveryWaiters() {}
      };

  private static Bio write(long sector) {
    return Bio.write(sector, ByteBuffer.allocate(512), b -> {});
  }

  @Test
  void onlyADirtyRegionWithADurableMarkStartsAtOnce() throws IOException {
    FakeLog log = new FakeLog();
    RegionHash rh = RegionHash.create(log, 0, 1, NONE);
    assertThat(rh.tryStartWrite(write(3))).as("an untracked region").isFalse();
    Bio first = write(3);
    RegionHash.WriteBatch b = rh.startWrites(List.of(first));
    assertThat(b.sync()).containsExactly(first);
    assertThat(log.events).containsExactly("mark 0", "flush");
    Bio fast = write(5);
    assertThat(rh.tryStartWrite(fast)).isTrue();
    assertThat(log.events).hasSize(2); // no log I/O for it
    assertThat(rh.tryStartWrite(Bio.flush(x -> {}))).isFalse();
    assertThat(rh.tryStartWrite(Bio.discard(0, 8, x -> {}))).isFalse();
    // both writes are pending: the region stays dirty until the second ends
    rh.endWrite(first);
    assertThat(rh.state(0, false)).isEqualTo(RegionHash.State.DIRTY);
    rh.endWrite(fast);
    assertThat(rh.state(0, false)).isEqualTo(RegionHash.State.CLEAN);
    assertThat(rh.tryStartWrite(write(3))).as("clean, not yet dropped").isFalse();
    rh.updateStates(false);
    assertThat(log.events).endsWith("clear 0", "flush");
    rh.close();
  }

  @Test
  void aMarkWhoseFlushFailedTurnsTheFastPathOff() throws IOException {
    FakeLog log = new FakeLog();
    RegionHash rh = RegionHash.create(log, 0, 1, NONE);
    Bio a = write(0);
    rh.startWrites(List.of(a)); // region 0 dirty, durable
    log.failFlush = true;
    Bio b = write(8);
    assertThat(rh.startWrites(List.of(b)).logFailure()).isNotNull(); // region 1 marked, not durable
    assertThat(rh.tryStartWrite(write(1))).as("region 0, but a mark is not durable").isFalse();
    assertThat(rh.tryStartWrite(write(9))).isFalse();
    log.failFlush = false;
    Bio c = write(2);
    rh.startWrites(List.of(c)); // a flush that works makes every earlier mark durable
    Bio d = write(9);
    assertThat(rh.tryStartWrite(d)).isTrue();
    for (Bio w : List.of(a, b, c, d)) {
      rh.endWrite(w);
    }
    rh.close();
  }

  @Test
  void aLogInMemoryIsMarkedAtOnceWithoutAFlush() throws IOException {
    FakeLog log = new FakeLog();
    log.inMemory = true;
    log.notInSync = 2;
    RegionHash rh = RegionHash.create(log, 0, 1, NONE);
    Bio a = write(3);
    assertThat(rh.tryStartWrite(a)).as("an untracked region in sync").isTrue();
    assertThat(log.events).containsExactly("mark 0"); // marked, no flush needed
    assertThat(rh.state(0, false)).isEqualTo(RegionHash.State.DIRTY);
    Bio b = write(4);
    assertThat(rh.tryStartWrite(b)).isTrue();
    assertThat(log.events).containsExactly("mark 0");
    rh.endWrite(a);
    rh.endWrite(b);
    assertThat(rh.state(0, false)).isEqualTo(RegionHash.State.CLEAN);
    Bio c = write(1);
    assertThat(rh.tryStartWrite(c)).as("clean, not yet dropped: marked again").isTrue();
    assertThat(log.events).containsExactly("mark 0", "mark 0");
    assertThat(rh.tryStartWrite(write(16))).as("a region out of sync goes to the worker").isFalse();
    assertThat(rh.state(2, false)).isEqualTo(RegionHash.State.NOSYNC);
    rh.endWrite(c);
    rh.updateStates(false);
    assertThat(log.events).endsWith("clear 0", "flush");
    rh.close();
  }
}
