package io.jdm.testkit.core.targets;

import io.jdm.testkit.BaseChunkedTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.TargetFixture;

/** The chunked suite on {@code striped} over memory devices, for a given number of stripes. */
abstract class StripedSuite extends BaseChunkedTargetTestCase {
  /** How many stripes. */
  abstract int stripes();

  /** Where stripe {@code i} starts on its device. */
  long offset(int i) {
    return 0;
  }

  @Override
  protected String targetType() {
    return "striped";
  }

  @Override
  protected long targetLength(long sectors, int chunk) {
    return sectors / ((long) stripes() * chunk) * ((long) stripes() * chunk);
  }

  @Override
  protected String targetArgs(TargetFixture f, long length, int chunk) {
    StringBuilder sb = new StringBuilder().append(stripes()).append(' ').append(chunk);
    for (int i = 0; i < stripes(); i++) {
      sb.append(' ').append(f.memory(length / stripes() + offset(i))).append(' ').append(offset(i));
    }
    return sb.toString();
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk();
  }
}
