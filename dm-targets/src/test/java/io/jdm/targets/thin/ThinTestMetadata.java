package io.jdm.targets.thin;

/** The reference model's opener for code outside this package (dm-bench's ThinBenchmark). */
public final class ThinTestMetadata {
  private ThinTestMetadata() {}

  /** Opens {@link InMemoryPoolMetadata}. */
  public static PoolMetadataOpener inMemory() {
    return InMemoryPoolMetadata::open;
  }
}
