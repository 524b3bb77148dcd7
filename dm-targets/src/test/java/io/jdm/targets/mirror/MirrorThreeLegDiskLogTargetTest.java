package io.jdm.targets.mirror;

import io.jdm.testkit.BaseTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.DeviceCapabilities.Discard;
import io.jdm.testkit.TargetFixture;
import java.io.IOException;

/**
 * {@code mirror}: the suite over three legs, one on a file, with a disk log on a memory device and
 * {@code handle_errors}; regions of 64 sectors, so the suite's I/O crosses many region boundaries.
 */
class MirrorThreeLegDiskLogTargetTest extends BaseTargetTestCase {
  @Override
  protected String targetType() {
    return "mirror";
  }

  @Override
  protected String targetArgs(TargetFixture f, long length) throws IOException {
    return "disk 2 "
        + f.memory(64)
        + " 64 3 "
        + f.file(length)
        + " 0 "
        + f.memory(length + 16)
        + " 16 "
        + f.memory(length + 8)
        + " 8 1 handle_errors";
  }

  @Override
  protected DeviceCapabilities capabilities() {
    // file legs do not discard, so the mirror does not either
    return DeviceCapabilities.disk().withWriteZeroes(false).withDiscard(Discard.UNSUPPORTED);
  }
}
