package io.jdm.core.dirtylog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.BlockIOException;
import io.jdm.core.MappedDevice;
import io.jdm.core.StatusType;
import io.jdm.core.TableException;
import io.jdm.core.dirtylog.DirtyLog.SyncState;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The {@code disk} log: the kernel's on-disk format byte for byte, what a resume makes of what it
 * finds, when it writes and flushes, and how a failing log device is reported.
 *
 * <p>Geometry unless a test says otherwise: a 320-sector target with 8-sector regions, so 40
 * regions, a bitset of 8 bytes (40 bits rounded up to 64) and a buffer of 1024 + 8 bytes rounded up
 * to 1536.
 */
class DiskLogTest {
  private static final long LENGTH = 320;
  private static final int REGIONS = 40;
  private static final int BUFFER = 1536;

  private LogFixture fx;
  private InstrumentedDevice logDev;
  private String devName;

  @BeforeEach
  void setUp() {
    fx = new LogFixture();
    logDev = fx.device("log", 8, 512);
    devName = fx.dm.numberOf("log").orElseThrow().toString();
  }

  @AfterEach
  void tearDown() {
    fx.close();
  }

  private DirtyLog disk(String... args) {
    return disk("m", LENGTH, args);
  }

  private DirtyLog disk(String name, long length, String... args) {
    String[] all = new String[args.length + 1];
    all[0] = "log";
    System.arraycopy(args, 0, all, 1, args.length);
    fx.create(name, length, "disk", all);
    return fx.log;
  }

  /** The header a kernel would write: magic, version, region count, little-endian. */
  private static byte[] header(int magic, int version, long regions) {
    return ByteBuffer.allocate(16)
        .order(ByteOrder.LITTLE_ENDIAN)
        .putInt(magic)
        .putInt(version)
        .putLong(regions)
        .array();
  }

  private String bitset(int bytes) throws IOException {
    return HexFormat.of().formatHex(logDev.contents(1024, bytes));
  }

  private List<Long> outOfSync(DirtyLog log) {
    List<Long> l = new ArrayList<>();
    for (long r = 0; r < log.regionCount(); r++) {
      if (log.inSync(r, true) != SyncState.IN_SYNC) {
        l.add(r);
      }
    }
    return l;
  }

  private List<Long> dirty(DirtyLog log) {
    List<Long> l = new ArrayList<>();
    for (long r = 0; r < log.regionCount(); r++) {
      if (!log.isClean(r)) {
        l.add(r);
      }
    }
    return l;
  }

  @Test
  void aNewLogIsWrittenInTheKernelsFormat() throws IOException {
    DirtyLog log = disk("8");
    byte[] expected = new byte[BUFFER];
    System.arraycopy(header(0x4D695272, 2, REGIONS), 0, expected, 0, 16);
    // a new log without nosync: every region out of sync, so every clean bit 0
    assertThat(logDev.contents(0, BUFFER)).isEqualTo(expected);
    assertThat(HexFormat.of().formatHex(logDev.contents(0, 16)))
        .isEqualTo("7252694d020000002800000000000000"); // "rRiM", 2, 40
    assertThat(fx.journal.summary()).containsExactly("read log", "write log", "flush log");
    assertThat(fx.journal.events().get(1).data()).hasSize(BUFFER);
    assertThat(outOfSync(log)).hasSize(REGIONS);
    assertThat(log.syncCount()).isZero();
    assertThat(log.status(StatusType.INFO)).isEqualTo("3 disk " + devName + " A");
    assertThat(log.status(StatusType.TABLE)).isEqualTo("disk 2 " + devName + " 8 ");
  }

  @Test
  void nosyncWritesEveryRegionCleanAndThePaddingZero() throws IOException {
    DirtyLog log = disk("8", "nosync");
    assertThat(bitset(8)).isEqualTo("ffffffffff000000"); // bits 0-39 set, 40-63 clear
    assertThat(log.syncCount()).isEqualTo(REGIONS);
    assertThat(log.status(StatusType.TABLE)).isEqualTo("disk 3 " + devName + " 8 nosync ");
  }

  @Test
  void aReloadFindsExactlyTheRegionsMarkedDirty() throws IOException {
    DirtyLog log = disk("8", "nosync");
    for (long r : new long[] {3, 17, 39, 20}) {
      log.markRegion(r);
    }
    log.clearRegion(20);
    log.flush();
    assertThat(bitset(8)).isEqualTo("f7fffdff7f000000");
    fx.dm.remove("m");
    DirtyLog again = disk("m2", LENGTH, "8");
    assertThat(outOfSync(again)).containsExactly(3L, 17L, 39L);
    assertThat(dirty(again)).containsExactly(3L, 17L, 39L);
    assertThat(again.syncCount()).isEqualTo(REGIONS - 3);
    assertThat(again.resyncWork()).isEqualTo(3);
    assertThat(again.resyncWork()).isEqualTo(17);
    assertThat(again.resyncWork()).isEqualTo(39);
    assertThat(again.resyncWork()).isEqualTo(DirtyLog.NO_REGION);
    assertThat(bitset(8)).isEqualTo("f7fffdff7f000000");
    assertThat(again.status(StatusType.INFO)).isEqualTo("3 disk " + devName + " A");
  }

  @Test
  void aBadMagicStartsANewLog() throws IOException {
    disk("8", "nosync");
    fx.dm.remove("m");
    logDev.poke(0, header(0x12345678, 2, REGIONS));
    DirtyLog log = disk("8");
    assertThat(outOfSync(log)).hasSize(REGIONS);
    assertThat(logDev.contents(0, 16)).isEqualTo(header(0x4D695272, 2, REGIONS));
    assertThat(bitset(8)).isEqualTo("0000000000000000");
    assertThat(log.status(StatusType.INFO)).endsWith(" A");
  }

  @Test
  void syncOrNosyncInTheTableStartsANewLog() throws IOException {
    DirtyLog log = disk("8", "nosync");
    log.markRegion(3);
    log.flush();
    fx.dm.remove("m");
    assertThat(outOfSync(disk("8", "sync"))).hasSize(REGIONS);
    fx.dm.remove("m");
    assertThat(outOfSync(disk("8", "nosync"))).isEmpty();
    assertThat(bitset(8)).isEqualTo("ffffffffff000000");
  }

  @Test
  void versionOneIsReadAsTwoAndAnyOtherFailsTheLog() throws IOException {
    DirtyLog log = disk("8", "nosync");
    log.markRegion(5);
    log.flush();
    fx.dm.remove("m");
    logDev.poke(0, header(0x4D695272, 1, REGIONS));
    log = disk("8");
    assertThat(outOfSync(log)).containsExactly(5L);
    assertThat(logDev.contents(0, 16)).isEqualTo(header(0x4D695272, 2, REGIONS));
    fx.dm.remove("m");

    logDev.poke(0, header(0x4D695272, 3, REGIONS));
    MappedDevice md = fx.create("m", LENGTH, "disk", "log", "8");
    log = fx.log;
    assertThat(outOfSync(log)).hasSize(REGIONS); // unreadable: nothing can be trusted
    assertThat(log.status(StatusType.INFO)).isEqualTo("3 disk " + devName + " D");
    assertThat(md.eventNr()).isEqualTo(1);
    assertThat(fx.lifecycleErrors).isEmpty(); // the header was written: resume succeeded
    // as the kernel, the version it could not read is written back
    assertThat(logDev.contents(0, 16)).isEqualTo(header(0x4D695272, 3, REGIONS));
  }

  @Test
  void growingKeepsOldRegionsAndDirtiesNewOnes() throws IOException {
    DirtyLog log = disk("8", "nosync");
    log.markRegion(5);
    log.flush();
    fx.dm.remove("m");
    log = disk("m", 48 * 8, "8");
    assertThat(outOfSync(log)).containsExactly(5L, 40L, 41L, 42L, 43L, 44L, 45L, 46L, 47L);
    assertThat(bitset(8)).isEqualTo("dfffffffff000000");
    assertThat(logDev.contents(0, 16)).isEqualTo(header(0x4D695272, 2, 48));
    fx.dm.remove("m");

    log = disk("m", 20 * 8, "8"); // shrink to 20 regions: a 4-byte bitset
    assertThat(outOfSync(log)).containsExactly(5L);
    assertThat(log.syncCount()).isEqualTo(19);
    // bits 20-31 cleared; the bytes after the bitset are written back as they were read
    assertThat(bitset(8)).isEqualTo("dfff0f00ff000000");
    assertThat(logDev.contents(0, 16)).isEqualTo(header(0x4D695272, 2, 20));
  }

  @Test
  void argumentErrorsHaveTheKernelsTexts() {
    fx.device("tiny", 2, 512);
    String tiny = fx.dm.numberOf("tiny").orElseThrow().toString();
    assertThatThrownBy(() -> fx.create("m", LENGTH, "disk", "log"))
        .hasMessage("line 1: logged: wrong number of arguments to disk dirty region log");
    assertThatThrownBy(() -> fx.create("m", LENGTH, "disk", "log", "8", "sync", "x"))
        .hasMessage("line 1: logged: wrong number of arguments to disk dirty region log");
    assertThatThrownBy(() -> fx.create("m", LENGTH, "disk", "log", "12"))
        .hasMessage("line 1: logged: invalid region size 12");
    assertThatThrownBy(() -> fx.create("m", LENGTH, "disk", "log", "8", "async"))
        .hasMessage("line 1: logged: unrecognised sync argument to dirty region log: async");
    assertThatThrownBy(() -> fx.create("m", LENGTH, "disk", "nosuch", "8"))
        .isInstanceOf(TableException.class)
        .hasMessageContaining("nosuch");
    assertThatThrownBy(() -> fx.create("m", LENGTH, "disk", "tiny", "8"))
        .isInstanceOf(TableException.class)
        .hasMessage("line 1: logged: log device " + tiny + " too small: need 1536 bytes");
    // nothing half-made: the devices the failed constructors opened were released
    fx.dm.unregisterDevice("tiny");
    fx.dm.unregisterDevice("log");
    assertThat(fx.dm.list()).isEmpty();
  }

  @Test
  void theBufferIsRoundedToTheLogicalBlockSize() throws IOException {
    fx.device("log4k", 8, 4096);
    fx.create("m", LENGTH, "disk", "log4k", "8");
    List<InstrumentedDevice.Event> writes =
        fx.journal.events().stream().filter(e -> e.what().equals("write")).toList();
    assertThat(writes).hasSize(1);
    assertThat(writes.get(0).data()).hasSize(4096);
    fx.device("small4k", 0, 4096);
    assertThatThrownBy(() -> fx.create("n", LENGTH, "disk", "small4k", "8"))
        .hasMessageEndingWith("too small: need 4096 bytes");
  }

  @Test
  void aFlushWritesOnlyWhenTouchedAndFlushesTheDeviceOnlyForDirtyRegions() throws IOException {
    DirtyLog log = disk("8", "nosync");
    log.flush(); // resume touched the bits: written once more, with the callback first
    fx.journal.clear();
    log.flush();
    assertThat(fx.journal.summary()).isEmpty();
    log.markRegion(3);
    log.flush();
    assertThat(fx.journal.summary()).containsExactly("write log", "flush log");
    fx.journal.clear();
    log.clearRegion(3);
    log.flush();
    // a clean mark needs the data durable first (the callback), not the mark itself
    assertThat(fx.journal.summary()).containsExactly("callback", "write log");
    assertThat(bitset(8)).isEqualTo("ffffffffff000000");
  }

  @Test
  void aFailedFlushCallbackLeavesEveryRegionDirtyForGood() throws IOException {
    DirtyLog log = disk("8", "nosync");
    log.flush();
    log.markRegion(3);
    log.clearRegion(3);
    fx.callback =
        () -> {
          throw new IOException("a leg failed to flush");
        };
    log.flush(); // the log itself is fine: no error
    assertThat(dirty(log)).hasSize(REGIONS);
    assertThat(bitset(8)).isEqualTo("0000000000000000");
    fx.callback = () -> {};
    log.clearRegion(7);
    log.flush();
    assertThat(log.isClean(7)).isFalse();
    assertThat(bitset(8)).isEqualTo("0000000000000000");
    assertThat(log.status(StatusType.INFO)).endsWith(" A");
  }

  @Test
  void aWriteErrorFailsTheLogDeviceOnceAndKeepsTheMarkForTheNextFlush() throws IOException {
    MappedDevice md = fx.create("m", LENGTH, "disk", "log", "8", "nosync");
    DirtyLog log = fx.log;
    int events = md.eventNr();
    logDev.failWrites = true;
    log.markRegion(9);
    assertThatThrownBy(log::flush).isInstanceOf(BlockIOException.class);
    assertThat(log.status(StatusType.INFO)).isEqualTo("3 disk " + devName + " D");
    assertThat(md.eventNr()).isEqualTo(events + 1);
    assertThatThrownBy(log::flush).isInstanceOf(BlockIOException.class);
    assertThat(md.eventNr()).isEqualTo(events + 1);
    logDev.failWrites = false;
    fx.journal.clear();
    log.flush();
    assertThat(fx.journal.summary()).containsExactly("callback", "write log", "flush log");
    assertThat(bitset(8)).isEqualTo("fffdffffff000000");
    assertThat(log.status(StatusType.INFO)).endsWith(" D"); // until the table is reloaded
  }

  @Test
  void aCacheFlushErrorIsReportedAsF() throws IOException {
    MappedDevice md = fx.create("m", LENGTH, "disk", "log", "8");
    DirtyLog log = fx.log;
    int events = md.eventNr();
    logDev.failFlushes = true;
    log.markRegion(1);
    assertThatThrownBy(log::flush).isInstanceOf(BlockIOException.class);
    assertThat(log.status(StatusType.INFO)).isEqualTo("3 disk " + devName + " F");
    assertThat(md.eventNr()).isEqualTo(events + 1);
    logDev.failFlushes = false;
    fx.journal.clear();
    log.flush(); // the mark is written and flushed again; nothing was cleaned: no callback
    assertThat(fx.journal.summary()).containsExactly("write log", "flush log");
  }

  @Test
  void anUnreadableLogIsOutOfSyncAndFailedButStillRewritten() throws IOException {
    DirtyLog log = disk("8", "nosync");
    fx.dm.remove("m");
    logDev.failReads = true;
    log = disk("8");
    assertThat(outOfSync(log)).hasSize(REGIONS);
    assertThat(log.status(StatusType.INFO)).endsWith(" D");
    assertThat(fx.lifecycleErrors).isEmpty();
    assertThat(logDev.contents(0, 16)).isEqualTo(header(0x4D695272, 2, REGIONS));
    assertThat(bitset(8)).isEqualTo("0000000000000000");
  }

  @Test
  void aResumeThatCannotWriteFails() {
    logDev.failWrites = true;
    DirtyLog log = disk("8");
    assertThat(fx.lifecycleErrors).hasSize(1).first().isInstanceOf(BlockIOException.class);
    assertThat(log.status(StatusType.INFO)).endsWith(" D");
  }

  @Test
  void suspendWritesTheLogAndResumeReadsItBack() throws IOException {
    MappedDevice md = fx.create("m", LENGTH, "disk", "log", "8", "nosync");
    DirtyLog log = fx.log;
    log.flush();
    log.markRegion(12);
    fx.journal.clear();
    md.suspend();
    assertThat(fx.journal.summary()).containsExactly("write log", "flush log");
    md.resume(); // nosync: a new log again, as the kernel does on every resume
    assertThat(dirty(log)).isEmpty();
    fx.dm.remove("m");
    md = fx.create("m", LENGTH, "disk", "log", "8");
    log = fx.log;
    log.markRegion(12);
    md.suspend();
    md.resume();
    assertThat(dirty(log)).containsExactly(12L);
  }

  /**
   * A flush called while another is writing does not return before that write is durable, even
   * though it finds nothing left to write: the guarantee a region hash relies on.
   */
  @Test
  void aFlushWaitsForTheFlushAlreadyWriting() throws Exception {
    DirtyLog log = disk("8", "nosync");
    log.flush();
    CountDownLatch writing = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    logDev.beforeSubmit =
        bio -> {
          if (bio.op() == io.jdm.core.Bio.Op.WRITE && writing.getCount() > 0) {
            writing.countDown();
            awaitUninterruptibly(release);
          }
        };
    log.markRegion(4);
    Thread first = new Thread(() -> flushQuietly(log), "first-flush");
    first.start();
    writing.await();
    fx.journal.clear();
    Thread second = new Thread(() -> flushQuietly(log), "second-flush");
    second.start();
    Thread.State s;
    while ((s = second.getState()) != Thread.State.WAITING && s != Thread.State.TERMINATED) {
      Thread.onSpinWait();
    }
    assertThat(s).as("the second flush waits for the first").isEqualTo(Thread.State.WAITING);
    release.countDown();
    first.join();
    second.join();
    assertThat(fx.journal.summary()).containsExactly("write log", "flush log");
    assertThat(bitset(1)).isEqualTo("ef");
  }

  private static void flushQuietly(DirtyLog log) {
    try {
      log.flush();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private static void awaitUninterruptibly(CountDownLatch l) {
    while (true) {
      try {
        l.await();
        return;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  @Test
  void closedLogsRefuseIo() {
    DirtyLog log = disk("8");
    fx.dm.remove("m");
    assertThatThrownBy(log::flush).isInstanceOf(IllegalStateException.class);
    assertThat(Arrays.asList(log.regionCount(), log.regionSize())).containsExactly(40L, 8L);
  }
}
