package io.jdm.testkit.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.BlockDevice;
import io.jdm.core.BlockIOException;
import io.jdm.core.FileBlockDevice;
import io.jdm.testkit.BaseBlockDeviceTestCase;
import io.jdm.testkit.DeviceCapabilities;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileBlockDeviceTest extends BaseBlockDeviceTestCase {
  @TempDir Path dir;
  private int n;

  @Override
  protected BlockDevice createDevice(long sectors) throws IOException {
    // discard without hole punching (FileBlockDevicePunchTest has it)
    return FileBlockDevice.builder(dir.resolve("disk" + n++ + ".img"))
        .create(sectors * 512)
        .punchHoles(false)
        .open();
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk().withDiscard(DeviceCapabilities.Discard.UNSUPPORTED);
  }

  @Test
  void sizeIsTheFileSizeRoundedDown() throws IOException {
    Path p = dir.resolve("odd.img");
    Files.write(p, new byte[512 * 3 + 100]);
    try (FileBlockDevice dev = FileBlockDevice.open(p)) {
      assertThat(dev.sectors()).isEqualTo(3);
      assertThat(dev.blockDeviceNumber()).isEmpty();
      assertThat(dev.limits().writeCache()).isTrue();
    }
  }

  @Test
  void missingFileIsReported() {
    assertThatThrownBy(() -> FileBlockDevice.open(dir.resolve("nope.img")))
        .isInstanceOf(NoSuchFileException.class)
        .hasMessageContaining("nope.img");
  }

  @Test
  void readOnlyDeviceRefusesWritesButReads() throws IOException {
    Path p = dir.resolve("ro.img");
    Files.write(p, new byte[4096]);
    try (FileBlockDevice dev = FileBlockDevice.builder(p).readOnly(true).open()) {
      assertThat(dev.isReadOnly()).isTrue();
      dev.read(ByteBuffer.allocate(4096), 0);
      dev.flush();
      assertThatThrownBy(() -> dev.write(ByteBuffer.allocate(512), 0))
          .isInstanceOf(BlockIOException.class);
    }
  }

  @Test
  void dataReachesTheFile() throws IOException {
    BlockDevice dev = newDevice();
    ByteBuffer data = randomData(1024);
    dev.write(data.duplicate(), 512 * 7);
    dev.flush();
    byte[] file = Files.readAllBytes(((FileBlockDevice) dev).path());
    byte[] want = new byte[1024];
    data.get(data.position(), want);
    assertThat(java.util.Arrays.copyOfRange(file, 512 * 7, 512 * 7 + 1024)).isEqualTo(want);
  }

  @Test
  void interruptedSubmitterDoesNotBreakTheDevice() throws Exception {
    BlockDevice dev = newDevice();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch done = new CountDownLatch(1);
    Thread t =
        new Thread(
            () -> {
              try {
                Thread.currentThread().interrupt();
                dev.write(ByteBuffer.allocate(4096), 0);
                dev.read(ByteBuffer.allocate(4096), 0);
                assertThat(Thread.currentThread().isInterrupted()).isTrue();
              } catch (Throwable e) {
                failure.set(e);
              } finally {
                done.countDown();
              }
            });
    t.start();
    done.await();
    t.join();
    assertThat(failure.get()).isNull();
    // the channel still works for everyone else
    dev.write(ByteBuffer.allocate(512), 512);
    dev.read(ByteBuffer.allocate(512), 512);
  }
}
