package io.jdm.targets.thin;

import java.io.IOException;

/**
 * One thin device's mappings in the pool metadata: {@code struct dm_thin_device} and the {@code
 * dm_thin_*} calls of {@code dm-thin-metadata.h}. Blocks are the pool's data blocks (the pool's
 * block size, in sectors, is fixed when the metadata is formatted). Opened by {@link
 * PoolMetadata#openThin}; a device opened twice is refused with {@code EBUSY}.
 *
 * <p>Thread safety: as the kernel's (the pool metadata's lock), every method may be called from any
 * thread; lookups may run concurrently with each other.
 */
public interface ThinDeviceMetadata extends AutoCloseable {

  /** A mapping: the data block and whether other devices (snapshots) share it. */
  record Lookup(long dataBlock, boolean shared) {}

  /**
   * A run of consecutively mapped blocks: virtual blocks {@code [thinBegin, thinEnd)} map to data
   * blocks {@code [poolBegin, poolBegin + (thinEnd - thinBegin))}; {@code maybeShared} when any of
   * them may be shared.
   */
  record MappedRange(long thinBegin, long thinEnd, long poolBegin, boolean maybeShared) {}

  /** The 24-bit thin id. */
  long id();

  /**
   * {@code dm_thin_find_block}: the mapping of virtual {@code block}, or {@code null} when it is
   * not mapped (the kernel's {@code -ENODATA}).
   */
  Lookup findBlock(long block) throws IOException;

  /**
   * {@code dm_thin_find_mapped_range}: the first run of consecutive mappings starting at or after
   * {@code begin} and before {@code end}, or {@code null} when none.
   */
  MappedRange findMappedRange(long begin, long end) throws IOException;

  /**
   * {@code dm_thin_insert_block}: maps virtual {@code block} to {@code dataBlock} (which the caller
   * allocated or whose reference it holds), stamped with the current snapshot time. A mapping it
   * replaces has its data block's reference dropped.
   */
  void insertBlock(long block, long dataBlock) throws IOException;

  /**
   * {@code dm_thin_remove_range}: unmaps virtual blocks {@code [begin, end)}, dropping their data
   * blocks' references.
   */
  void removeRange(long begin, long end) throws IOException;

  /** {@code dm_thin_changed_this_transaction}. */
  boolean changedThisTransaction();

  /** {@code dm_thin_aborted_changes}: true when the last abort dropped changes of this device. */
  boolean abortedChanges();

  /** {@code dm_thin_get_highest_mapped_block}, or {@code -1} when nothing is mapped. */
  long highestMappedBlock() throws IOException;

  /** {@code dm_thin_get_mapped_count}. */
  long mappedCount() throws IOException;

  /** {@code dm_pool_close_thin_device}. */
  @Override
  void close();
}
