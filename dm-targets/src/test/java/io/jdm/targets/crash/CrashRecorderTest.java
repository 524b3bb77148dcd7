package io.jdm.targets.crash;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.TargetRegistry;
import io.jdm.testkit.crash.CrashRecorder;
import io.jdm.testkit.crash.CrashRecording;
import io.jdm.testkit.crash.WriteLog;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** Recording: what the recorder builds, keeps and refuses. */
class CrashRecorderTest {
  @Test
  void recordsOnACopyOfTheInitialImageAndLeavesNothingBehind() throws IOException {
    try (DeviceMapper dm = DeviceMapper.create();
        MemoryBlockDevice initial = MemoryBlockDevice.create("fs", 2048)) {
      ByteBuffer sb = ByteBuffer.allocate(512);
      sb.put(0, (byte) 42);
      initial.write(sb, 1024 * 512);
      CrashRecording rec;
      try (CrashRecorder r = CrashRecorder.builder(dm).initialImage(initial).start()) {
        assertThat(r.device().sectors()).isEqualTo(2048);
        assertThat(r.device().table()).contains(" log-writes ");
        ByteBuffer got = ByteBuffer.allocate(512);
        r.device().read(got, 1024 * 512);
        assertThat(got.get(0)).as("the device starts as the image").isEqualTo((byte) 42);
        r.device().write(ByteBuffer.allocate(512), 1024 * 512, io.jdm.core.Bio.FUA);
        r.mark("after-fua");
        rec = r.stop();
      }
      assertThat(dm.list()).isEmpty();
      assertThat(dm.openDeviceCount()).isZero();
      ByteBuffer got = ByteBuffer.allocate(512);
      rec.initialImage().read(got, 1024 * 512);
      assertThat(got.get(0))
          .as("the recording keeps the image before the workload")
          .isEqualTo((byte) 42);
      assertThat(rec.log().entries())
          .extracting(WriteLog.Entry::toString)
          .containsExactly(
              "entry 0 write 1 sectors at 1024 fua",
              "entry 1 mark after-fua",
              "entry 2 mark dm-log-writes-end");
    }
  }

  @Test
  void marksMustBeOneWordThatFitsInABlock() throws IOException {
    try (DeviceMapper dm = DeviceMapper.create();
        CrashRecorder r = CrashRecorder.start(dm, 64)) {
      assertThatThrownBy(() -> r.mark("two words"))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("a mark is one word with no white space: \"two words\"");
      assertThatThrownBy(() -> r.mark("x".repeat(480)))
          .hasMessage("mark \"" + "x".repeat(480) + "\" is longer than 479 bytes");
      r.mark("x".repeat(479));
    }
  }

  @Test
  void aLogThatFillsUpIsAnErrorNotAShortRecording() throws IOException {
    try (DeviceMapper dm = DeviceMapper.create();
        CrashRecorder r = CrashRecorder.builder(dm).sectors(64).logSectors(16).start()) {
      for (int i = 0; i < 8; i++) {
        r.device().write(ByteBuffer.allocate(1024), i * 1024L, io.jdm.core.Bio.FUA);
      }
      assertThatThrownBy(r::stop)
          .isInstanceOf(IOException.class)
          .hasMessageContaining(
              "the log device of 16 sectors filled up (or failed): logging stopped after ");
      assertThat(dm.list()).isEmpty();
    }
  }

  @Test
  void withoutTheLogWritesTargetTheRecorderSaysWhatIsMissing() {
    TargetRegistry registry = TargetRegistry.builtins();
    try (DeviceMapper dm = DeviceMapper.builder().registry(registry).build()) {
      assertThatThrownBy(() -> CrashRecorder.start(dm, 64))
          .isInstanceOf(IllegalStateException.class)
          .hasMessage(
              "the log-writes target is not registered: put io.jdm:dm-targets on the class path");
    }
  }
}
