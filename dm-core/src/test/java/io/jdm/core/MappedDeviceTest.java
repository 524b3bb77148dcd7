package io.jdm.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class MappedDeviceTest {
  private final TargetRegistry registry = TargetRegistry.builtins();
  private final TestTargets.Holder holder = new TestTargets.Holder();
  private final DeviceMapper dm;
  private final MemoryBlockDevice disk = MemoryBlockDevice.create("disk", 4096);
  private final List<Bio> completed = new ArrayList<>();

  MappedDeviceTest() {
    registry.register(holder.type());
    dm = DeviceMapper.builder().registry(registry).build();
    dm.registerDevice("disk", disk);
  }

  @AfterEach
  void close() throws IOException {
    holder.hold = false;
    holder.release();
    dm.close();
    disk.close();
  }

  private Bio write(long sector) {
    return Bio.write(sector, ByteBuffer.allocate(512), this::done);
  }

  private synchronized void done(Bio b) {
    completed.add(b);
  }

  private synchronized List<Bio> completed() {
    return List.copyOf(completed);
  }

  @Test
  void infoIsDmsetupInfo() {
    MappedDevice md = dm.create("vol", "uuid-1", "0 100 zero\n100 100 error");
    md.load("0 10 zero");
    assertThat(md.info().toString())
        .isEqualTo(
            "Name:              vol\n"
                + "State:             ACTIVE\n"
                + "Read Ahead:        256\n"
                + "Tables present:    LIVE & INACTIVE\n"
                + "Open count:        0\n"
                + "Event number:      0\n"
                + "Major, minor:      253, 0\n"
                + "Number of targets: 2\n"
                + "UUID: uuid-1\n"
                + "\n");
    assertThat(md.info().toColumns()).isEqualTo("vol 253 0 LI-w 0 2 0 uuid-1");
    md.clear();
    md.suspend();
    assertThat(md.info().toString())
        .contains("State:             SUSPENDED\n")
        .contains("Tables present:    LIVE\n");
    assertThat(md.info().toColumns()).isEqualTo("vol 253 0 L-sw 0 2 0 uuid-1");
    MappedDevice empty = dm.create("empty");
    assertThat(empty.info().toString())
        .contains("Tables present:    None\n")
        .contains("Number of targets: 0\n")
        .doesNotContain("UUID");
    assertThat(empty.table()).isEqualTo("\n");
    assertThat(empty.status()).isEqualTo("\n");
    empty.load("0 8 zero");
    assertThat(empty.info().toString()).contains("Tables present:    INACTIVE\n");
    assertThat(empty.inactiveTable()).isEqualTo("0 8 zero \n");
  }

  @Test
  void tableAndStatusHaveOneLinePerTarget() {
    MappedDevice md =
        dm.create(
            "vol", "0 100 linear disk 0\n100 200 zero\n300 64 striped 2 32 disk 1000 disk 2000");
    assertThat(md.table())
        .isEqualTo(
            "0 100 linear 240:0 0\n100 200 zero \n300 64 striped 2 32 240:0 1000 240:0 2000\n");
    assertThat(md.status())
        .isEqualTo("0 100 linear \n100 200 zero \n300 64 striped 2 240:0 240:0 1 AA\n");
    assertThat(md.sectors()).isEqualTo(364);
  }

  @Test
  void resumeWithoutATableFails() {
    MappedDevice md = dm.create("vol");
    md.resume(); // not suspended, nothing loaded: nothing to do
    md.suspend();
    assertThatThrownBy(md::resume)
        .isInstanceOf(DmException.class)
        .hasMessage("vol: cannot resume without a table");
    md.load("0 8 zero");
    md.resume();
    assertThat(md.isSuspended()).isFalse();
    assertThat(md.sectors()).isEqualTo(8);
  }

  @Test
  void ioWithoutATableFails() {
    MappedDevice md = dm.create("vol");
    md.submit(write(0));
    assertThat(completed()).hasSize(1);
    assertThat(completed().get(0).status()).isEqualTo(BlockStatus.IOERR);
  }

  @Test
  void readOnlyTablesRefuseWrites() throws IOException {
    MappedDevice md = dm.create("ro", null, TableSpec.parse("0 100 linear disk 0"), true);
    assertThat(md.isReadOnly()).isTrue();
    assertThatThrownBy(() -> md.write(ByteBuffer.allocate(512), 0))
        .isInstanceOf(BlockIOException.class)
        .hasMessageContaining("I/O error");
    assertThatThrownBy(() -> md.writeZeroes(0, 512)).isInstanceOf(BlockIOException.class);
    md.read(ByteBuffer.allocate(512), 0);
    md.flush();
    md.load("0 100 linear disk 0");
    md.resume();
    assertThat(md.isReadOnly()).isFalse();
    md.write(ByteBuffer.allocate(512), 0);
  }

  @Test
  void singletonImmutableAndAlwaysWriteableRules() {
    registry.register(TestTargets.zeroLike("single", TargetFeature.SINGLETON));
    registry.register(TestTargets.zeroLike("immut", TargetFeature.IMMUTABLE));
    registry.register(TestTargets.zeroLike("pool", TargetFeature.ALWAYS_WRITEABLE));
    assertThatThrownBy(() -> dm.create("a", "0 8 zero\n8 8 single"))
        .hasMessage("line 2: single: singleton target type must appear alone in table");
    assertThatThrownBy(() -> dm.create("a", "0 8 single\n8 8 zero"))
        .hasMessage("line 2: zero: target type single must appear alone in table");
    assertThatThrownBy(() -> dm.create("a", "0 8 immut\n8 8 zero"))
        .hasMessage("line 2: zero: immutable target type cannot be mixed with other target types");
    assertThatThrownBy(() -> dm.create("a", null, TableSpec.parse("0 8 pool"), true))
        .hasMessage("line 1: pool: target type may not be included in a read-only table");
    MappedDevice md = dm.create("i", "0 8 immut\n8 8 immut");
    assertThatThrownBy(() -> md.load("0 16 zero"))
        .hasMessage("can't replace immutable target type immut");
    md.load("0 16 error"); // a wildcard may replace it
    md.resume();
    assertThat(md.table()).isEqualTo("0 16 error \n");
  }

  @Test
  void eventsAreRaisedByTargetsNotBySwaps() throws Exception {
    MappedDevice bad = dm.create("bad", "0 64 error");
    MappedDevice md = dm.create("s", "0 64 striped 2 8 disk 0 bad 0");
    int before = md.eventNr();
    md.load(md.table());
    md.resume();
    assertThat(md.eventNr()).isEqualTo(before);
    assertThat(md.awaitEvent(before, Duration.ofMillis(1))).isEqualTo(before);
    CompletableFuture<Integer> waiter =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return md.awaitEvent(before, Duration.ofMinutes(5));
              } catch (InterruptedException e) {
                throw new IllegalStateException(e);
              }
            });
    md.submit(Bio.read(8, ByteBuffer.allocate(512), b -> {}));
    assertThat(waiter.get(5, TimeUnit.MINUTES)).isEqualTo(before + 1);
    md.remove();
    bad.remove();
  }

  @Test
  void heldIoIsReplayedInArrivalOrder() {
    MappedDevice md = dm.create("vol", "0 100 linear disk 0");
    md.suspend();
    List<Bio> sent = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      Bio b = write(i);
      sent.add(b);
      md.submit(b);
    }
    assertThat(completed()).isEmpty();
    md.resume();
    assertThat(completed()).containsExactlyElementsOf(sent);
  }

  @Test
  void requeuedIoIsKeptByANoflushSuspendAndReplayedAfterResume() throws Exception {
    MappedDevice md = dm.create("vol", "0 100 holder disk");
    holder.hold = true;
    Bio w = write(5);
    md.submit(w);
    assertThat(holder.held).hasSize(1);
    holder.requeueOnEnd = true;
    CompletableFuture<Void> suspend =
        CompletableFuture.runAsync(() -> md.suspend(SuspendMode.NOFLUSH));
    awaitBlocked(md);
    holder.hold = false;
    holder.release(); // completes below, the target pushes it back
    suspend.get(5, TimeUnit.MINUTES);
    assertThat(md.isSuspended()).isTrue();
    assertThat(completed()).isEmpty();
    holder.requeueOnEnd = false;
    md.resume();
    assertThat(completed()).containsExactly(w);
    assertThat(w.status()).isEqualTo(BlockStatus.OK);
    assertThat(holder.maps.get()).isEqualTo(2);
  }

  @Test
  void requeuedIoFailsWithoutNoflush() throws Exception {
    MappedDevice md = dm.create("vol", "0 100 holder disk");
    holder.hold = true;
    Bio w = write(5);
    md.submit(w);
    holder.requeueOnEnd = true;
    CompletableFuture<Void> suspend = CompletableFuture.runAsync(() -> md.suspend());
    awaitBlocked(md);
    holder.hold = false;
    holder.release();
    suspend.get(5, TimeUnit.MINUTES);
    assertThat(completed()).containsExactly(w);
    assertThat(w.status()).isEqualTo(BlockStatus.IOERR);
    holder.requeueOnEnd = false;
    md.resume();
  }

  /** Waits for the suspend running on another thread to hold new I/O (no time is assumed). */
  private static void awaitBlocked(MappedDevice md) {
    while (!md.isIoBlocked()) {
      Thread.onSpinWait();
    }
  }

  @Test
  void requeuedIoBeforeTheBlockWaitsForResumeInsteadOfRecursing() {
    MappedDevice md = dm.create("vol", "0 100 holder disk");
    holder.hold = true;
    Bio w = write(5);
    md.submit(w);
    // presuspend (before I/O is held) lets the bio go; the target pushes it back once
    holder.requeueOnce.set(1);
    holder.releaseOnPresuspend = true;
    md.suspend(SuspendMode.NOFLUSH);
    assertThat(completed()).as("kept, not reissued on the suspending stack").isEmpty();
    assertThat(holder.maps.get()).isEqualTo(1);
    md.resume();
    assertThat(completed()).containsExactly(w);
    assertThat(w.status()).isEqualTo(BlockStatus.OK);
    assertThat(holder.maps.get()).isEqualTo(2);
  }

  @Test
  void aSuspendThatCannotDrainIsUndoneAfterItsTimeout() {
    MappedDevice md = dm.create("vol", "0 100 holder disk");
    holder.hold = true;
    Bio w = write(1);
    md.submit(w);
    assertThat(md.suspend(SuspendMode.NOLOCKFS, Duration.ofMillis(20))).isFalse();
    assertThat(md.isSuspended()).isFalse();
    holder.hold = false;
    Bio next = write(2);
    md.submit(next); // runs at once: the device is not blocked
    assertThat(completed()).containsExactly(next);
    holder.release();
    assertThat(completed()).containsExactly(next, w);
  }

  @Test
  void aRefusedPreresumeKeepsTheDeviceSuspended() {
    MappedDevice md = dm.create("vol", "0 100 linear disk 0");
    holder.refusePreresume = true;
    md.load("0 100 holder disk");
    assertThatThrownBy(md::resume).isInstanceOf(DmException.class).hasMessage("no key");
    assertThat(md.isSuspended()).isTrue();
    assertThat(md.table()).isEqualTo("0 100 holder \n");
    md.submit(write(0));
    assertThat(completed()).isEmpty();
    holder.refusePreresume = false;
    md.resume();
    assertThat(completed()).hasSize(1);
  }

  @Test
  void limitsAreKeptWhenTheNewTableHasNoDataDevices() {
    MemoryBlockDevice big = MemoryBlockDevice.builder("4k", 800).logicalBlockSize(4096).build();
    dm.registerDevice("4k", big);
    MappedDevice md = dm.create("vol", "0 800 linear 4k 0");
    assertThat(md.limits().logicalBlockSize()).isEqualTo(4096);
    md.load("0 800 error");
    md.resume();
    assertThat(md.limits().logicalBlockSize()).isEqualTo(4096);
    md.load("0 800 linear disk 0");
    md.resume();
    assertThat(md.limits().logicalBlockSize()).isEqualTo(512);
  }

  @Test
  void messagesGoToTheTargetAtTheSector() {
    MappedDevice md = dm.create("vol", "0 100 zero\n100 100 holder disk");
    assertThat(md.message(150, "ping", "a", "b")).isEqualTo("pong 2");
    assertThat(dm.message("vol", 100, "ping")).isEqualTo("pong 0");
    assertThatThrownBy(() -> md.message(150, "nope")).hasMessage("holder: unknown message nope");
    assertThatThrownBy(() -> md.message(10, "ping"))
        .isInstanceOf(TargetException.class)
        .hasMessage("Target type does not support messages");
    assertThatThrownBy(() -> md.message(200, "ping"))
        .hasMessage("Target message sector outside device.");
    assertThatThrownBy(() -> dm.create("x").message(0, "ping"))
        .hasMessage("The device has no table.");
  }

  @Test
  void statisticsCountEachBioOnce() throws IOException {
    MappedDevice md = dm.create("vol", "0 64 linear disk 0\n64 64 linear disk 64");
    md.write(ByteBuffer.allocate(8 * 512), 60 * 512L); // split in two parts: one I/O
    md.read(ByteBuffer.allocate(512), 0);
    md.read(ByteBuffer.allocate(1024), 0);
    md.flush();
    md.discard(0, 4096);
    IoStats s = md.stats();
    assertThat(s.writeIos()).isEqualTo(1);
    assertThat(s.writeSectors()).isEqualTo(8);
    assertThat(s.readIos()).isEqualTo(2);
    assertThat(s.readSectors()).isEqualTo(3);
    // no write cache below: the flush completes before reaching the table, as in the block layer
    assertThat(s.flushIos()).isZero();
    assertThat(s.discardIos()).isEqualTo(1);
    assertThat(s.discardSectors()).isEqualTo(8);
    assertThat(s.inFlight()).isZero();
    assertThat(s.toString())
        .isEqualTo(
            "       2        0        3        0        1        0        8        0        0 "
                + "       0        0        1        0        8        0        0        0");
    assertThat(s.toDiskstatsLine(md.number(), "dm-0"))
        .isEqualTo(" 253       0 dm-0 2 0 3 0 1 0 8 0 0 0 0 1 0 8 0 0 0");
  }

  @Test
  void ioTimingUsesTheClock() throws IOException {
    long[] now = {0};
    try (DeviceMapper timed =
        DeviceMapper.builder()
            .registry(TargetRegistry.builtins())
            .ioTiming(true)
            .clock(
                new Clock() {
                  @Override
                  public long nanoTime() {
                    return now[0] += 3_000_000;
                  }

                  @Override
                  public Timeout schedule(Runnable task, long delayNanos) {
                    throw new UnsupportedOperationException();
                  }
                })
            .build()) {
      MappedDevice md = timed.create("t", "0 8 zero");
      md.read(ByteBuffer.allocate(512), 0);
      assertThat(md.stats().readTicks()).isEqualTo(3);
    }
  }

  @Test
  void unalignedBiosAreInvalid() {
    MemoryBlockDevice big = MemoryBlockDevice.builder("4k", 800).logicalBlockSize(4096).build();
    dm.registerDevice("4k", big);
    MappedDevice md = dm.create("vol", "0 800 linear 4k 0");
    md.submit(Bio.read(1, ByteBuffer.allocate(4096), this::done));
    md.submit(Bio.read(0, ByteBuffer.allocate(512), this::done));
    assertThat(completed()).extracting(Bio::status).containsOnly(BlockStatus.INVAL);
  }

  @Test
  void aSplitBioComesBackAsItWasSubmitted() throws Exception {
    MemoryBlockDevice other = MemoryBlockDevice.create("other", 4096);
    dm.registerDevice("other", other);
    MappedDevice md = dm.create("s", "0 1024 striped 2 8 disk 0 other 0");
    ByteBuffer data = ByteBuffer.allocate(32 * 512 + 512);
    for (int i = 0; i < data.capacity(); i++) {
      data.put(i, (byte) i);
    }
    data.position(512);
    md.submit(Bio.write(3, data, this::done));
    ByteBuffer back = ByteBuffer.allocate(32 * 512 + 512).position(512);
    Bio read = Bio.read(3, back, this::done);
    md.submit(read);
    assertThat(read.status()).isEqualTo(BlockStatus.OK);
    assertThat(read.sector()).isEqualTo(3);
    assertThat(read.sectors()).isEqualTo(32);
    assertThat(read.dataOffset()).isEqualTo(512);
    assertThat(read.payload()).isEqualTo(data.slice(512, 32 * 512));
  }

  @Test
  void aThrowingCallbackIsNotTurnedIntoASecondCompletion() {
    dm.create("lower", "0 100 linear disk 0");
    MappedDevice md = dm.create("upper", "0 100 linear lower 0");
    List<BlockStatus> seen = new ArrayList<>();
    Bio bio =
        Bio.read(
            0,
            ByteBuffer.allocate(512),
            b -> {
              seen.add(b.status());
              throw new IllegalStateException("callback bug");
            });
    assertThatThrownBy(() -> md.submit(bio)).hasMessage("callback bug");
    assertThat(seen).containsExactly(BlockStatus.OK);
    assertThat(md.inFlight()).isZero();
  }

  @Test
  void aCallbackMayDoIoOnTheDeviceWhileHeldIoIsReplayed() throws IOException {
    MappedDevice md = dm.create("vol", "0 100 linear disk 0");
    md.suspend();
    List<BlockStatus> inner = new ArrayList<>();
    md.submit(
        Bio.write(
            1,
            ByteBuffer.allocate(512),
            b -> {
              try {
                ByteBuffer r = ByteBuffer.allocate(512);
                md.read(r, 512);
                inner.add(BlockStatus.OK);
              } catch (IOException e) {
                inner.add(BlockStatus.IOERR);
              }
            }));
    md.resume();
    assertThat(inner).containsExactly(BlockStatus.OK);
  }

  @Test
  void twoDevicesLoadingTablesThatUseEachOtherCannotBothSucceed() throws Exception {
    java.util.concurrent.CountDownLatch opened = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
    registry.register(
        TestTargets.type(
            "slowlinear",
            java.util.Set.of(),
            (ctx, begin, length, args) -> {
              BlockDevice dev = ctx.getDevice(args[0]).bdev();
              opened.countDown();
              try {
                go.await();
              } catch (InterruptedException e) {
                throw new IllegalStateException(e);
              }
              return bio -> {
                bio.remap(dev, bio.sector() - begin);
                return MapResult.REMAPPED;
              };
            }));
    MappedDevice a = dm.create("a", "0 100 zero");
    MappedDevice b = dm.create("b", "0 100 zero");
    CompletableFuture<Void> loadA = CompletableFuture.runAsync(() -> a.load("0 100 slowlinear b"));
    opened.await(5, TimeUnit.MINUTES); // a's load holds b and waits
    assertThatThrownBy(() -> b.load("0 100 linear a 0"))
        .hasMessageContaining("a depends on b (dependency loop)");
    go.countDown();
    loadA.get(5, TimeUnit.MINUTES);
    assertThat(a.hasInactiveTable()).isTrue();
  }

  @Test
  void aRemovedDeviceRefusesIoAndFailsHeldIo() {
    MappedDevice md = dm.create("vol", "0 100 linear disk 0");
    md.suspend();
    Bio held = write(3);
    md.submit(held);
    md.remove();
    assertThat(held.status()).isEqualTo(BlockStatus.IOERR);
    assertThatThrownBy(() -> md.submit(write(0))).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> md.load("0 8 zero"))
        .isInstanceOf(DmException.class)
        .hasMessageContaining("has been removed");
    md.remove(); // idempotent
  }
}
