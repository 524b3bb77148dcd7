package io.jdm.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.DeviceMapper;
import io.jdm.core.TargetRegistry;
import io.jdm.testkit.BaseTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.TargetFixture;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A user's target passes the same suite as the built-in ones. */
class BasicTargetTest extends BaseTargetTestCase {
  @Override
  protected String targetType() {
    return "basic_target";
  }

  @Override
  protected String targetArgs(TargetFixture fixture, long length) {
    return fixture.memory(length + 16) + " 16";
  }

  @Override
  protected DeviceCapabilities capabilities() {
    // PassThroughTarget forwards flushes, discards and write-zeroes: a disk like linear
    return DeviceCapabilities.disk();
  }

  @Override
  protected List<BadArguments> badArguments(TargetFixture f) {
    String dev = f.memory(100);
    return List.of(
        new BadArguments(10, dev, "Invalid argument count"),
        new BadArguments(10, dev + " x", "Invalid device sector"),
        new BadArguments(10, "/no/disk 0", "Device lookup failed"),
        new BadArguments(10, dev + " 95", "too small for target"));
  }

  @Test
  void isFoundByTheServiceLoader() {
    TargetRegistry r = TargetRegistry.loadDefault();
    assertThat(r.get("basic_target")).isInstanceOf(BasicTarget.class);
    try (DeviceMapper dm = DeviceMapper.create()) {
      // one line among the others on the class path (dm-targets is here too, for the H2 test)
      assertThat(dm.registry().describe().lines()).contains("basic_target     v1.0.0");
    }
  }
}
