package io.jdm.targets.thin;

import io.jdm.targets.thin.metadata.PersistentPoolMetadata;

/** {@link ThinPoolTargetTest}'s suite on the persistent pool metadata (the kernel's format). */
class PersistentThinPoolTargetTest extends BaseThinPoolTargetTestCase {
  @Override
  protected PoolMetadataOpener opener() {
    return PersistentPoolMetadata::open;
  }
}
