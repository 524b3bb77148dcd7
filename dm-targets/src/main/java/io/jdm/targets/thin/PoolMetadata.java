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

  /**
   * {@code dm_pool_create_thin}: a new, empty thin device; {@code EEXIST} when the id is used,
   * {@code EINVAL} when it does not fit 24 bits.
   */
  void createThin(long devId) throws IOException;

  /**
   * {@code dm_pool_create_snap}: a new thin device sharing every mapping of {@code originId}
   * (reference counts raised, the snapshot time advanced); {@code EEXIST} when {@code devId} is
   * used, {@code ENODATA}-like {@code EINVAL} when the origin does not exist.
   */
  void createSnap(long devId, long originId) throws IOException;

  /**
   * {@code dm_pool_delete_thin_device}: drops the device and its mappings' references; {@code
   * EBUSY} while it is open, {@code EINVAL} when it does not exist (the kernel's {@code ENODATA}).
   */
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

  /**
   * {@code dm_pool_open_thin_device}: {@code EBUSY} when open already, {@code EINVAL} when the
   * device does not exist (the kernel's {@code ENODATA}).
   */
  ThinDeviceMetadata openThin(long devId) throws IOException;

  /** {@code dm_pool_alloc_data_block}: a free data block, or {@code ENOSPC}. */
  long allocDataBlock() throws IOException;

  /** {@code dm_pool_changed_this_transaction}. */
  boolean changedThisTransaction();

  /** {@code dm_pool_get_free_block_count}. */
  long freeDataBlocks() throws IOException;

  /**
   * {@code dm_pool_get_free_metadata_block_count}: the blocks free at the last commit less those
   * allocated since, less the kernel's reserve of {@code min(4096, metadataBlocks / 10)}, at least
   * zero.
   */
  long freeMetadataBlocks() throws IOException;

  /** {@code dm_pool_get_data_dev_size}, in data blocks. */
  long dataBlocks() throws IOException;

  /** {@code dm_pool_get_metadata_dev_size}, in 4 KiB metadata blocks. */
  long metadataBlocks() throws IOException;

  /**
   * {@code dm_pool_block_is_shared}: the data block's reference count is above one. As in the
   * kernel, counts follow the B-tree leaves that hold the block, not the devices that map it: a
   * snapshot shares its origin's tree, and a block both map keeps count one until a leaf holding it
   * is first copied. Copy-on-write decisions use {@link ThinDeviceMetadata.Lookup#shared()}; this
   * serves discard passdown after {@link #incDataRange}, as {@code dm-thin.c} uses it.
   */
  boolean blockIsShared(long dataBlock) throws IOException;

  /** {@code dm_pool_inc_data_range}: raises the reference counts of {@code [begin, end)}. */
  void incDataRange(long begin, long end) throws IOException;

  /** {@code dm_pool_dec_data_range}: drops the reference counts of {@code [begin, end)}. */
  void decDataRange(long begin, long end) throws IOException;

  /**
   * {@code dm_pool_resize_data_dev}: grows the data space map; {@code EINVAL} for a smaller size
   * (the kernel's space maps cannot shrink: "cannot reduce size of space map").
   */
  void resizeDataDev(long newBlocks) throws IOException;

  /**
   * {@code dm_pool_resize_metadata_dev}: grows the metadata space map; {@code EINVAL} for a smaller
   * size or one beyond the device (or the 255 bitmaps of the metadata space map's index).
   */
  void resizeMetadataDev(long newBlocks) throws IOException;

  /**
   * {@code dm_pool_metadata_read_only} / {@code _read_write}: every change, commit included, is
   * refused with EROFS; lookups go on.
   */
  void setReadOnly(boolean readOnly);

  /**
   * {@code dm_pool_register_metadata_threshold}: {@code callback} runs when an allocation leaves
   * {@code threshold} or fewer free metadata blocks (the space map's count, without the reserve
   * {@link #freeMetadataBlocks} subtracts), once until the count rises above it again (a commit
   * frees the blocks its shadows replaced). It runs on the allocating thread, under the metadata's
   * lock: it must not call back into this object.
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

  /**
   * {@code dm_pool_metadata_close}: does not commit; open thin devices refuse further calls (with
   * {@link IllegalStateException}), as does this object.
   */
  @Override
  void close() throws IOException;
}
