package io.jdm.targets.thin;

import io.jdm.targets.thin.metadata.PersistentPoolMetadata;

/** {@link ThinTargetTest}'s suite on the persistent pool metadata (the kernel's format). */
class PersistentThinTargetTest extends BaseThinTargetTestCase {
  @Override
  protected PoolMetadataOpener opener() {
    return PersistentPoolMetadata::open;
  }
}
