package io.jdm.targets.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.Bio;
import io.jdm.core.BlockIOException;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The snapshot targets' own behaviour: status and table text, copy-out on origin writes, writes
 * waiting for a copy, reads during a copy, one copy per chunk, a full store ({@code PO} and {@code
 * P}), exceptions restored on reload.
 */
@ExtendWith(Seeds.class)
class SnapshotTest {
  static final int SECTORS = 2048;

  long seed;
  DeviceMapper dm;
  MemoryBlockDevice realMem;
  MemoryBlockDevice cowMem;
  GateDevice real;
  GateDevice cow;

  @BeforeEach
  void setUp() {
    seed = Seeds.next();
    dm = DeviceMapper.builder().seed(seed).build();
    realMem = MemoryBlockDevice.create("realmem", SECTORS);
    cowMem = MemoryBlockDevice.create("cowmem", 4096);
    real = new GateDevice(realMem);
    cow = new GateDevice(cowMem);
    dm.registerDevice("real", real); // 240:0
    dm.registerDevice("cow", cow); // 240:1
  }

  @AfterEach
  void tearDown() throws IOException {
    real.releaseAll();
    cow.releaseAll();
    dm.close();
    realMem.close();
    cowMem.close();
  }

  static ByteBuffer fill(int sectors, int value) {
    ByteBuffer b = ByteBuffer.allocate(sectors * 512);
    Arrays.fill(b.array(), (byte) value);
    return b;
  }

  static ByteBuffer read(MappedDevice d, long sector, int sectors) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(sectors * 512);
    d.read(b, sector * 512);
    return b.flip();
  }

  static void write(MappedDevice d, long sector, int sectors, int value) throws IOException {
    d.write(fill(sectors, value), sector * 512);
  }

  static CompletableFuture<BlockStatus> submitWrite(MappedDevice d, long sector, ByteBuffer b) {
    CompletableFuture<BlockStatus> f = new CompletableFuture<>();
    d.submit(Bio.write(sector, b, x -> f.complete(x.status())));
    return f;
  }

  static CompletableFuture<BlockStatus> submitRead(MappedDevice d, long sector, ByteBuffer b) {
    CompletableFuture<BlockStatus> f = new CompletableFuture<>();
    d.submit(Bio.read(sector, b, x -> f.complete(x.status())));
    return f;
  }

  static BlockStatus await(CompletableFuture<BlockStatus> f) throws Exception {
    return f.get(30, TimeUnit.SECONDS);
  }

  MappedDevice origin() {
    return dm.create("origin", "0 " + SECTORS + " snapshot-origin real");
  }

  MappedDevice snapshot(String store, int chunk) {
    return dm.create("snap", "0 " + SECTORS + " snapshot real cow " + store + " " + chunk);
  }

  ByteBuffer cowChunk(long chunk, int chunkSectors) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(chunkSectors * 512).order(ByteOrder.LITTLE_ENDIAN);
    cowMem.read(b, chunk * chunkSectors * 512);
    return b.flip();
  }

  // ---------------------------------------------------------------------------------------------

  @Test
  void tableAndStatusTextAreTheKernels() throws IOException {
    MappedDevice o = origin();
    MappedDevice s = snapshot("P", 8);
    assertThat(o.table()).isEqualTo("0 2048 snapshot-origin 240:0\n");
    assertThat(s.table()).isEqualTo("0 2048 snapshot 240:0 240:1 P 8\n");
    // header and area 0 allocated: next_free 2, metadata (0 + 2) chunks
    assertThat(s.status()).isEqualTo("0 2048 snapshot 16/4096 16\n");
    write(s, 0, 8, 1);
    assertThat(s.status()).isEqualTo("0 2048 snapshot 24/4096 16\n");
    write(o, 64, 8, 2);
    assertThat(s.status()).isEqualTo("0 2048 snapshot 32/4096 16\n");
    assertThat(o.status()).isEqualTo("0 2048 snapshot-origin \n");
    s.close();

    s = dm.create("snap", "0 2048 snapshot real cow po 8 1 discard_zeroes_cow");
    assertThat(s.table()).isEqualTo("0 2048 snapshot 240:0 240:1 PO 8 1 discard_zeroes_cow\n");
    assertThat(s.status()).isEqualTo("0 2048 snapshot 32/4096 16\n");
    s.close();
    cowMem.discard(0, 4096L * 512);
    s =
        dm.create(
            "snap", "0 2048 snapshot real cow N 16 2 discard_zeroes_cow discard_passdown_origin");
    assertThat(s.table())
        .isEqualTo(
            "0 2048 snapshot 240:0 240:1 N 16 2 discard_zeroes_cow discard_passdown_origin\n");
    assertThat(s.status()).isEqualTo("0 2048 snapshot 0/4096 0\n");
    write(s, 0, 8, 1);
    assertThat(s.status()).isEqualTo("0 2048 snapshot 16/4096 0\n");
  }

  @Test
  void chunkSizeZeroTakesTheHeadersOrTheDefault() throws IOException {
    MappedDevice s = snapshot("P", 0);
    assertThat(s.table()).isEqualTo("0 2048 snapshot 240:0 240:1 P 32\n");
    s.close();
    s = snapshot("P", 8); // the header's chunk size wins over the table's
    assertThat(s.table()).isEqualTo("0 2048 snapshot 240:0 240:1 P 32\n");
    assertThat(s.status()).isEqualTo("0 2048 snapshot 64/4096 64\n");
    s.close();
    s = snapshot("P", 0);
    assertThat(s.table()).isEqualTo("0 2048 snapshot 240:0 240:1 P 32\n");
  }

  @Test
  void originWritesCopyOutToEverySnapshotAndSnapshotsKeepTheirOwnWrites() throws IOException {
    MemoryBlockDevice cow2 = MemoryBlockDevice.create("cow2", 4096);
    try {
      dm.registerDevice("cow2", cow2);
      write(dm.create("init", "0 2048 linear real 0"), 0, SECTORS, 0xA1);
      dm.remove("init");
      MappedDevice o = origin();
      MappedDevice s1 = snapshot("P", 8);
      MappedDevice s2 = dm.create("snap2", "0 2048 snapshot real cow2 N 16");
      Random rnd = new Random(seed);
      for (int i = 0; i < 40; i++) {
        int len = 1 + rnd.nextInt(40);
        long at = rnd.nextInt(SECTORS - len);
        write(o, at, len, 0xB0 + i);
      }
      write(s1, 100, 3, 0xC1);
      write(s2, 200, 20, 0xC2);
      ByteBuffer want1 = fill(SECTORS, 0xA1);
      want1.put(100 * 512, fill(3, 0xC1), 0, 3 * 512);
      ByteBuffer want2 = fill(SECTORS, 0xA1);
      want2.put(200 * 512, fill(20, 0xC2), 0, 20 * 512);
      assertThat(read(s1, 0, SECTORS)).isEqualTo(want1);
      assertThat(read(s2, 0, SECTORS)).isEqualTo(want2);
      ByteBuffer originNow = read(o, 0, SECTORS);
      write(o, 0, SECTORS, 0xEE); // every chunk now copied out or already there
      assertThat(read(s1, 0, SECTORS)).isEqualTo(want1);
      assertThat(read(s2, 0, SECTORS)).isEqualTo(want2);
      assertThat(originNow).isNotEqualTo(read(o, 0, SECTORS));
    } finally {
      dm.close();
      cow2.close();
    }
  }

  @Test
  void originWritesWaitForTheCopyAndConcurrentWritesCopyOnce() throws Exception {
    MappedDevice o = origin();
    MappedDevice s = snapshot("P", 8);
    write(o, 0, 8, 0x11); // chunk 0 copied (zeros) and now 0x11 on the origin
    write(o, 8, 8, 0x22); // chunk 1 copied
    // stop the copy of chunk 2 at its COW chunk (header, area 0, chunks 0 and 1, then chunk 4)
    cow.hold(b -> b.op() == Bio.Op.WRITE && b.sector() == 4 * 8L);
    CompletableFuture<BlockStatus> w1 = submitWrite(o, 16, fill(4, 0x33));
    cow.awaitHeld(1);
    CompletableFuture<BlockStatus> w2 = submitWrite(o, 20, fill(4, 0x44));
    ByteBuffer during = ByteBuffer.allocate(8 * 512);
    assertThat(await(submitRead(s, 16, during))).isEqualTo(BlockStatus.OK);
    assertThat(during).as("snapshot read during the copy").isEqualTo(fill(8, 0));
    assertThat(read(o, 16, 8))
        .as("origin not written before its chunk is copied")
        .isEqualTo(fill(8, 0));
    assertThat(w1.isDone() || w2.isDone()).isFalse();
    cow.releaseAll();
    assertThat(await(w1)).isEqualTo(BlockStatus.OK);
    assertThat(await(w2)).isEqualTo(BlockStatus.OK);
    assertThat(cow.writesAt(4 * 8L)).as("chunk 2 copied once").isEqualTo(1);
    ByteBuffer want = fill(8, 0x33);
    want.put(4 * 512, fill(4, 0x44), 0, 4 * 512);
    assertThat(read(o, 16, 8)).isEqualTo(want);
    assertThat(read(s, 0, 24)).isEqualTo(fill(24, 0));
  }

  @Test
  void snapshotReadsFromTheOriginHoldBackTheOriginWriteUntilTheyEnd() throws Exception {
    write(dm.create("init", "0 2048 linear real 0"), 0, SECTORS, 0x5A);
    dm.remove("init");
    MappedDevice o = origin();
    MappedDevice s = snapshot("P", 8);
    real.hold(b -> b.op() == Bio.Op.READ);
    ByteBuffer snapRead = ByteBuffer.allocate(8 * 512);
    CompletableFuture<BlockStatus> r = submitRead(s, 40, snapRead);
    real.awaitHeld(1); // the snapshot's read of chunk 5, from the origin
    real.hold(b -> false);
    CompletableFuture<BlockStatus> w = submitWrite(o, 40, fill(8, 0x77));
    // the copy runs and commits, but the write must not reach the origin under the read
    cow.awaitWrite(8, Bio.FUA); // area 0 committed
    assertThat(w.isDone()).isFalse();
    ByteBuffer now = ByteBuffer.allocate(8 * 512);
    realMem.read(now, 40 * 512);
    assertThat(now.flip()).isEqualTo(fill(8, 0x5A));
    real.releaseAll();
    assertThat(await(r)).isEqualTo(BlockStatus.OK);
    assertThat(snapRead).isEqualTo(fill(8, 0x5A));
    assertThat(await(w)).isEqualTo(BlockStatus.OK);
    assertThat(read(o, 40, 8)).isEqualTo(fill(8, 0x77));
    assertThat(read(s, 40, 8)).isEqualTo(fill(8, 0x5A));
  }

  @Test
  void fullPoStoreOverflowsSnapshotWritesFailReadsWork() throws IOException {
    dm.registerDevice("small", MemoryBlockDevice.create("small", 32)); // header, area, 2 chunks
    MappedDevice o = origin();
    MappedDevice s = dm.create("snap", "0 2048 snapshot real small PO 8");
    write(s, 0, 8, 1);
    write(s, 8, 8, 2);
    int events = s.info().eventNr();
    assertThatThrownBy(() -> write(s, 16, 8, 3)).isInstanceOf(BlockIOException.class);
    assertThat(s.status()).isEqualTo("0 2048 snapshot Overflow\n");
    assertThatThrownBy(() -> write(s, 0, 8, 4)).isInstanceOf(BlockIOException.class);
    assertThat(read(s, 0, 16)).isEqualTo(concat(fill(8, 1), fill(8, 2)));
    assertThat(read(s, 16, 8)).isEqualTo(fill(8, 0));
    assertThat(s.info().eventNr()).isEqualTo(events);
    write(o, 0, 8, 9); // chunk 0 has its exception: nothing to copy
    assertThat(s.status()).isEqualTo("0 2048 snapshot Overflow\n");
    write(o, 512, 8, 9); // no room to copy: the origin write still succeeds
    assertThat(read(o, 512, 8)).isEqualTo(fill(8, 9));
    assertThat(s.status()).isEqualTo("0 2048 snapshot Invalid\n");
  }

  @Test
  void fullPStoreInvalidatesTheSnapshotOnDiskWithAnEvent() throws IOException {
    MemoryBlockDevice small = MemoryBlockDevice.create("small", 32);
    dm.registerDevice("small", small);
    MappedDevice o = origin();
    MappedDevice s = dm.create("snap", "0 2048 snapshot real small P 8");
    write(s, 0, 8, 1);
    write(o, 8, 8, 2);
    int events = s.info().eventNr();
    assertThatThrownBy(() -> write(s, 16, 8, 3)).isInstanceOf(BlockIOException.class);
    assertThat(s.status()).isEqualTo("0 2048 snapshot Invalid\n");
    assertThat(s.info().eventNr()).isGreaterThan(events);
    assertThatThrownBy(() -> read(s, 0, 8)).isInstanceOf(BlockIOException.class);
    write(o, 24, 8, 5);
    assertThat(read(o, 24, 8)).isEqualTo(fill(8, 5));
    s.suspend(); // postsuspend waits for the header write
    ByteBuffer h = ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
    small.read(h, 0);
    assertThat(h.getInt(0)).isEqualTo(0x70416e53);
    assertThat(h.getInt(4)).as("valid").isZero();
    s.resume();
    s.close();
    MappedDevice again = dm.create("snap", "0 2048 snapshot real small P 8");
    assertThat(again.status()).isEqualTo("0 2048 snapshot Invalid\n");
    assertThatThrownBy(() -> read(again, 0, 8)).isInstanceOf(BlockIOException.class);
  }

  static ByteBuffer concat(ByteBuffer a, ByteBuffer b) {
    ByteBuffer c = ByteBuffer.allocate(a.remaining() + b.remaining());
    return c.put(a).put(b).flip();
  }

  @Test
  void exceptionsAreRestoredWhenTheTableIsLoadedAgain() throws IOException {
    write(dm.create("init", "0 2048 linear real 0"), 0, SECTORS, 0x42);
    dm.remove("init");
    MappedDevice o = origin();
    MappedDevice s = snapshot("P", 4);
    Random rnd = new Random(seed);
    // enough exceptions to fill area 0 (128 of 4-sector chunks) and go on into area 1
    for (int i = 0; i < 200; i++) {
      write(o, rnd.nextInt(SECTORS / 4) * 4L, 4, i);
    }
    write(s, 7, 2, 0x99);
    ByteBuffer before = read(s, 0, SECTORS);
    String status = s.status();
    s.close();
    o.close();
    MappedDevice again = snapshot("P", 4);
    assertThat(again.status()).isEqualTo(status);
    assertThat(read(again, 0, SECTORS)).isEqualTo(before);
    // a reload of the live table hands the exceptions over, for the transient store too
    again.load(again.table());
    again.resume();
    assertThat(read(again, 0, SECTORS)).isEqualTo(before);
    again.close();
    cowMem.discard(0, 4096L * 512);
    MappedDevice n = snapshot("N", 8);
    write(n, 3, 1, 0x31);
    n.load(n.table());
    n.resume();
    ByteBuffer want = ByteBuffer.allocate(8 * 512);
    realMem.read(want, 0);
    want.put(3 * 512, fill(1, 0x31), 0, 512).clear();
    assertThat(read(n, 0, 8)).isEqualTo(want);
  }

  @Test
  void aFailedCopyInvalidatesTheSnapshotAndTheOriginWriteGoesOn() throws IOException {
    MappedDevice o = origin();
    MappedDevice s = snapshot("P", 8);
    write(o, 0, 8, 1);
    cow.fail(b -> b.op() == Bio.Op.WRITE && b.sector() == 3 * 8L); // the next copy's COW chunk
    int events = s.info().eventNr();
    write(o, 8, 8, 2);
    assertThat(read(o, 8, 8)).isEqualTo(fill(8, 2));
    assertThat(s.status()).isEqualTo("0 2048 snapshot Invalid\n");
    assertThat(s.info().eventNr()).isGreaterThan(events);
    assertThatThrownBy(() -> read(s, 0, 8)).isInstanceOf(BlockIOException.class);
    cow.fail(b -> false);
    s.suspend();
    ByteBuffer h = ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
    cowMem.read(h, 0);
    assertThat(h.getInt(4)).as("valid").isZero();
  }
}
