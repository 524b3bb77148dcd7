package io.jdm.targets.thin;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/** The thin workload on the reference model of the pool metadata, whose counts are checked too. */
class ThinWorkloadTest extends BaseThinWorkloadTestCase {
  @Override
  protected PoolMetadataOpener opener() {
    return InMemoryPoolMetadata::open;
  }

  @Override
  protected void checkMetadata(PoolMetadata metadata) throws java.io.IOException {
    InMemoryPoolMetadata m = (InMemoryPoolMetadata) metadata;
    assertThat(m.checkReferenceCounts()).as("reference counts").isEmpty();
    Set<Long> used = new HashSet<>();
    for (Map<Long, Long> dev : m.mappings().values()) {
      used.addAll(dev.values());
    }
    m.commit(); // blocks freed in the last transaction count as free only after a commit
    assertThat(m.dataBlocks() - m.freeDataBlocks()).as("used data blocks").isEqualTo(used.size());
  }
}
