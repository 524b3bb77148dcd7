package io.jdm.testkit.core.targets;

import io.jdm.testkit.BaseChunkedTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.TargetFixture;

/**
 * Four stripes (the shift path for the stripe index) with chunk sizes that are not powers of two,
 * which Linux 6.12 accepts (the division path for the chunk).
 */
class StripedTargetOddChunkTest extends BaseChunkedTargetTestCase {
  static final int STRIPES = 4;

  @Override
  protected int[] chunkSizes() {
    return new int[] {3, 5, 7, 24, 1, 2};
  }

  @Override
  protected String targetType() {
    return "striped";
  }

  @Override
  protected long targetLength(long sectors, int chunk) {
    return sectors / (STRIPES * chunk) * (STRIPES * chunk);
  }

  @Override
  protected String targetArgs(TargetFixture f, long length, int chunk) {
    StringBuilder sb = new StringBuilder().append(STRIPES).append(' ').append(chunk);
    for (int i = 0; i < STRIPES; i++) {
      sb.append(' ').append(f.memory(length / STRIPES)).append(" 0");
    }
    return sb.toString();
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk();
  }
}
