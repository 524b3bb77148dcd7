package io.jdm.persistentdata;

import java.io.IOException;

/**
 * Reference counts of the blocks of a device: the kernel's {@code struct dm_space_map} ({@code
 * dm-space-map.h}). A block with count zero is free.
 *
 * <p>Implementations must:
 *
 * <ul>
 *   <li>never return from {@link #newBlock} a block freed in this transaction (the committed
 *       transaction may still use it), and throw {@link PersistentDataException} with {@code
 *       ENOSPC} when no block is free;
 *   <li>refuse with {@code EINVAL} to drop a count below zero or to touch a block beyond {@link
 *       #nrBlocks}, changing nothing;
 *   <li>make every change durable in {@link #commit} (through the transaction manager), and say
 *       where in {@link #root()}.
 * </ul>
 *
 * <p>Thread-safe.
 */
public interface SpaceMap {
  /** Size of the root a superblock stores ({@code SPACE_MAP_ROOT_SIZE}). */
  int ROOT_SIZE = 128;

  /** {@code dm_sm_get_nr_blocks}. */
  long nrBlocks();

  /** {@code dm_sm_get_nr_free}. */
  long nrFree();

  /** {@code dm_sm_get_count}. */
  long count(long b) throws IOException;

  /** {@code dm_sm_count_is_more_than_one}. */
  boolean countIsMoreThanOne(long b) throws IOException;

  /** {@code dm_sm_inc_blocks}: raises the counts of {@code [b, e)}. */
  void inc(long b, long e) throws IOException;

  /** {@code dm_sm_dec_blocks}: drops the counts of {@code [b, e)}. */
  void dec(long b, long e) throws IOException;

  /** {@code dm_sm_new_block}: a free block, its count set to one. */
  long newBlock() throws IOException;

  /** {@code dm_sm_extend}. */
  void extend(long extraBlocks) throws IOException;

  /** {@code dm_sm_commit}. */
  void commit() throws IOException;

  /** {@code dm_sm_copy_root}: the {@code disk_sm_root} (32 bytes used of {@link #ROOT_SIZE}). */
  byte[] root();

  /**
   * {@code dm_sm_register_threshold_callback}: {@code callback} runs when an allocation leaves
   * {@code threshold} or fewer blocks free, once until the free count rises above it again.
   */
  void registerThreshold(long threshold, Runnable callback);
}
