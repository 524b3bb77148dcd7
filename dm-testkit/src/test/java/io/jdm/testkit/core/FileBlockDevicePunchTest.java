package io.jdm.testkit.core;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jdm.core.BlockDevice;
import io.jdm.core.FileBlockDevice;
import io.jdm.testkit.BaseBlockDeviceTestCase;
import io.jdm.testkit.DeviceCapabilities;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/**
 * The block device suite on files whose discard punches holes (JNA is on this module's test class
 * path): discarded ranges read back as zeros. Skipped where the JVM or the file system cannot
 * punch; {@code FileBlockDeviceHolesTest} in dm-core fails under CI if it should and cannot.
 */
public class FileBlockDevicePunchTest extends BaseBlockDeviceTestCase {
  @TempDir Path dir;
  private int n;

  @Override
  protected BlockDevice createDevice(long sectors) throws IOException {
    FileBlockDevice d =
        FileBlockDevice.builder(dir.resolve("disk" + n++ + ".img")).create(sectors * 512).open();
    if (!d.punchesHoles()) {
      d.close();
      assumeTrue(false, "no hole punching here: " + FileBlockDevice.holesUnavailableReason());
    }
    return d;
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk();
  }

  /**
   * What discard does on files in the temporary folder here (for suites over files opened through
   * tables): reads back zeros where holes can be punched, else unsupported.
   */
  public static DeviceCapabilities.Discard fileDiscard() {
    try {
      Path p = Files.createTempFile("jdm-punch-probe", ".img");
      try (FileBlockDevice d = FileBlockDevice.builder(p).create(4096).open()) {
        return d.punchesHoles()
            ? DeviceCapabilities.Discard.ZEROES
            : DeviceCapabilities.Discard.UNSUPPORTED;
      } finally {
        Files.delete(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
