package io.jdm.targets.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.TableException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code snapshot-merge}: LVM's {@code lvconvert --merge} (the merge table takes the place of the
 * origin and the exceptions over from the snapshot), runs of consecutive chunks newest first, I/O
 * during the merge, and a merge interrupted in the middle going on from the store.
 */
@ExtendWith(Seeds.class)
class SnapshotMergeTest {
  static final int SECTORS = 2048;
  long seed;
  DeviceMapper dm;
  MemoryBlockDevice realMem;
  MemoryBlockDevice cowMem;
  GateDevice real;

  @BeforeEach
  void setUp() throws IOException {
    seed = Seeds.next();
    dm = DeviceMapper.builder().seed(seed).build();
    realMem = MemoryBlockDevice.create("realmem", SECTORS);
    cowMem = MemoryBlockDevice.create("cowmem", 4096);
    byte[] p = new byte[SECTORS * 512];
    new Random(seed).nextBytes(p);
    realMem.write(ByteBuffer.wrap(p), 0);
    real = new GateDevice(realMem);
    dm.registerDevice("real", real);
    dm.registerDevice("cow", cowMem);
  }

  @AfterEach
  void tearDown() throws IOException {
    real.releaseAll();
    dm.close();
    realMem.close();
    cowMem.close();
  }

  static ByteBuffer fill(int sectors, int value) {
    ByteBuffer b = ByteBuffer.allocate(sectors * 512);
    Arrays.fill(b.array(), (byte) value);
    return b;
  }

  static ByteBuffer read(io.jdm.core.BlockDevice d, long sector, int sectors) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(sectors * 512);
    d.read(b, sector * 512);
    return b.flip();
  }

  /** Waits (bounded) until the merge status shows allocated == metadata. */
  static void awaitMerged(MappedDevice lv) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      String[] f = lv.status().trim().split(" ");
      String[] used = f[3].split("/");
      if (f.length == 5 && used[0].equals(f[4])) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("merge not done: " + lv.status());
      }
      Thread.onSpinWait();
    }
  }

  /** The origin {@code lv} and its snapshot {@code snap}, with writes to both. */
  private ByteBuffer origAndSnapWithWrites(MappedDevice lv, MappedDevice snap, long[] snapChunks)
      throws IOException {
    Random rnd = new Random(seed);
    for (long c : snapChunks) {
      snap.write(fill(8, (int) c + 1), c * 8 * 512);
    }
    for (int i = 0; i < 30; i++) {
      int len = 1 + rnd.nextInt(24);
      lv.write(fill(len, 0x80 + i), (long) rnd.nextInt(SECTORS - len) * 512);
    }
    return read(snap, 0, SECTORS);
  }

  /** {@code lvconvert --merge}: suspend both, the merge table in place of the origin, resume. */
  private MappedDevice startMerge(MappedDevice lv, MappedDevice snap) {
    lv.suspend();
    snap.suspend();
    lv.load("0 " + SECTORS + " snapshot-merge real cow P 8");
    lv.resume();
    dm.remove("snap");
    return lv;
  }

  @Test
  void theMergeMakesTheOriginWhatTheSnapshotWasNewestRunFirst() throws IOException {
    MappedDevice lv = dm.create("lv", "0 " + SECTORS + " snapshot-origin real");
    MappedDevice snap = dm.create("snap", "0 " + SECTORS + " snapshot real cow P 8");
    // snapshot writes to chunks 10, 11, 12 (COW chunks 2, 3, 4: one run) and 5 (COW chunk 5)
    ByteBuffer want = origAndSnapWithWrites(lv, snap, new long[] {10, 11, 12, 5});
    assertThat(lv.status()).isEqualTo("0 2048 snapshot-origin \n");
    real.clearLog();
    startMerge(lv, snap);
    assertThat(lv.table()).isEqualTo("0 2048 snapshot-merge 240:0 240:1 P 8\n");
    assertThat(read(lv, 0, SECTORS)).as("during the merge").isEqualTo(want);
    awaitMerged(lv);
    assertThat(lv.status()).isEqualTo("0 2048 snapshot-merge 16/4096 16\n");
    assertThat(read(lv, 0, SECTORS)).isEqualTo(want);
    assertThat(read(realMem, 0, SECTORS)).isEqualTo(want);
    List<GateDevice.Io> copies = new ArrayList<>();
    for (GateDevice.Io io : real.log()) {
      if (io.op() == Bio.Op.WRITE && io.sector() % 8 == 0 && io.sectors() % 8 == 0) {
        copies.add(io);
      }
    }
    // exceptions: 10->2, 11->3, 12->4, 5->5 plus whatever the origin writes made after them
    assertThat(copies).contains(new GateDevice.Io(Bio.Op.WRITE, 0, 80, 24));
    int run = copies.indexOf(new GateDevice.Io(Bio.Op.WRITE, 0, 80, 24));
    int single = copies.indexOf(new GateDevice.Io(Bio.Op.WRITE, 0, 40, 8));
    assertThat(single).as("chunk 5, newer, merged before the run").isBetween(0, run);
    // merged: the origin is a plain origin again
    lv.load("0 " + SECTORS + " snapshot-origin real");
    lv.resume();
    assertThat(read(lv, 0, SECTORS)).isEqualTo(want);
  }

  @Test
  void ioDuringTheMergeWaitsAndAMergeCutShortGoesOnFromTheStore() throws Exception {
    MappedDevice lv = dm.create("lv", "0 " + SECTORS + " snapshot-origin real");
    MappedDevice snap = dm.create("snap", "0 " + SECTORS + " snapshot real cow P 8");
    ByteBuffer want = origAndSnapWithWrites(lv, snap, new long[] {10, 11, 12, 5});
    real.hold(b -> b.op() == Bio.Op.WRITE && b.sector() == 80); // the run's copy to the origin
    startMerge(lv, snap);
    real.awaitHeld(1);
    String[] progress = lv.status().trim().split(" ");
    assertThat(Long.parseLong(progress[3].split("/")[0]))
        .as("progress: %s", lv.status())
        .isGreaterThan(Long.parseLong(progress[4]));
    // the images now: chunk 5 merged and cleared in the store, the run not yet
    MemoryBlockDevice realCopy = MemoryBlockDevice.create("realcopy", SECTORS);
    MemoryBlockDevice cowCopy = MemoryBlockDevice.create("cowcopy", 4096);
    realCopy.write(read(realMem, 0, SECTORS), 0);
    cowCopy.write(read(cowMem, 0, 4096), 0);
    assertThat(read(lv, 80, 24))
        .as("reads of chunks being merged")
        .isEqualTo(read(snap(want), 80, 24));
    CompletableFuture<BlockStatus> w = new CompletableFuture<>();
    lv.submit(Bio.write(84, fill(2, 0x5C), b -> w.complete(b.status())));
    CompletableFuture<BlockStatus> other = new CompletableFuture<>();
    lv.submit(Bio.write(0, fill(2, 0x5D), b -> other.complete(b.status())));
    assertThat(other.get(30, TimeUnit.SECONDS)).isEqualTo(BlockStatus.OK);
    assertThat(w.isDone()).as("a write to a chunk being merged waits").isFalse();
    real.releaseAll();
    assertThat(w.get(30, TimeUnit.SECONDS)).isEqualTo(BlockStatus.OK);
    awaitMerged(lv);
    ByteBuffer after = want.duplicate();
    ByteBuffer now = ByteBuffer.allocate(SECTORS * 512).put(after).flip();
    now.put(84 * 512, fill(2, 0x5C), 0, 1024).put(0, fill(2, 0x5D), 0, 1024);
    assertThat(read(lv, 0, SECTORS)).isEqualTo(now);

    // the copies taken mid-merge, loaded in another device mapper: the merge goes on
    try (DeviceMapper dm2 = DeviceMapper.create()) {
      dm2.registerDevice("real", realCopy);
      dm2.registerDevice("cow", cowCopy);
      MappedDevice lv2 = dm2.create("lv", "0 " + SECTORS + " snapshot-merge real cow P 8");
      assertThat(read(lv2, 0, SECTORS)).isEqualTo(want);
      awaitMerged(lv2);
      assertThat(read(realCopy, 0, SECTORS)).isEqualTo(want);
    } finally {
      realCopy.close();
      cowCopy.close();
    }
  }

  private static io.jdm.core.BlockDevice snap(ByteBuffer image) throws IOException {
    MemoryBlockDevice d = MemoryBlockDevice.create("img", SECTORS);
    d.write(image.duplicate(), 0);
    return d;
  }

  @Test
  void mergeArgumentErrors() throws IOException {
    dm.create("snap", "0 " + SECTORS + " snapshot real cow P 8");
    assertThatThrownBy(() -> dm.create("m", "0 " + SECTORS + " snapshot-merge real cow N 8"))
        .isInstanceOf(TableException.class)
        .hasMessageContaining("Snapshot exception store does not support snapshot-merge.");
    MappedDevice m = dm.create("m");
    m.load("0 " + SECTORS + " snapshot-merge real cow P 8"); // waits for the handover at resume
    assertThatThrownBy(m::resume)
        .hasMessageContaining("Unable to perform snapshot handover until source is suspended.");
    assertThatThrownBy(() -> dm.create("m2", "0 " + SECTORS + " snapshot real cow P 8"))
        .hasMessageContaining("Snapshot cow pairing for exception table handover failed");
    dm.registerDevice("cow2", MemoryBlockDevice.create("cow2", 4096));
    dm.create("snap2", "0 " + SECTORS + " snapshot real cow2 P 8");
    assertThatThrownBy(() -> dm.create("m3", "0 " + SECTORS + " snapshot-merge real cow2 P 8"))
        .hasMessageContaining("A snapshot is already merging.");
  }

  @Test
  void aFailedMergeCopyShowsMergeFailedAndFailsTheWritesItHeld() throws Exception {
    MappedDevice lv = dm.create("lv", "0 " + SECTORS + " snapshot-origin real");
    MappedDevice snap = dm.create("snap", "0 " + SECTORS + " snapshot real cow P 8");
    origAndSnapWithWrites(lv, snap, new long[] {10, 11, 12});
    real.hold(b -> b.op() == Bio.Op.WRITE && b.sector() == 80);
    startMerge(lv, snap);
    real.awaitHeld(1);
    CompletableFuture<BlockStatus> w = new CompletableFuture<>();
    lv.submit(Bio.write(88, fill(1, 0x11), b -> w.complete(b.status())));
    real.hold(b -> false);
    real.failHeld(0);
    assertThat(w.get(30, TimeUnit.SECONDS)).isEqualTo(BlockStatus.IOERR);
    assertThat(lv.status()).isEqualTo("0 2048 snapshot-merge Merge failed\n");
  }
}
