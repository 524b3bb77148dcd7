package io.jdm.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jdm.core.AllocationMap.Extent;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Discard on a file punches a hole ({@code fallocate(PUNCH_HOLE | KEEP_SIZE)} through JNA): the
 * file occupies fewer blocks, the range reads as zeros, and {@link FileBlockDevice#extents} reports
 * the hole. Where JNA cannot do it (not 64-bit Linux) the tests are skipped, except under {@code
 * CI=true} on Linux x86-64/aarch64, where JNA is on the class path and it must work.
 */
class FileBlockDeviceHolesTest {
  private static final int MIB = 1 << 20;

  @TempDir Path dir;

  @BeforeEach
  void requireNativeCalls() {
    String reason = FileBlockDevice.holesUnavailableReason();
    boolean mustWork =
        "true".equals(System.getenv("CI"))
            && System.getProperty("os.name", "").startsWith("Linux")
            && System.getProperty("os.arch", "").matches("amd64|x86_64|aarch64");
    if (mustWork) {
      assertThat(reason).as("hole punching on this CI machine").isNull();
    }
    assumeTrue(reason == null, () -> "no hole punching here: " + reason);
  }

  /** 512-byte blocks the file occupies, as {@code stat -c %b} prints. */
  private static long blocks(Path p) throws Exception {
    Process pr = new ProcessBuilder("stat", "-c", "%b", p.toString()).start();
    String out =
        new String(pr.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(pr.waitFor()).isZero();
    return Long.parseLong(out.trim());
  }

  private FileBlockDevice device(Path p) throws Exception {
    FileBlockDevice dev = FileBlockDevice.builder(p).create(8 * MIB).open();
    // a file system that cannot punch (some overlay setups) is a skip, or a failure under CI
    if (!"true".equals(System.getenv("CI"))) {
      assumeTrue(dev.punchesHoles(), "the file system of " + p + " cannot punch holes");
    }
    return dev;
  }

  @Test
  void discardPunchesAHoleThatReadsZerosAndShowsInTheMap() throws Exception {
    Path p = dir.resolve("disk.img");
    try (FileBlockDevice dev = device(p)) {
      assertThat(dev.punchesHoles()).isTrue();
      assertThat(dev.limits().maxDiscardSectors()).isEqualTo(IoLimits.UNLIMITED);
      assertThat(dev.extents(0, dev.sectors())).containsExactly(Extent.hole(16384));
      byte[] data = new byte[4 * MIB];
      Arrays.fill(data, (byte) 0x77);
      dev.write(ByteBuffer.wrap(data), 2 * MIB);
      dev.flush();
      long before = blocks(p);
      assertThat(before).as("4 MiB written").isGreaterThanOrEqualTo(8192);
      assertThat(dev.extents(0, dev.sectors()))
          .containsExactly(Extent.hole(4096), Extent.data(8192), Extent.hole(4096));

      dev.discard(3 * MIB, 2 * MIB);
      long after = blocks(p);
      assertThat(before - after)
          .as("blocks freed (before %s, after %s)", before, after)
          .isGreaterThanOrEqualTo(4096);
      assertThat(Files.size(p)).as("KEEP_SIZE").isEqualTo(8L * MIB);
      ByteBuffer back = ByteBuffer.allocate(4 * MIB);
      dev.read(back, 2 * MIB);
      for (int i = 0; i < 4 * MIB; i++) {
        boolean punched = i >= MIB && i < 3 * MIB;
        if (back.get(i) != (punched ? 0 : 0x77)) {
          throw new AssertionError("byte " + (2 * MIB + i) + " is " + back.get(i));
        }
      }
      assertThat(dev.extents(0, dev.sectors()))
          .containsExactly(
              Extent.hole(4096),
              Extent.data(2048),
              Extent.hole(4096),
              Extent.data(2048),
              Extent.hole(4096));
      // from inside a hole, clipped to the range asked
      assertThat(dev.extents(7000, 4000)).containsExactly(Extent.hole(3240), Extent.data(760));
    }
  }

  @Test
  void readOnlyDevicesFindHolesButDoNotDiscard() throws Exception {
    Path p = dir.resolve("ro.img");
    try (FileBlockDevice dev = device(p)) {
      dev.write(ByteBuffer.allocate(4096).put(0, (byte) 1), MIB);
    }
    try (FileBlockDevice ro = FileBlockDevice.builder(p).readOnly(true).open()) {
      assertThat(ro.punchesHoles()).isFalse();
      assertThat(ro.limits().maxDiscardSectors()).isZero();
      assertThat(ro.extents(0, ro.sectors()))
          .containsExactly(Extent.hole(2048), Extent.data(8), Extent.hole(16384 - 2056));
    }
  }
}
