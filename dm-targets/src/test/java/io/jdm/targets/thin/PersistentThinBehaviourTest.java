package io.jdm.targets.thin;

import io.jdm.targets.thin.metadata.PersistentPoolMetadata;

/** {@link ThinBehaviourTest}'s suite on the persistent pool metadata (the kernel's format). */
class PersistentThinBehaviourTest extends BaseThinBehaviourTestCase {
  @Override
  protected PoolMetadataOpener opener() {
    return PersistentPoolMetadata::open;
  }
}
