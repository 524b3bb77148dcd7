package io.jdm.targets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.BlockIOException;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.TargetException;
import io.jdm.testkit.BaseTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.TargetFixture;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code jdm-fault}: with no features a pass-through (the suite); then each feature. */
class FaultTargetTest extends BaseTargetTestCase {
  @Override
  protected String targetType() {
    return "jdm-fault";
  }

  @Override
  protected String targetArgs(TargetFixture f, long length) {
    return f.memory(length + 16) + " 16";
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk();
  }

  @Override
  protected List<BadArguments> badArguments(TargetFixture f) {
    String d = f.memory(4096);
    return List.of(
        new BadArguments(64, "", "Invalid argument count"),
        new BadArguments(64, d, "Invalid argument count"),
        new BadArguments(64, d + " x", "Invalid device sector"),
        new BadArguments(64, d + " 0 11", "Invalid number of feature args"),
        new BadArguments(64, d + " 0 2 fail_nth_read", "Invalid number of feature args"),
        new BadArguments(64, d + " 0 1 fail_nth_read 1", "Feature fail_nth_read requires a"),
        new BadArguments(64, d + " 0 2 fail_nth_read 0", "Invalid read number"),
        new BadArguments(64, d + " 0 2 fail_nth_write -1", "Invalid write number"),
        new BadArguments(
            64, d + " 0 4 fail_nth_write 1 fail_nth_write 2", "Feature fail_nth_write duplicated"),
        new BadArguments(64, d + " 0 2 random_read_error 1000000001", "Invalid random error"),
        new BadArguments(64, d + " 0 2 seed x", "Invalid seed"),
        new BadArguments(64, d + " 0 4 seed 1 seed 2", "Feature seed duplicated"),
        new BadArguments(64, d + " 0 2 sometimes 1", "Unrecognised fault feature requested"),
        new BadArguments(64, d + " 0 2 seed 1 extra", "Invalid argument count"),
        new BadArguments(64, "/no/such 0", "Device lookup failed"),
        new BadArguments(64, d + " 4090", "too small for target"));
  }

  // ---------------------------------------------------------------------------------------------

  private DeviceMapper dm;
  private MemoryBlockDevice disk;

  @BeforeEach
  void createDisk() {
    dm = DeviceMapper.builder().seed(seed()).build();
    disk = MemoryBlockDevice.create("disk", 4096);
    dm.registerDevice("disk", disk);
  }

  @AfterEach
  void closeDisk() throws IOException {
    dm.close();
    disk.close();
  }

  private static boolean writeFails(MappedDevice md, long sector) throws IOException {
    try {
      md.write(ByteBuffer.allocate(512), sector * 512);
      return false;
    } catch (BlockIOException e) {
      assertThat(e.status()).isEqualTo(BlockStatus.IOERR);
      return true;
    }
  }

  private static boolean readFails(MappedDevice md, long sector) throws IOException {
    try {
      md.read(ByteBuffer.allocate(512), sector * 512);
      return false;
    } catch (BlockIOException e) {
      assertThat(e.status()).isEqualTo(BlockStatus.IOERR);
      return true;
    }
  }

  @Test
  void theNthWriteFailsOnceAndResetArmsItAgain() throws IOException {
    MappedDevice md = dm.create("f", "0 64 jdm-fault disk 0 2 fail_nth_write 3");
    List<Boolean> failed = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      failed.add(writeFails(md, i));
    }
    assertThat(failed).containsExactly(false, false, true, false, false);
    md.flush(); // flushes are not writes
    assertThat(readFails(md, 0)).isFalse();
    assertThat(md.status()).isEqualTo("0 64 jdm-fault 1 5 0 1\n");
    assertThat(md.message(0, "reset")).isEmpty();
    assertThat(md.status()).isEqualTo("0 64 jdm-fault 0 0 0 0\n");
    assertThat(writeFails(md, 0) || writeFails(md, 1)).isFalse();
    assertThat(writeFails(md, 2)).isTrue();
    assertThatThrownBy(() -> md.message(0, "fail")).isInstanceOf(TargetException.class);
  }

  @Test
  void theNthReadFailsAndWritesAreNotCounted() throws IOException {
    MappedDevice md = dm.create("f", "0 64 jdm-fault disk 8 2 fail_nth_read 2");
    assertThat(writeFails(md, 0)).isFalse();
    assertThat(readFails(md, 0)).isFalse();
    assertThat(readFails(md, 1)).isTrue();
    assertThat(readFails(md, 1)).isFalse();
    assertThat(md.status()).isEqualTo("0 64 jdm-fault 3 1 1 0\n");
  }

  private List<Integer> failingWrites(String seed) throws IOException {
    MappedDevice md =
        dm.create("r", "0 64 jdm-fault disk 0 4 random_write_error 250000000 seed " + seed);
    try {
      List<Integer> failed = new ArrayList<>();
      for (int i = 0; i < 400; i++) {
        if (writeFails(md, i % 64)) {
          failed.add(i);
        }
      }
      assertThat(md.table())
          .isEqualTo("0 64 jdm-fault 240:0 0 4 random_write_error 250000000 seed " + seed + "\n");
      return failed;
    } finally {
      md.remove();
    }
  }

  @Test
  void aRandomFractionFailsReplayablyFromItsSeed() throws IOException {
    List<Integer> a = failingWrites("42");
    assertThat(a.size()).isBetween(60, 140); // a quarter of 400, give or take
    assertThat(failingWrites("42")).isEqualTo(a);
    assertThat(failingWrites("43")).isNotEqualTo(a);
  }

  @Test
  void probabilityZeroNeverFailsAndOneBillionAlwaysDoes() throws IOException {
    MappedDevice never = dm.create("n", "0 64 jdm-fault disk 0 2 random_read_error 0");
    MappedDevice always = dm.create("a", "0 64 jdm-fault disk 64 2 random_read_error 1000000000");
    for (int i = 0; i < 32; i++) {
      assertThat(readFails(never, i)).isFalse();
      assertThat(readFails(always, i)).isTrue();
    }
    assertThat(writeFails(always, 0)).isFalse();
    always.flush();
    assertThat(always.status()).isEqualTo("0 64 jdm-fault 32 1 32 0\n");
  }
}
