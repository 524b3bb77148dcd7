package io.jdm.targets.mirror;

import io.jdm.testkit.BaseTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.TargetFixture;
import java.util.List;

/** {@code mirror}: the suite over two legs on memory devices with a core log. */
class MirrorTargetTest extends BaseTargetTestCase {
  @Override
  protected String targetType() {
    return "mirror";
  }

  @Override
  protected String targetArgs(TargetFixture f, long length) {
    return "core 1 16 2 " + f.memory(length) + " 0 " + f.memory(length + 8) + " 8";
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk().withWriteZeroes(false);
  }

  @Override
  protected List<BadArguments> badArguments(TargetFixture f) {
    String a = f.memory(4096);
    String b = f.memory(4096);
    String legs = " 2 " + a + " 0 " + b + " 0";
    return List.of(
        new BadArguments(64, "", "Insufficient mirror log arguments"),
        new BadArguments(64, "core", "Insufficient mirror log arguments"),
        new BadArguments(64, "core x 16" + legs, "Invalid mirror log argument count"),
        new BadArguments(64, "core 2 16", "Insufficient mirror log arguments"),
        new BadArguments(64, "nolog 1 16" + legs, "Error creating mirror dirty log"),
        new BadArguments(64, "core 1 15" + legs, "Error creating mirror dirty log"),
        new BadArguments(64, "core 1 16", "Invalid number of mirrors"),
        new BadArguments(64, "core 1 16 1 " + a + " 0", "Invalid number of mirrors"),
        new BadArguments(64, "core 1 16 10" + legs, "Invalid number of mirrors"),
        new BadArguments(64, "core 1 16 3 " + a + " 0 " + b + " 0", "Too few mirror arguments"),
        new BadArguments(64, "core 1 16 2 " + a + " x " + b + " 0", "Invalid offset"),
        new BadArguments(64, "core 1 16 2 /no/such 0 " + b + " 0", "Device lookup failure"),
        new BadArguments(64, "core 1 16" + legs + " x", "Invalid number of features"),
        new BadArguments(
            64, "core 1 16" + legs + " 2 handle_errors", "Not enough arguments to support"),
        new BadArguments(64, "core 1 16" + legs + " 1 foo", "Unrecognised feature requested"),
        new BadArguments(
            64, "core 1 16" + legs + " 1 keep_log", "keep_log feature requires the handle_errors"),
        new BadArguments(
            64, "core 1 16" + legs + " 1 handle_errors x", "Too many mirror arguments"));
  }
}
