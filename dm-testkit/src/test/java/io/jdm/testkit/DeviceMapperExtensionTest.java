package io.jdm.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.DeviceMapperExtension.Seed;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

@ExtendWith(DeviceMapperExtension.class)
class DeviceMapperExtensionTest {
  private DeviceMapper fromBeforeEach;

  @BeforeEach
  void keep(DeviceMapper dm) {
    fromBeforeEach = dm;
  }

  @Test
  void givesOneSeededMapperOnAManualClock(
      DeviceMapper dm, ManualClock clock, Seed seed, Random random) {
    assertThat(dm).isSameAs(fromBeforeEach);
    assertThat(dm.clock()).isSameAs(clock);
    assertThat(dm.seed()).isEqualTo(seed.value());
    assertThat(random.nextLong()).isEqualTo(seed.random().nextLong());
    long t = clock.nanoTime();
    clock.advance(Duration.ofSeconds(3));
    assertThat(clock.nanoTime() - t).isEqualTo(Duration.ofSeconds(3).toNanos());
  }

  // ---------------------------------------------------------------------------------------------
  // Inner test classes, run only through the launcher below (they fail on purpose).

  private static volatile boolean launching;

  static boolean launching() {
    return launching;
  }

  @ExtendWith(DeviceMapperExtension.class)
  @EnabledIf("io.jdm.testkit.DeviceMapperExtensionTest#launching")
  static class LeavesADevice {
    @Test
    void leaves(DeviceMapper dm) {
      dm.create("left", "0 8 zero");
    }
  }

  @ExtendWith(DeviceMapperExtension.class)
  @EnabledIf("io.jdm.testkit.DeviceMapperExtensionTest#launching")
  static class Tidy {
    @Test
    void removes(DeviceMapper dm) throws IOException {
      try (MemoryBlockDevice disk = MemoryBlockDevice.create("disk", 64)) {
        dm.registerDevice("disk", disk);
        MappedDevice md = dm.create("vol", "0 64 linear disk 0");
        md.remove();
      }
    }
  }

  @ExtendWith(DeviceMapperExtension.class)
  @EnabledIf("io.jdm.testkit.DeviceMapperExtensionTest#launching")
  static class FailsItself {
    @Test
    void fails(DeviceMapper dm) {
      dm.create("left", "0 8 zero");
      throw new AssertionError("the test's own failure");
    }
  }

  private static List<TestExecutionSummary.Failure> run(Class<?> testClass) {
    Launcher launcher = LauncherFactory.create();
    SummaryGeneratingListener listener = new SummaryGeneratingListener();
    launching = true;
    try {
      launcher.execute(
          LauncherDiscoveryRequestBuilder.request().selectors(selectClass(testClass)).build(),
          listener);
    } finally {
      launching = false;
    }
    assertThat(listener.getSummary().getTestsStartedCount()).isEqualTo(1);
    return listener.getSummary().getFailures();
  }

  @Test
  void aDeviceLeftInTheMapperFailsTheTestWithItsSeed() {
    List<TestExecutionSummary.Failure> failures = run(LeavesADevice.class);
    assertThat(failures).hasSize(1);
    assertThat(failures.get(0).getException())
        .hasMessageContaining("mapped devices the test left in the device mapper")
        .hasMessageContaining("reproduce with -Djdm.seed=")
        .hasMessageContaining("left");
  }

  @Test
  void aTidyTestPasses() {
    assertThat(run(Tidy.class)).isEmpty();
  }

  @Test
  void aFailingTestReportsItsOwnFailureNotTheLeak() {
    List<TestExecutionSummary.Failure> failures = run(FailsItself.class);
    assertThat(failures).hasSize(1);
    assertThat(failures.get(0).getException()).hasMessage("the test's own failure");
  }
}
