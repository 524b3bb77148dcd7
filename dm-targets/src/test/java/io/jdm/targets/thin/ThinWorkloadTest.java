package io.jdm.targets.thin;

/** The thin workload on the reference model of the pool metadata. */
class ThinWorkloadTest extends BaseThinWorkloadTestCase {
  @Override
  protected PoolMetadataOpener opener() {
    return InMemoryPoolMetadata::open;
  }
}
