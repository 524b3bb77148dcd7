package io.jdm.targets.crash;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.testkit.crash.CrashCheck;
import io.jdm.testkit.crash.CrashRecorder;
import io.jdm.testkit.crash.CrashRecording;
import io.jdm.testkit.crash.CrashReport;
import io.jdm.testkit.crash.CrashTester;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A merge under every crash state: origin and COW live on one recorded device (two linear halves).
 * Once the snapshot's data is durable (mark {@code ready}) the merge runs to the end; in every
 * crash state from there on, loading {@code snapshot-merge} again and letting it finish leaves the
 * origin equal to what the snapshot was.
 */
class SnapshotMergeCrashTest {
  private static final long SEED = 20261204L;
  private static final int HALF = 512;
  private static final int CHUNK = 4;

  private byte[] snapshotView;

  private static String origin(String dev) {
    return "0 " + HALF + " linear " + dev + " 0";
  }

  private static String cow(String dev) {
    return "0 " + HALF + " linear " + dev + " " + HALF;
  }

  private CrashRecording record() throws IOException {
    Random rnd = new Random(SEED);
    try (DeviceMapper dm = DeviceMapper.builder().seed(SEED).build();
        CrashRecorder rec = CrashRecorder.start(dm, 2 * HALF)) {
      String d = rec.device().name();
      MappedDevice real = dm.create("real", origin(d));
      dm.create("cow", cow(d));
      byte[] start = new byte[HALF * 512];
      rnd.nextBytes(start);
      real.write(ByteBuffer.wrap(start), 0);
      real.flush();
      MappedDevice lv = dm.create("lv", "0 " + HALF + " snapshot-origin real");
      MappedDevice snap = dm.create("snap", "0 " + HALF + " snapshot real cow P " + CHUNK);
      for (int i = 0; i < 40; i++) {
        byte[] data = new byte[512 * (1 + rnd.nextInt(6))];
        rnd.nextBytes(data);
        long at = rnd.nextInt(HALF - 6);
        (rnd.nextBoolean() ? lv : snap).write(ByteBuffer.wrap(data), at * 512);
      }
      snapshotView = new byte[HALF * 512];
      snap.read(ByteBuffer.wrap(snapshotView), 0);
      lv.flush();
      snap.flush();
      rec.mark("ready");
      lv.suspend();
      snap.suspend();
      lv.load("0 " + HALF + " snapshot-merge real cow P " + CHUNK);
      lv.resume();
      dm.remove("snap");
      awaitMerged(lv);
      rec.mark("merged");
      dm.remove("lv");
      dm.remove("cow");
      dm.remove("real");
      return rec.stop();
    }
  }

  static void awaitMerged(MappedDevice lv) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      String[] f = lv.status().trim().split(" ");
      if (f.length == 5 && f[3].split("/")[0].equals(f[4])) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("merge not done: " + lv.status());
      }
      Thread.onSpinWait();
    }
  }

  private final CrashCheck mergeCompletes =
      state -> {
        if (state.lastMark().isEmpty()) {
          return;
        }
        try (DeviceMapper dm = DeviceMapper.create()) {
          dm.registerDevice("img", state.device());
          MappedDevice real = dm.create("real", origin("img"));
          dm.create("cow", cow("img"));
          MappedDevice lv = dm.create("lv", "0 " + HALF + " snapshot-merge real cow P " + CHUNK);
          byte[] during = new byte[HALF * 512];
          lv.read(ByteBuffer.wrap(during), 0);
          assertThat(during).as("merging view in %s", state).isEqualTo(snapshotView);
          awaitMerged(lv);
          byte[] after = new byte[HALF * 512];
          real.read(ByteBuffer.wrap(after), 0);
          assertThat(after).as("origin after the merge in %s", state).isEqualTo(snapshotView);
        }
      };

  @Test
  void aMergeCutShortAnywhereFinishesWithTheSnapshotsData() throws IOException {
    CrashRecording recording = record();
    CrashTester tester = CrashTester.of(recording).seed(SEED);
    if (!Boolean.getBoolean("jdm.fullTests")) {
      tester.randomStates(2).exhaustiveUpTo(3).maxStates(1500);
    }
    CrashReport report = tester.run(mergeCompletes);
    System.out.println("snapshot merge: " + report);
    report.assertPassed();
    assertThat(report.statesChecked()).isGreaterThan(20);
  }
}
