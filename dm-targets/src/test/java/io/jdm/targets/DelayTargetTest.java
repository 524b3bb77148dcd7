package io.jdm.targets;

import io.jdm.testkit.BaseTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.TargetFixture;
import java.util.List;

/**
 * {@code delay} through the suite on the real clock, reads and writes held 1 ms on different
 * devices' areas; the exact timing is tested with a manual clock in {@link DelayTargetClockTest}.
 */
class DelayTargetTest extends BaseTargetTestCase {
  @Override
  protected String targetType() {
    return "delay";
  }

  @Override
  protected String targetArgs(TargetFixture f, long length) {
    String d = f.memory(length + 32);
    return d + " 32 1 " + d + " 32 1";
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk().withWriteZeroes(false);
  }

  @Override
  protected List<BadArguments> badArguments(TargetFixture f) {
    String d = f.memory(1024);
    return List.of(
        new BadArguments(64, "", "Requires exactly 3, 6 or 9 arguments"),
        new BadArguments(64, d + " 0", "Requires exactly 3, 6 or 9 arguments"),
        new BadArguments(64, d + " 0 1 " + d, "Requires exactly 3, 6 or 9 arguments"),
        new BadArguments(
            64, d + " 0 1 " + d + " 0 1 " + d + " 0 1 x", "Requires exactly 3, 6 or 9 arguments"),
        new BadArguments(64, d + " x 1", "Invalid device sector"),
        new BadArguments(64, d + " -1 1", "Invalid device sector"),
        new BadArguments(64, d + " 0 1 " + d + " 0x0 1", "Invalid device sector"),
        new BadArguments(64, d + " 0 1ms", "Invalid delay"),
        new BadArguments(64, d + " 0 4294967296", "Invalid delay"),
        new BadArguments(64, d + " 0 1 " + d + " 0 1 " + d + " 0 -1", "Invalid delay"),
        new BadArguments(64, "/no/such 0 1", "Device lookup failed"),
        new BadArguments(64, d + " 0 1 /no/such 0 1", "Device lookup failed"),
        new BadArguments(64, d + " 0 1 " + d + " 0 1 /no/such 0 1", "Device lookup failed"),
        new BadArguments(64, d + " 961 1", "too small for target"),
        new BadArguments(64, d + " 0 1 " + d + " 961 1", "too small for target"));
  }
}
