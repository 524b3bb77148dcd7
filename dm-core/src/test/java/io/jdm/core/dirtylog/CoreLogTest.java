package io.jdm.core.dirtylog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.StatusType;
import io.jdm.core.TableException;
import io.jdm.core.dirtylog.DirtyLog.SyncState;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The {@code core} log: arguments, status text and bitset behaviour, as {@code dm-log.c}. */
class CoreLogTest {
  private final LogFixture fx = new LogFixture();

  @AfterEach
  void close() {
    fx.close();
  }

  private DirtyLog core(long length, String... args) {
    fx.create("m", length, "core", args);
    return fx.log;
  }

  private void assertRefused(long length, String expected, String... args) {
    assertThatThrownBy(() -> fx.create("m", length, "core", args))
        .isInstanceOf(TableException.class)
        .hasMessage("line 1: logged: " + expected);
  }

  @Test
  void argumentErrorsHaveTheKernelsTexts() {
    assertRefused(4096, "wrong number of arguments to dirty region log");
    assertRefused(4096, "wrong number of arguments to dirty region log", "1024", "sync", "x");
    assertRefused(4096, "unrecognised sync argument to dirty region log: NOSYNC", "1024", "NOSYNC");
    // the sync word is checked before the region size, as create_log_context does
    assertRefused(4096, "unrecognised sync argument to dirty region log: x", "abc", "x");
    for (String bad : new String[] {"3", "1", "0", "8192", "+8", "-8", "0x10", "abc"}) {
      assertRefused(4096, "invalid region size " + bad, bad);
    }
    assertRefused(1L << 40, "invalid region size 4294967296", "4294967296"); // not a uint32
    assertThat(fx.dm.list()).isEmpty();
  }

  @Test
  void statusTexts() {
    DirtyLog log = core(4096, "1024");
    assertThat(log.status(StatusType.INFO)).isEqualTo("1 core");
    assertThat(log.status(StatusType.TABLE)).isEqualTo("core 1 1024 ");
    assertThat(fx.dm.device("m").table()).isEqualTo("0 4096 logged core 1 1024 \n");
    fx.dm.remove("m");
    assertThat(core(4096, "1024", "nosync").status(StatusType.TABLE))
        .isEqualTo("core 2 1024 nosync ");
    fx.dm.remove("m");
    assertThat(core(4096, "2", "sync").status(StatusType.TABLE)).isEqualTo("core 2 2 sync ");
  }

  @Test
  void everyRegionStartsCleanAndOutOfSync() {
    DirtyLog log = core(4100, "1024"); // 5 regions, the last one short
    assertThat(log.regionCount()).isEqualTo(5);
    assertThat(log.regionSize()).isEqualTo(1024);
    assertThat(log.syncCount()).isZero();
    for (long r = 0; r < 5; r++) {
      assertThat(log.isClean(r)).isTrue();
      assertThat(log.inSync(r, false)).isEqualTo(SyncState.NOT_IN_SYNC);
    }
    log.markRegion(2);
    assertThat(log.isClean(2)).isFalse();
    log.clearRegion(2);
    assertThat(log.isClean(2)).isTrue();
  }

  @Test
  void resyncWorkIsHandedOutOnceUntilSettled() throws Exception {
    DirtyLog log = core(4096, "1024"); // 4 regions
    assertThat(log.resyncWork()).isZero();
    assertThat(log.resyncWork()).isEqualTo(1);
    log.setRegionSync(0, true);
    log.setRegionSync(1, false); // recovery failed: no longer recovering, still out of sync
    assertThat(log.syncCount()).isEqualTo(1);
    assertThat(log.inSync(0, true)).isEqualTo(SyncState.IN_SYNC);
    assertThat(log.resyncWork()).isEqualTo(2);
    assertThat(log.resyncWork()).isEqualTo(3);
    assertThat(log.resyncWork()).isEqualTo(DirtyLog.NO_REGION);
    assertThat(log.resyncWork()).isEqualTo(DirtyLog.NO_REGION);
    log.resume(); // the search starts again; 2 and 3 are still being recovered
    assertThat(log.resyncWork()).isEqualTo(1);
    assertThat(log.resyncWork()).isEqualTo(DirtyLog.NO_REGION);
  }

  @Test
  void nosyncStartsInSync() throws Exception {
    DirtyLog log = core(4096, "1024", "nosync");
    assertThat(log.syncCount()).isEqualTo(4);
    assertThat(log.resyncWork()).isEqualTo(DirtyLog.NO_REGION);
    log.setRegionSync(2, false);
    assertThat(log.syncCount()).isEqualTo(3);
    log.setRegionSync(2, false); // already out of sync: not counted twice
    assertThat(log.syncCount()).isEqualTo(3);
    log.resume();
    assertThat(log.resyncWork()).isEqualTo(2);
  }

  @Test
  void regionsOutOfRangeAreCallerMistakes() {
    DirtyLog log = core(4096, "1024");
    assertThatThrownBy(() -> log.isClean(4)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> log.markRegion(-1)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> log.setRegionSync(4, true))
        .isInstanceOf(IndexOutOfBoundsException.class);
  }
}
