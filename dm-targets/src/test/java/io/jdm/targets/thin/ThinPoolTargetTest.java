package io.jdm.targets.thin;

/** The {@code thin-pool} conformance suite on the reference model of the pool metadata. */
class ThinPoolTargetTest extends BaseThinPoolTargetTestCase {
  @Override
  protected PoolMetadataOpener opener() {
    return InMemoryPoolMetadata::open;
  }
}
