package io.jdm.targets.thin;

import io.jdm.core.BlockDevice;
import java.io.IOException;

/**
 * Opens a pool's metadata for {@code thin-pool}'s constructor: the kernel's {@code
 * dm_pool_metadata_open}. The service-loaded {@link ThinPoolTargetType} uses {@code
 * io.jdm.targets.thin.metadata.PersistentPoolMetadata::open}; tests give a reference model.
 */
@FunctionalInterface
public interface PoolMetadataOpener {
  /**
   * Opens (or, with {@code formatIfEmpty}, formats an all-zero) metadata device for data blocks of
   * {@code dataBlockSectors} sectors.
   *
   * @throws IOException when the metadata cannot be opened; the pool's constructor then fails with
   *     the kernel's "Error creating metadata object"
   */
  PoolMetadata open(BlockDevice metadata, long dataBlockSectors, boolean formatIfEmpty)
      throws IOException;
}
