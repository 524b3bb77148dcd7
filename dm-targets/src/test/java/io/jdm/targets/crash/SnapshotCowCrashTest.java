package io.jdm.targets.crash;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.crash.CrashCheck;
import io.jdm.testkit.crash.CrashRecorder;
import io.jdm.testkit.crash.CrashRecording;
import io.jdm.testkit.crash.CrashReport;
import io.jdm.testkit.crash.CrashTester;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The persistent snapshot store under every crash state of its COW device. A seeded workload writes
 * to a snapshot (each write to a chunk never written before; a flush now and then) and to its
 * origin; after each acknowledged origin write, and after each snapshot flush, a mark names what is
 * then promised. In every crash state the COW loads as a valid snapshot, and every chunk promised
 * by the last mark reads as promised: a snapshot write acknowledged before a flush, and an origin
 * chunk copied out before an acknowledged origin write.
 *
 * <p>Chunks of 2 sectors, so 64 exceptions fill a metadata area and the workload crosses into the
 * next. By default the states are bounded ({@code -Djdm.fullTests=true} checks them all).
 */
class SnapshotCowCrashTest {
  private static final long SEED = 20261203L;
  private static final int ORIGIN = 1024;
  private static final int CHUNK = 2;

  /** What mark {@code m<i>} promises: chunk -> the snapshot's bytes. */
  private final List<Map<Integer, byte[]>> promises = new ArrayList<>();

  private byte[] originImage;

  private CrashRecording record() throws IOException {
    Random rnd = new Random(SEED);
    MemoryBlockDevice real = MemoryBlockDevice.create("real", ORIGIN);
    byte[] start = new byte[ORIGIN * 512];
    rnd.nextBytes(start);
    real.write(ByteBuffer.wrap(start), 0);
    try (DeviceMapper dm = DeviceMapper.builder().seed(SEED).build();
        CrashRecorder rec = CrashRecorder.start(dm, 512)) {
      dm.registerDevice("real", real);
      MappedDevice lv = dm.create("lv", "0 " + ORIGIN + " snapshot-origin real");
      MappedDevice snap =
          dm.create(
              "snap", "0 " + ORIGIN + " snapshot real " + rec.device().name() + " P " + CHUNK);
      Map<Integer, byte[]> promised = new HashMap<>();
      Map<Integer, byte[]> unflushed = new HashMap<>();
      boolean[] touched = new boolean[ORIGIN / CHUNK];
      for (int step = 0; step < 120; step++) {
        int chunk = rnd.nextInt(ORIGIN / CHUNK);
        if (touched[chunk]) {
          continue;
        }
        touched[chunk] = true;
        int r = rnd.nextInt(10);
        if (r < 5) {
          byte[] view = Arrays.copyOfRange(start, chunk * CHUNK * 512, (chunk + 1) * CHUNK * 512);
          int len = 1 + rnd.nextInt(CHUNK);
          byte[] data = new byte[len * 512];
          rnd.nextBytes(data);
          snap.write(ByteBuffer.wrap(data), (long) chunk * CHUNK * 512);
          System.arraycopy(data, 0, view, 0, data.length);
          unflushed.put(chunk, view);
        } else {
          byte[] data = new byte[CHUNK * 512];
          rnd.nextBytes(data);
          lv.write(ByteBuffer.wrap(data), (long) chunk * CHUNK * 512);
          promised.put(
              chunk, Arrays.copyOfRange(start, chunk * CHUNK * 512, (chunk + 1) * CHUNK * 512));
          mark(rec, promised);
        }
        if (rnd.nextInt(4) == 0) {
          snap.flush();
          promised.putAll(unflushed);
          unflushed.clear();
          mark(rec, promised);
        }
      }
      dm.remove("snap");
      dm.remove("lv");
      originImage = new byte[ORIGIN * 512];
      real.read(ByteBuffer.wrap(originImage), 0);
      return rec.stop();
    } finally {
      real.close();
    }
  }

  private void mark(CrashRecorder rec, Map<Integer, byte[]> promised) {
    promises.add(new HashMap<>(promised));
    rec.mark("m" + (promises.size() - 1));
  }

  private final CrashCheck promisesKept =
      state -> {
        if (state.lastMark().isEmpty()) {
          return; // nothing promised yet; the store may not even exist
        }
        Map<Integer, byte[]> want =
            promises.get(Integer.parseInt(state.lastMark().get().substring(1)));
        try (DeviceMapper dm = DeviceMapper.create()) {
          MemoryBlockDevice real = MemoryBlockDevice.create("real", ORIGIN);
          try {
            real.write(ByteBuffer.wrap(originImage), 0);
            dm.registerDevice("real", real);
            dm.registerDevice("cow", state.device());
            MappedDevice s = dm.create("snap", "0 " + ORIGIN + " snapshot real cow P " + CHUNK);
            assertThat(s.status()).as("%s", state).doesNotContain("Invalid");
            for (Map.Entry<Integer, byte[]> e : want.entrySet()) {
              ByteBuffer b = ByteBuffer.allocate(CHUNK * 512);
              s.read(b, (long) e.getKey() * CHUNK * 512);
              assertThat(b.array())
                  .as("chunk %d promised by %s in %s", e.getKey(), state.lastMark().get(), state)
                  .isEqualTo(e.getValue());
            }
          } finally {
            real.close();
          }
        }
      };

  @Test
  void everyCrashStateLoadsAndKeepsWhatWasPromised() throws IOException {
    CrashRecording recording = record();
    CrashTester tester = CrashTester.of(recording).seed(SEED);
    if (!Boolean.getBoolean("jdm.fullTests")) {
      tester.randomStates(4).exhaustiveUpTo(4).maxStates(3000);
    }
    CrashReport report = tester.run(promisesKept);
    System.out.println("snapshot COW: " + report);
    report.assertPassed();
    assertThat(report.statesChecked()).isGreaterThan(200);
  }
}
