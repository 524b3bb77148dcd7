package io.jdm.testkit.core.targets;

/**
 * Four stripes (the shift path for the stripe index) with chunk sizes that are not powers of two,
 * which Linux 6.12 accepts (the division path for the chunk).
 */
class StripedTargetOddChunkTest extends StripedSuite {
  @Override
  int stripes() {
    return 4;
  }

  @Override
  protected int[] chunkSizes() {
    return new int[] {3, 5, 7, 24, 1, 2};
  }
}
