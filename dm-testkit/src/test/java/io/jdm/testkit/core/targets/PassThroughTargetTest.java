package io.jdm.testkit.core.targets;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.ArgSet;
import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.DmDev;
import io.jdm.core.EndIoResult;
import io.jdm.core.EndIoTarget;
import io.jdm.core.MappedDevice;
import io.jdm.core.PassThroughTarget;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;
import io.jdm.testkit.BaseTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.TargetFixture;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The README's target, {@code new PassThroughTarget(dev, begin, length, start) {}}, passes the
 * whole suite as a disk (flushes, discards and write-zeroes forwarded, table text that reloads); a
 * target's end-I/O hook runs exactly when it is an {@link EndIoTarget}.
 */
class PassThroughTargetTest extends BaseTargetTestCase {
  /** {@code pass <dev> <start>}, as the README writes it; {@code pass-endio} counts completions. */
  private static final class PassType implements TargetType {
    private final String name;
    private final AtomicInteger endIos;

    PassType(String name, AtomicInteger endIos) {
      this.name = name;
      this.endIos = endIos;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public TargetVersion version() {
      return TargetVersion.of(1, 0, 0);
    }

    @Override
    public Target create(TargetContext ctx, long begin, long length, String[] args) {
      if (args.length != 2) {
        throw new TargetException("Invalid argument count");
      }
      long start = ArgSet.parseSector(args[1], "Invalid device sector");
      DmDev dev = ctx.getDevice(args[0], "Device lookup failed");
      if (endIos == null) {
        return new PassThroughTarget(dev, begin, length, start) {};
      }
      return new Counting(dev, begin, length, start, endIos);
    }
  }

  /** A pass-through target with an end-I/O hook that counts. */
  private static final class Counting extends PassThroughTarget implements EndIoTarget {
    private final AtomicInteger endIos;

    Counting(DmDev dev, long begin, long length, long start, AtomicInteger endIos) {
      super(dev, begin, length, start);
      this.endIos = endIos;
    }

    @Override
    public EndIoResult endIo(Bio bio, BlockStatus status) {
      endIos.incrementAndGet();
      return EndIoResult.DONE;
    }
  }

  private final AtomicInteger endIos = new AtomicInteger();

  @Override
  protected DeviceMapper newDeviceMapper() {
    DeviceMapper dm = DeviceMapper.builder().seed(seed()).build();
    dm.registry().register(new PassType("pass", null));
    dm.registry().register(new PassType("pass-endio", endIos));
    return dm;
  }

  @Override
  protected String targetType() {
    return "pass";
  }

  @Override
  protected String targetArgs(TargetFixture fixture, long length) {
    return fixture.memory(length + 16) + " 16";
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk();
  }

  @Test
  void theEndIoHookRunsOnlyForAnEndIoTarget() throws Exception {
    try (DeviceMapper dm = newDeviceMapper();
        TargetFixture f = new TargetFixture(dm)) {
      String dev = f.memory(1024);
      MappedDevice plain = dm.create("plain", "0 512 pass " + dev + " 0");
      MappedDevice hooked = dm.create("hooked", "0 512 pass-endio " + dev + " 512");
      ByteBuffer b = ByteBuffer.allocate(4096);
      plain.write(b.duplicate(), 0);
      plain.flush();
      assertThat(endIos).hasValue(0);
      hooked.write(b.duplicate(), 0);
      hooked.read(b.duplicate(), 0);
      assertThat(endIos).hasValue(2);
      assertThat(hooked.table())
          .isEqualTo("0 512 pass-endio " + dm.numberOf(dev).orElseThrow() + " 512\n");
    }
  }
}
