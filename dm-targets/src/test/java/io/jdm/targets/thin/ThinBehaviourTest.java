package io.jdm.targets.thin;

/** The thin behaviour tests on the reference model of the pool metadata. */
class ThinBehaviourTest extends BaseThinBehaviourTestCase {
  @Override
  protected PoolMetadataOpener opener() {
    return InMemoryPoolMetadata::open;
  }
}
