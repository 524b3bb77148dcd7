package io.jdm.targets.thin;

import java.io.IOException;

/**
 * A thin pool's metadata: {@code struct dm_pool_metadata} and the {@code dm_pool_*} calls of the
 * kernel's {@code dm-thin-metadata.h}, in the kernel's on-disk format (superblock, device details
 * tree, two-level mapping tree, data and metadata space maps) so that {@code thin_check}, {@code
 * thin_dump} and {@code thin_restore} read and write what jdm does.
 *
 * <p>Nothing is durable until {@link #commit()}: the superblock is written last, with FUA, after
 * every shadowed block; a crash at any point loads the last committed transaction. {@link #abort()}
 * drops everything since the last commit.
 *
 * <p>The persistent implementation is {@code io.jdm.targets.thin.metadata.PersistentPoolMetadata}
 * (on {@code io.jdm.persistentdata}); tests may use any other implementation of this contract as a
 * reference model.
 */
public interface PoolMetadata extends AutoCloseable {

  /** {@code dm_pool_create_thin}: a new, empty thin device; {@code EEXIST} when the id is used. */
  void createThin(long devId) throws IOException;

  /**
   * {@code dm_pool_create_snap}: a new thin device sharing every mapping of {@code originId}
   * (reference counts raised, the snapshot time advanced); {@code EEXIST} when {@code devId} is
   * used, {@code ENODATA}-like {@code EINVAL} when the origin does not exist.
   */
  void createSnap(long devId, long originId) throws IOException;

  /** {@code dm_pool_delete_thin_device}: drops the device and its mappings' references. */
  void deleteThin(long devId) throws IOException;

  /** {@code dm_pool_commit_metadata}: makes every change durable (runs the pre-commit hook). */
  void commit() throws IOException;

  /** {@code dm_pool_abort_metadata}: rolls back to the last committed transaction. */
  void abort() throws IOException;

  /** {@code dm_pool_set_metadata_transaction_id}: {@code EINVAL} when {@code current} differs. */
  void setTransactionId(long current, long next) throws IOException;

  /** {@code dm_pool_get_metadata_transaction_id}. */
  long transactionId();

  /** {@code dm_pool_reserve_metadata_snap}: {@code EBUSY} when one is already held. */
  void reserveMetadataSnap() throws IOException;

  /** {@code dm_pool_release_metadata_snap}: {@code EINVAL} when none is held. */
  void releaseMetadataSnap() throws IOException;

  /** {@code dm_pool_get_metadata_snap}: the held root's block, or {@code 0} when none. */
  long metadataSnap();

  /** {@code dm_pool_open_thin_device}: {@code EBUSY} when open already. */
  ThinDeviceMetadata openThin(long devId) throws IOException;

  /** {@code dm_pool_alloc_data_block}: a free data block, or {@code ENOSPC}. */
  long allocDataBlock() throws IOException;

  /** {@code dm_pool_changed_this_transaction}. */
  boolean changedThisTransaction();

  /** {@code dm_pool_get_free_block_count}. */
  long freeDataBlocks() throws IOException;

  /** {@code dm_pool_get_free_metadata_block_count}. */
  long freeMetadataBlocks() throws IOException;

  /** {@code dm_pool_get_data_dev_size}, in data blocks. */
  long dataBlocks() throws IOException;

  /** {@code dm_pool_get_metadata_dev_size}, in 4 KiB metadata blocks. */
  long metadataBlocks() throws IOException;

  /** {@code dm_pool_block_is_shared}: the data block's reference count is above one. */
  boolean blockIsShared(long dataBlock) throws IOException;

  /** {@code dm_pool_inc_data_range}: raises the reference counts of {@code [begin, end)}. */
  void incDataRange(long begin, long end) throws IOException;

  /** {@code dm_pool_dec_data_range}: drops the reference counts of {@code [begin, end)}. */
  void decDataRange(long begin, long end) throws IOException;

  /** {@code dm_pool_resize_data_dev}: {@code ENOSPC} when allocated blocks would be lost. */
  void resizeDataDev(long newBlocks) throws IOException;

  /** {@code dm_pool_resize_metadata_dev}. */
  void resizeMetadataDev(long newBlocks) throws IOException;

  /** {@code dm_pool_metadata_read_only} / {@code _read_write}: writes refused with EROFS. */
  void setReadOnly(boolean readOnly);

  /**
   * {@code dm_pool_register_metadata_threshold}: {@code callback} runs once when the free metadata
   * blocks fall below {@code threshold}.
   */
  void registerMetadataThreshold(long threshold, Runnable callback);

  /** {@code dm_pool_metadata_set_needs_check}: written to the superblock at once. */
  void setNeedsCheck() throws IOException;

  /** {@code dm_pool_metadata_needs_check}. */
  boolean needsCheck();

  /** The hook run at the start of every commit ({@code dm_pool_register_pre_commit_callback}). */
  interface PreCommit {
    void run() throws IOException;
  }

  /** {@code dm_pool_register_pre_commit_callback}. */
  void registerPreCommit(PreCommit hook);

  /** {@code dm_pool_metadata_close}: does not commit; open thin devices refuse further calls. */
  @Override
  void close() throws IOException;
}
