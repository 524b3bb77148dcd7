package io.jdm.targets.mirror;

import io.jdm.testkit.BaseTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.TargetFixture;

/** {@code mirror} with jdm's round-robin read balancing: the suite over two memory legs. */
class MirrorReadBalanceTargetTest extends BaseTargetTestCase {
  @Override
  protected String targetType() {
    return "mirror";
  }

  @Override
  protected String targetArgs(TargetFixture f, long length) {
    return "core 1 32 2 "
        + f.memory(length)
        + " 0 "
        + f.memory(length)
        + " 0 2 handle_errors jdm_read_balance=round_robin";
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk().withWriteZeroes(false);
  }
}
