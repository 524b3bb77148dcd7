package io.jdm.core.bufio;

import java.nio.ByteBuffer;

/**
 * Checks a metadata block read from the device and prepares one before it is written back: the
 * kernel's {@code struct dm_block_validator} ({@code
 * drivers/md/persistent-data/dm-block-manager.h}). A validator stands for one on-disk structure
 * (superblock, B-tree node, space-map bitmap, ...), and {@link BufioClient} remembers which
 * validator a cached block was checked with: reading it later as another structure fails.
 *
 * <p>Implementations must:
 *
 * <ul>
 *   <li>in {@link #check}, throw {@link CorruptBlockException} naming {@link #name()}, the block
 *       and what is wrong, and change nothing (the buffer is read-only);
 *   <li>in {@link #prepareForWrite}, only write the structure's own header fields (checksum, block
 *       number), so that a block prepared and then checked passes;
 *   <li>use absolute gets and puts: both methods get a buffer of the whole block (position 0, limit
 *       the block size, little-endian), not a copy;
 *   <li>be stateless or thread-safe: one validator serves every block and every thread.
 * </ul>
 *
 * <p>{@link ChecksumValidator} is the common case: a crc32c of the block in its first four bytes
 * and the block's own number further on.
 */
public interface BlockValidator {

  /** The structure's name, as in messages: {@code "superblock"}, {@code "btree_node"}. */
  String name();

  /**
   * Fills in the fields that protect the block (checksum, block number) before it is written.
   * Called by {@link BufioClient} when the exclusive holder that dirtied the block releases it.
   */
  void prepareForWrite(ByteBuffer block, long blockNr);

  /**
   * Checks a block that came from the device, before anyone sees it as this structure.
   *
   * @throws CorruptBlockException if the block is not a valid {@link #name()} at {@code blockNr}
   */
  void check(ByteBuffer block, long blockNr) throws CorruptBlockException;
}
