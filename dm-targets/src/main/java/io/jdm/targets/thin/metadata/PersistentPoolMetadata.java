package io.jdm.targets.thin.metadata;

import io.jdm.core.BlockDevice;
import io.jdm.core.Errno;
import io.jdm.targets.thin.PoolMetadata;
import io.jdm.targets.thin.PoolMetadataException;

/**
 * The pool metadata in the kernel's format, on {@code io.jdm.persistentdata}. (Being built: this
 * entry point fixes the signature the targets open it by.)
 */
public final class PersistentPoolMetadata {
  private PersistentPoolMetadata() {}

  /**
   * {@code dm_pool_metadata_open}: opens the metadata on {@code metadata}, or formats it when its
   * superblock is all zeroes and {@code formatIfEmpty} (as {@code pool_ctr} does), for data blocks
   * of {@code dataBlockSectors} sectors. The data device's size is set afterwards with {@link
   * PoolMetadata#resizeDataDev}, as the pool's preresume does.
   */
  public static PoolMetadata open(
      BlockDevice metadata, long dataBlockSectors, boolean formatIfEmpty)
      throws PoolMetadataException {
    throw new PoolMetadataException(Errno.EOPNOTSUPP, "persistent pool metadata: not built yet");
  }
}
