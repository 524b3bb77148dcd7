package io.jdm.targets;

import io.jdm.core.DeviceMapper;
import io.jdm.testkit.BaseTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.ManualClock;
import io.jdm.testkit.TargetFixture;
import java.util.List;

/**
 * {@code flakey} through the suite while up (a clock that never moves, so the device stays in its
 * first up interval with all its features configured); the down behaviour is in {@link
 * FlakeyTargetClockTest}.
 */
class FlakeyTargetTest extends BaseTargetTestCase {
  @Override
  protected String targetType() {
    return "flakey";
  }

  @Override
  protected DeviceMapper newDeviceMapper() {
    return DeviceMapper.builder().clock(new ManualClock()).build();
  }

  @Override
  protected String targetArgs(TargetFixture f, long length) {
    return f.memory(length + 8) + " 8 5 5 7 error_reads drop_writes corrupt_bio_byte 1 r 0 0";
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk().withWriteZeroes(false);
  }

  @Override
  protected List<BadArguments> badArguments(TargetFixture f) {
    String d = f.memory(1024);
    String ok = d + " 0 1 1 ";
    return List.of(
        new BadArguments(64, "", "Invalid argument count"),
        new BadArguments(64, d + " 0 1", "Invalid argument count"),
        new BadArguments(64, d + " x 1 1", "Invalid device sector"),
        new BadArguments(64, d + " 0 -1 1", "Invalid up interval"),
        new BadArguments(64, d + " 0 4294967296 1", "Invalid up interval"),
        // the kernel reads both intervals with the same dm_arg, so a bad down interval says "up"
        new BadArguments(64, d + " 0 1 x", "Invalid up interval"),
        new BadArguments(64, d + " 0 0 0", "Total (up + down) interval is zero"),
        // 32-bit unsigned in the kernel: a sum of exactly 2^32 wraps to zero
        new BadArguments(64, d + " 0 4294967295 1", "Total (up + down) interval is zero"),
        new BadArguments(64, d + " 0 4294967295 2", "Interval overflow"),
        new BadArguments(64, ok + "12", "Invalid number of feature args"),
        new BadArguments(64, ok + "2 error_reads", "Invalid number of feature args"),
        new BadArguments(64, ok + "x", "Invalid number of feature args"),
        new BadArguments(64, ok + "1 no_such_feature", "Unrecognised flakey feature requested"),
        new BadArguments(64, ok + "2 error_reads error_reads", "Feature error_reads duplicated"),
        new BadArguments(64, ok + "2 drop_writes drop_writes", "Feature drop_writes duplicated"),
        new BadArguments(64, ok + "2 error_writes error_writes", "Feature error_writes duplicated"),
        new BadArguments(
            64,
            ok + "2 error_writes drop_writes",
            "Feature drop_writes conflicts with feature error_writes"),
        new BadArguments(
            64,
            ok + "2 drop_writes error_writes",
            "Feature error_writes conflicts with feature drop_writes"),
        new BadArguments(
            64, ok + "1 corrupt_bio_byte", "Feature corrupt_bio_byte requires parameters"),
        new BadArguments(64, ok + "5 corrupt_bio_byte 0 r 1 0", "Invalid corrupt bio byte"),
        new BadArguments(
            64, ok + "5 corrupt_bio_byte 1 x 1 0", "Invalid corrupt bio direction (r or w)"),
        new BadArguments(
            64,
            ok + "5 corrupt_bio_byte 1 r 256 0",
            "Invalid corrupt value to write into bio byte (0-255)"),
        new BadArguments(64, ok + "5 corrupt_bio_byte 1 r 1 -1", "Invalid corrupt bio flags mask"),
        new BadArguments(64, ok + "4 corrupt_bio_byte 1 r 1", "Invalid corrupt bio flags mask"),
        // the feature count runs out inside corrupt_bio_byte: the kernel's unsigned count wraps
        new BadArguments(64, ok + "2 corrupt_bio_byte 1 r 1 0", "Insufficient feature arguments"),
        new BadArguments(
            64,
            ok + "6 drop_writes corrupt_bio_byte 1 w 1 0",
            "drop_writes is incompatible with corrupt_bio_byte with the WRITE flag set"),
        new BadArguments(
            64,
            ok + "6 error_writes corrupt_bio_byte 1 w 1 0",
            "error_writes is incompatible with corrupt_bio_byte with the WRITE flag set"),
        new BadArguments(
            64, ok + "1 random_read_corrupt", "Feature random_read_corrupt requires a parameter"),
        new BadArguments(
            64, ok + "1 random_write_corrupt", "Feature random_write_corrupt requires a parameter"),
        new BadArguments(
            64, ok + "2 random_read_corrupt 1000000001", "Invalid random corrupt argument"),
        new BadArguments(64, ok + "2 random_write_corrupt x", "Invalid random corrupt argument"),
        new BadArguments(64, "/no/such 0 1 1", "Device lookup failed"),
        new BadArguments(64, d + " 961 1 1", "too small for target"));
  }
}
