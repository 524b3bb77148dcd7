package io.jdm.persistentdata;

import io.jdm.core.BlockDevice;
import io.jdm.core.Errno;
import io.jdm.core.bufio.BlockValidator;
import io.jdm.core.bufio.BufioClient;
import io.jdm.core.bufio.HeldBlock;
import java.io.Closeable;
import java.io.IOException;

/**
 * The kernel's {@code dm-block-manager.c}: 4 KiB metadata blocks of a device read and written
 * through a {@link BufioClient}, each checked by the validator of the structure it holds, with
 * shared (read) and exclusive (write) locks.
 *
 * <ul>
 *   <li>{@link #readLock} and {@link #writeLock} read the block unless cached and check it: a block
 *       of the wrong structure, at the wrong place or with a bad checksum is a {@link
 *       io.jdm.core.bufio.CorruptBlockException} naming the block and the structure;
 *   <li>{@link #writeLockZero} gives a zeroed block without reading it;
 *   <li>write locks are refused with {@code EROFS} while the manager is read-only ({@code
 *       dm_bm_set_read_only});
 *   <li>{@link #flush} writes every dirty block and flushes the device ({@code dm_bm_flush}).
 * </ul>
 *
 * <p>Thread-safe, as the bufio client underneath. A thread must not lock a block it already holds.
 */
public final class BlockManager implements Closeable {
  /** The metadata block size, in bytes ({@code DM_SM_METADATA_BLOCK_SIZE} sectors). */
  public static final int BLOCK_SIZE = 4096;

  private final BufioClient bufio;
  private volatile boolean readOnly;

  /** A block manager over {@code device} caching up to {@code cacheBlocks} blocks. */
  public BlockManager(BlockDevice device, int cacheBlocks) {
    this.bufio = BufioClient.builder(device, BLOCK_SIZE).maxBlocks(cacheBlocks).build();
    this.readOnly = device.isReadOnly();
  }

  /** A block manager with bufio's default cache bound. */
  public BlockManager(BlockDevice device) {
    this.bufio = BufioClient.builder(device, BLOCK_SIZE).build();
    this.readOnly = device.isReadOnly();
  }

  public BufioClient bufio() {
    return bufio;
  }

  /** Whole blocks on the device ({@code dm_bm_nr_blocks}). */
  public long blocks() {
    return bufio.blocks();
  }

  public int blockSize() {
    return BLOCK_SIZE;
  }

  /** {@code dm_bm_read_lock}. */
  public HeldBlock readLock(long block, BlockValidator validator) throws IOException {
    return bufio.read(block, validator);
  }

  /** {@code dm_bm_write_lock}. */
  public HeldBlock writeLock(long block, BlockValidator validator) throws IOException {
    ensureWritable(block);
    return bufio.readForWrite(block, validator);
  }

  /** {@code dm_bm_write_lock_zero}. */
  public HeldBlock writeLockZero(long block, BlockValidator validator) throws IOException {
    ensureWritable(block);
    return bufio.newBlock(block, validator);
  }

  /** {@code dm_bm_flush}: every dirty block written, then the device flushed. */
  public void flush() throws IOException {
    ensureWritable(-1);
    bufio.writeDirty();
  }

  /** {@code dm_bm_set_read_only} / {@code dm_bm_set_read_write}. */
  public void setReadOnly(boolean readOnly) {
    this.readOnly = readOnly || bufio.device().isReadOnly();
  }

  public boolean isReadOnly() {
    return readOnly;
  }

  private void ensureWritable(long block) throws PersistentDataException {
    if (readOnly) {
      throw new PersistentDataException(
          Errno.EROFS,
          "block manager on "
              + bufio.device().name()
              + " is read-only"
              + (block >= 0 ? ": no write lock on block " + block : ": no flush"));
    }
  }

  /** Ends the cache, writing dirty blocks back ({@link BufioClient#close()}). */
  @Override
  public void close() throws IOException {
    bufio.close();
  }
}
