package io.jdm.targets.mirror;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.testkit.crash.CrashCheck;
import io.jdm.testkit.crash.CrashRecorder;
import io.jdm.testkit.crash.CrashRecording;
import io.jdm.testkit.crash.CrashReport;
import io.jdm.testkit.crash.CrashTester;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * The {@code mirror} target with a {@code disk} log under every crash state of a recorded workload.
 *
 * <p>One recorded device holds the log (from sector 0) and both legs of a 256-sector mirror in 16
 * regions of 16 sectors. A seeded workload writes through the real target: batches of one to three
 * concurrent writes, each to sectors written once only, some with FUA, and now and then a flush; it
 * marks every FUA write and every flush once they complete. In every crash state:
 *
 * <ol>
 *   <li>a region the log on disk has clean has equal legs (what the log promises before any
 *       recovery);
 *   <li>after the mirror is loaded again over the state and has resynchronised, the legs are equal
 *       everywhere, and every write acknowledged before a marked flush, and every marked FUA write,
 *       is on both legs.
 * </ol>
 *
 * By default a bounded sample of states is checked; {@code -Djdm.fullTests=true} (profile {@code
 * full-tests}) checks them all.
 */
class MirrorCrashTest {
  private static final long SEED = Long.getLong("jdm.seed", 20261203L);
  private static final boolean FULL = Boolean.getBoolean("jdm.fullTests");
  private static final int LEN = 256;
  private static final int REGION = 16;
  private static final int REGIONS = LEN / REGION;
  private static final long LEG_A = 64;
  private static final long LEG_B = LEG_A + LEN;
  private static final long SECTORS = LEG_B + LEN;
  private static final int MIRROR_MAGIC = 0x4D695272;

  /** One write of the workload. */
  private record Write(long sector, byte[] data) {}

  private static String table(String dev) {
    return "0 "
        + LEN
        + " mirror disk 2 "
        + dev
        + " "
        + REGION
        + " 2 "
        + dev
        + " "
        + LEG_A
        + " "
        + dev
        + " "
        + LEG_B;
  }

  private static void awaitInSync(MappedDevice md) {
    MirrorTarget t = (MirrorTarget) md.liveTable().orElseThrow().target(0);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (t.syncCount() != t.regionCount()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("mirror not in sync: " + md.status());
      }
      LockSupport.parkNanos(50_000);
    }
  }

  private static List<Write> record(CrashRecorder rec, DeviceMapper dm) throws IOException {
    Random rnd = new Random(SEED);
    MappedDevice md = dm.create("m", table(rec.device().name()));
    awaitInSync(md);
    rec.mark("synced");
    List<Long> free = new ArrayList<>();
    for (long s = 0; s + 1 < LEN; s += 2) {
      free.add(s);
    }
    Collections.shuffle(free, rnd);
    List<Write> writes = new ArrayList<>();
    int next = 0;
    while (next < free.size()) {
      List<CompletableFuture<BlockStatus>> batch = new ArrayList<>();
      List<Integer> fua = new ArrayList<>();
      for (int i = 1 + rnd.nextInt(3); i > 0 && next < free.size(); i--) {
        int sectors = 1 + rnd.nextInt(2);
        byte[] data = new byte[sectors * 512];
        rnd.nextBytes(data);
        int index = writes.size();
        writes.add(new Write(free.get(next++), data));
        int flags = rnd.nextInt(8) == 0 ? Bio.FUA : 0;
        if (flags != 0) {
          fua.add(index);
        }
        CompletableFuture<BlockStatus> f = new CompletableFuture<>();
        md.submit(
            Bio.write(
                writes.get(index).sector(),
                ByteBuffer.wrap(data),
                flags,
                bio -> f.complete(bio.status())));
        batch.add(f);
      }
      for (CompletableFuture<BlockStatus> f : batch) {
        assertThat(f.join()).isEqualTo(BlockStatus.OK);
      }
      for (int i : fua) {
        rec.mark("fua-" + i);
      }
      if (rnd.nextInt(6) == 0) {
        md.flush();
        rec.mark("flushed-" + writes.size());
      }
    }
    md.flush();
    rec.mark("flushed-" + writes.size());
    dm.remove("m");
    return writes;
  }

  /** Check 1: a region the log on disk has clean has equal legs. */
  private static void cleanMeansEqual(BlockDevice d) throws IOException {
    ByteBuffer log = ByteBuffer.allocate(1536).order(ByteOrder.LITTLE_ENDIAN);
    d.read(log, 0);
    if (log.getInt(0) != MIRROR_MAGIC) {
      return; // no log yet: a new one resynchronises everything
    }
    byte[] a = legBytes(d, LEG_A);
    byte[] b = legBytes(d, LEG_B);
    int rb = REGION * 512;
    for (int r = 0; r < REGIONS; r++) {
      boolean clean = (log.get(1024 + (r >>> 3)) & (1 << (r & 7))) != 0;
      if (clean) {
        assertThat(Arrays.equals(a, r * rb, (r + 1) * rb, b, r * rb, (r + 1) * rb))
            .as("region %d is clean in the log, so its legs must agree (seed %d)", r, SEED)
            .isTrue();
      }
    }
  }

  private static byte[] legBytes(BlockDevice d, long leg) throws IOException {
    byte[] bytes = new byte[LEN * 512];
    d.read(ByteBuffer.wrap(bytes), leg * 512);
    return bytes;
  }

  private static CrashCheck check(List<Write> writes) {
    return state -> {
      BlockDevice d = state.device();
      cleanMeansEqual(d);
      // Check 2: load the mirror over the state again and let it resynchronise.
      try (DeviceMapper dm = DeviceMapper.builder().seed(SEED).build()) {
        dm.registerDevice("crash", d);
        MappedDevice md = dm.create("m", table("crash"));
        awaitInSync(md);
        dm.remove("m");
      }
      byte[] a = legBytes(d, LEG_A);
      byte[] b = legBytes(d, LEG_B);
      assertThat(Arrays.equals(a, b)).as("legs equal after resync (seed %d)", SEED).isTrue();
      int durable = 0;
      List<Integer> fua = new ArrayList<>();
      for (String m : state.marks()) {
        if (m.startsWith("flushed-")) {
          durable = Math.max(durable, Integer.parseInt(m.substring(8)));
        } else if (m.startsWith("fua-")) {
          fua.add(Integer.parseInt(m.substring(4)));
        }
      }
      for (int i = 0; i < writes.size(); i++) {
        if (i >= durable && !fua.contains(i)) {
          continue;
        }
        Write w = writes.get(i);
        int from = (int) (w.sector() * 512);
        assertThat(Arrays.equals(a, from, from + w.data().length, w.data(), 0, w.data().length))
            .as("acknowledged write %d at sector %d survived (seed %d)", i, w.sector(), SEED)
            .isTrue();
      }
    };
  }

  @Test
  void everyCrashStateResyncsToEqualLegsHoldingEveryDurableWrite() throws IOException {
    CrashRecording recording;
    List<Write> writes;
    try (DeviceMapper dm = DeviceMapper.builder().seed(SEED).build();
        CrashRecorder rec = CrashRecorder.start(dm, SECTORS)) {
      writes = record(rec, dm);
      recording = rec.stop();
    }
    CrashTester tester = CrashTester.of(recording).seed(SEED);
    if (!FULL) {
      tester.randomStates(4).maxStates(600);
    }
    CrashReport report = tester.run(check(writes));
    System.out.println("mirror with a disk log: " + report);
    report.assertPassed();
    assertThat(report.statesChecked()).isGreaterThan(100);
  }
}
