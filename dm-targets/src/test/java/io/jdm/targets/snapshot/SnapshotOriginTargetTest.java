package io.jdm.targets.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.MappedDevice;
import io.jdm.testkit.BaseTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.TargetFixture;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code snapshot-origin} as a disk, with a live persistent snapshot of the same device taken
 * before the first write: the whole conformance suite writes through the origin (each first write
 * to a chunk copies it out), and after each test the snapshot still reads as the origin did when it
 * was taken (all zeros). The snapshot's chunk size comes from the seed.
 */
class SnapshotOriginTargetTest extends BaseTargetTestCase {
  private final List<MappedDevice> snapshots = new ArrayList<>();

  @Override
  protected String targetType() {
    return "snapshot-origin";
  }

  private int chunk() {
    return 1 << Math.floorMod(seed(), 8);
  }

  @Override
  protected String targetArgs(TargetFixture f, long length) {
    String real = f.memory(length);
    String cow = f.memory(2 * length + 4L * chunk() + 64);
    snapshots.add(
        f.dm()
            .create(
                "snap" + snapshots.size(),
                "0 " + length + " snapshot " + real + " " + cow + " P " + chunk()));
    return real;
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk()
        .withDiscard(DeviceCapabilities.Discard.UNSUPPORTED)
        .withWriteZeroes(false)
        // the suite's power cut swaps one disk under the origin, but a live snapshot table uses
        // it too; the origin's and COW's durability is SnapshotCowCrashTest's
        .withDurableFlush(false);
  }

  @Override
  protected List<BadArguments> badArguments(TargetFixture f) {
    String d = f.memory(64);
    return List.of(
        new BadArguments(64, "", "origin: incorrect number of arguments"),
        new BadArguments(64, d + " " + d, "origin: incorrect number of arguments"),
        new BadArguments(64, "/no/such", "Cannot get target device"),
        new BadArguments(128, d, "too small for target"));
  }

  @Override
  protected void afterDevicesClosed() throws Exception {
    try {
      for (MappedDevice s : snapshots) {
        assertThat(s.status()).doesNotContain("Invalid");
        ByteBuffer b = ByteBuffer.allocate((int) s.sectors() * 512);
        s.read(b, 0);
        assertThat(b.flip().equals(ByteBuffer.allocate(b.capacity())))
            .as("snapshot %s still reads as the origin did when it was taken", s.name())
            .isTrue();
        s.close();
      }
    } finally {
      snapshots.clear();
      super.afterDevicesClosed();
    }
  }
}
