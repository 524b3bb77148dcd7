package io.jdm.targets.thin;

/** The {@code thin} conformance suite on the reference model of the pool metadata. */
class ThinTargetTest extends BaseThinTargetTestCase {
  @Override
  protected PoolMetadataOpener opener() {
    return InMemoryPoolMetadata::open;
  }
}
