package io.jdm.testkit.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.BlockDevice;
import io.jdm.core.FileBlockDevice;
import io.jdm.testkit.BaseBlockDeviceTestCase;
import io.jdm.testkit.DeviceCapabilities;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * O_DIRECT with writes-zeroes discard. The files live under {@code target/}, on the build's own
 * file system, because the usual temporary directory may be a tmpfs, which refuses O_DIRECT.
 */
class FileBlockDeviceDirectTest extends BaseBlockDeviceTestCase {
  private final Path dir;
  private int n;

  FileBlockDeviceDirectTest() throws IOException {
    Files.createDirectories(Path.of("target"));
    dir = Files.createTempDirectory(Path.of("target"), "odirect");
  }

  @AfterEach
  void deleteFiles() throws IOException {
    try (var s = Files.list(dir)) {
      for (Path p : s.toList()) {
        Files.delete(p);
      }
    }
    Files.delete(dir);
  }

  @Override
  protected BlockDevice createDevice(long sectors) throws IOException {
    return FileBlockDevice.builder(dir.resolve("disk" + n++ + ".img"))
        .create(sectors * 512)
        .direct(true)
        .discardWritesZeroes(true)
        .open();
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk();
  }

  @Test
  void directIoAdvertisesTheFileSystemBlockSize() throws IOException {
    FileBlockDevice dev = (FileBlockDevice) newDevice();
    assertThat(dev.isDirect()).isTrue();
    assertThat(dev.limits().logicalBlockSize())
        .isEqualTo((int) Math.max(512, Files.getFileStore(dir).getBlockSize()));
  }
}
