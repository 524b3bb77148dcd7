package io.jdm.targets.thin;

import io.jdm.targets.thin.metadata.PersistentPoolMetadata;

/**
 * {@link ThinWorkloadTest}'s workload on the persistent pool metadata: every thin device checked
 * against its model, then the pool reloaded from the metadata device.
 */
class PersistentThinWorkloadTest extends BaseThinWorkloadTestCase {
  @Override
  protected PoolMetadataOpener opener() {
    return PersistentPoolMetadata::open;
  }
}
