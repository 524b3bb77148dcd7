package io.jdm.targets.crash;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.BlockDevice;
import io.jdm.core.DeviceMapper;
import io.jdm.core.FileBlockDevice;
import io.jdm.testkit.crash.CrashCheck;
import io.jdm.testkit.crash.CrashRecorder;
import io.jdm.testkit.crash.CrashRecording;
import io.jdm.testkit.crash.CrashReport;
import io.jdm.testkit.crash.CrashState;
import io.jdm.testkit.crash.CrashTester;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The crash harness proved on {@link TinyWal}: the correct log survives every crash state; each of
 * its two bugs is caught, with a state that can be rebuilt and written out as an image.
 */
class CrashHarnessTest {
  private static final long SEED = 20261123;

  /** Runs 250 group commits of 1 to 8 records through a log-writes recorder. */
  private static CrashRecording record(TinyWal.Bug bug) throws IOException {
    Random rnd = new Random(SEED);
    try (DeviceMapper dm = DeviceMapper.create();
        CrashRecorder rec = CrashRecorder.start(dm, 16384)) {
      TinyWal wal = new TinyWal(rec.device(), bug);
      for (int batch = 0; batch < 250; batch++) {
        wal.append(1 + rnd.nextInt(8), last -> rec.mark("ack-" + last));
      }
      return rec.stop();
    }
  }

  /** Every record that was acknowledged survived, and every record recovered is whole. */
  private static CrashCheck walCheck(TinyWal.Bug bug) {
    return state -> verify(state.device(), state.marks(), bug);
  }

  private static void verify(BlockDevice dev, List<String> marks, TinyWal.Bug bug)
      throws IOException {
    List<byte[]> recovered = TinyWal.recover(dev, bug);
    for (int i = 0; i < recovered.size(); i++) {
      assertThat(Arrays.equals(recovered.get(i), TinyWal.payload(i + 1)))
          .as("record %d is whole", i + 1)
          .isTrue();
    }
    int acked = lastAck(marks);
    assertThat(recovered.size())
        .as("records recovered (record %d was acknowledged)", acked)
        .isGreaterThanOrEqualTo(acked);
  }

  private static int lastAck(List<String> marks) {
    for (int i = marks.size() - 1; i >= 0; i--) {
      if (marks.get(i).startsWith("ack-")) {
        return Integer.parseInt(marks.get(i).substring(4));
      }
    }
    return 0;
  }

  @Test
  void theCorrectWalSurvivesEveryCrashState() throws IOException {
    CrashRecording recording = record(TinyWal.Bug.NONE);
    long start = System.nanoTime();
    CrashReport report = CrashTester.of(recording).seed(SEED).run(walCheck(TinyWal.Bug.NONE));
    long millis = (System.nanoTime() - start) / 1_000_000;
    System.out.println("correct WAL: " + report + " in " + millis + " ms");
    report.assertPassed();
    assertThat(report.statesChecked()).isGreaterThanOrEqualTo(10_000);
    assertThat(report.epochs()).isEqualTo(251);
  }

  @Test
  void acknowledgingBeforeTheFlushIsCaught(@TempDir Path dir) throws IOException {
    CrashRecording recording = record(TinyWal.Bug.ACK_BEFORE_FLUSH);
    CrashCheck check = walCheck(TinyWal.Bug.ACK_BEFORE_FLUSH);
    CrashReport report = CrashTester.of(recording).seed(SEED).run(check);
    System.out.println("ack before flush: " + report);
    assertThat(report.passed()).isFalse();
    assertThat(report.failure().orElseThrow())
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("was acknowledged");
    CrashState failed = report.failedState().orElseThrow();
    assertThat(failed.description()).startsWith("crash state " + failed.number() + " (seed ");
    assertReproducible(recording, TinyWal.Bug.ACK_BEFORE_FLUSH, failed, dir);
  }

  @Test
  void aTornRecordWithoutAChecksumIsCaught(@TempDir Path dir) throws IOException {
    CrashRecording recording = record(TinyWal.Bug.NO_CHECKSUM);
    CrashCheck check = walCheck(TinyWal.Bug.NO_CHECKSUM);
    CrashReport report = CrashTester.of(recording).seed(SEED).run(check);
    System.out.println("no checksum: " + report);
    assertThat(report.passed()).isFalse();
    assertThat(report.failure().orElseThrow()).hasMessageContaining("is whole");
    CrashState failed = report.failedState().orElseThrow();
    assertThat(failed.description()).contains(" torn [blocks");
    assertReproducible(recording, TinyWal.Bug.NO_CHECKSUM, failed, dir);
    // without torn writes the same bug goes unseen: tearing is what finds it
    assertThat(CrashTester.of(recording).seed(SEED).tornWrites(false).run(check).passed()).isTrue();
  }

  /** The state rebuilt alone from its number fails the same way, and so does its image file. */
  private static void assertReproducible(
      CrashRecording recording, TinyWal.Bug bug, CrashState failed, Path dir) throws IOException {
    CrashReport again =
        CrashTester.of(recording).seed(SEED).onlyState(failed.number()).run(walCheck(bug));
    assertThat(again.statesChecked()).isEqualTo(1);
    assertThat(again.failedState().orElseThrow().description()).isEqualTo(failed.description());
    Path image = dir.resolve("state.img");
    failed.materialise(image);
    try (FileBlockDevice file = FileBlockDevice.open(image)) {
      assertThat(file.size()).isEqualTo(recording.sectors() * 512);
      assertThatThrownBy(() -> verify(file, failed.marks(), bug))
          .as("the materialised image fails the check too")
          .isInstanceOf(AssertionError.class);
    }
  }
}
