package io.jdm.testkit;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.ArgSet;
import io.jdm.core.DeviceMapper;
import io.jdm.core.DmDev;
import io.jdm.core.PassThroughTarget;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;
import org.junit.jupiter.api.Test;

/**
 * The suite catches the README's first mistake: a pass-through target that forwards no flushes
 * acknowledges {@code fsync} with nothing on the disk, and {@link
 * BaseTargetTestCase#testFlushedWritesSurviveACrash()} fails on it; the same target with one flush
 * bio passes.
 */
class BaseTargetTestCaseCatchesLostFlushesTest {
  /** {@code pass <dev> <start>} with {@code flushBios} flush bios. */
  private record PassType(String name, int flushBios) implements TargetType {
    @Override
    public TargetVersion version() {
      return TargetVersion.of(1, 0, 0);
    }

    @Override
    public Target create(TargetContext ctx, long begin, long length, String[] args) {
      DmDev dev = ctx.getDevice(args[0], "Device lookup failed");
      long start = ArgSet.parseSector(args[1], "Invalid device sector");
      return new PassThroughTarget(dev, begin, length, start) {
        @Override
        public int numFlushBios() {
          return flushBios;
        }
      };
    }
  }

  /** The suite over {@code pass} with a given number of flush bios. */
  private static final class Suite extends BaseTargetTestCase {
    private final int flushBios;

    Suite(int flushBios) {
      this.flushBios = flushBios;
    }

    @Override
    protected DeviceMapper newDeviceMapper() {
      DeviceMapper dm = super.newDeviceMapper();
      dm.registry().register(new PassType("pass", flushBios));
      return dm;
    }

    @Override
    protected String targetType() {
      return "pass";
    }

    @Override
    protected String targetArgs(TargetFixture fixture, long length) {
      return fixture.memory(length) + " 0";
    }

    @Override
    protected DeviceCapabilities capabilities() {
      return DeviceCapabilities.disk();
    }
  }

  private static void runCrashTest(Suite suite) throws Exception {
    suite.initSeed();
    try {
      suite.testFlushedWritesSurviveACrash();
    } finally {
      suite.closeAndCheckLeaks();
    }
  }

  @Test
  void aTargetThatForwardsNoFlushesFails() {
    assertThatThrownBy(() -> runCrashTest(new Suite(0)))
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("sectors at");
  }

  @Test
  void theSameTargetWithOneFlushBioPasses() throws Exception {
    runCrashTest(new Suite(1));
  }
}
