package io.jdm.persistentdata;

import io.jdm.core.Errno;
import io.jdm.core.bufio.ChecksumValidator;
import io.jdm.core.bufio.CorruptBlockException;
import io.jdm.core.bufio.HeldBlock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The space map of the metadata device itself ({@code dm-space-map-metadata.c}): its bitmaps, index
 * block and overflow tree live in the blocks it counts. The index is one block ({@code struct
 * disk_metadata_index}) of at most {@value #MAX_BITMAPS} entries, which caps the device at {@link
 * #MAX_BLOCKS} blocks.
 *
 * <p>{@link #commit} writes the bitmaps, the overflow tree and the index block, each through the
 * transaction manager, which allocates and frees blocks of this very map: it repeats until a pass
 * changes no count (every block is shadowed at most once per transaction, so this ends).
 */
public final class MetadataSpaceMap extends CoreSpaceMap {
  /** {@code MAX_METADATA_BITMAPS}. */
  public static final int MAX_BITMAPS = 255;

  /** {@code DM_SM_METADATA_MAX_BLOCKS}. */
  public static final long MAX_BLOCKS = (long) MAX_BITMAPS * ENTRIES_PER_BLOCK;

  /** The index block's validator ({@code index_validator}). */
  public static final ChecksumValidator INDEX_VALIDATOR =
      ChecksumValidator.of("sm_index", BlockChecksum.SPACE_MAP_INDEX_XOR, 8);

  private static final int INDEX_ENTRIES = 16;

  private long indexBlock = -1;

  /** Free blocks at the last commit. */
  private long committedFree;

  private MetadataSpaceMap(TransactionManager tm) {
    super(tm, "metadata space map");
  }

  /**
   * {@code dm_tm_create_with_sm}: a new space map of {@code nrBlocks} blocks (at most {@link
   * #MAX_BLOCKS}) on {@code tm}'s device, set as {@code tm}'s; {@code superblock} counts one.
   * Nothing is written until {@link #commit}.
   */
  public static MetadataSpaceMap create(TransactionManager tm, long nrBlocks, long superblock)
      throws IOException {
    MetadataSpaceMap sm = new MetadataSpaceMap(tm);
    tm.setSpaceMap(sm);
    sm.extend(Math.min(nrBlocks, MAX_BLOCKS));
    sm.inc(superblock, superblock + 1);
    sm.committedFree = sm.nrBlocks;
    sm.refCountRoot = sm.refTree.empty();
    return sm;
  }

  /** {@code dm_tm_open_with_sm}: the space map whose root a superblock holds. */
  public static MetadataSpaceMap open(TransactionManager tm, byte[] root) throws IOException {
    MetadataSpaceMap sm = new MetadataSpaceMap(tm);
    tm.setSpaceMap(sm);
    ByteBuffer r = ByteBuffer.wrap(root).order(ByteOrder.LITTLE_ENDIAN);
    long nrBlocks = r.getLong(0);
    sm.nrAllocated = r.getLong(8);
    sm.indexBlock = r.getLong(16);
    sm.refCountRoot = r.getLong(24);
    if (nrBlocks < 0 || nrBlocks > MAX_BLOCKS || sm.nrAllocated < 0 || sm.nrAllocated > nrBlocks) {
      throw new CorruptBlockException(
          "superblock",
          0,
          "metadata space map root: "
              + nrBlocks
              + " blocks, "
              + sm.nrAllocated
              + " allocated (expected: allocated <= blocks <= "
              + MAX_BLOCKS
              + ")");
    }
    sm.nrBlocks = nrBlocks;
    int n = pagesFor(nrBlocks);
    sm.resizePages(n);
    try (HeldBlock h = tm.readLock(sm.indexBlock, INDEX_VALIDATOR)) {
      for (int p = 0; p < n; p++) {
        sm.readIndexEntry(h.data(), INDEX_ENTRIES + 16 * p, p);
      }
    }
    sm.loadOverflow();
    sm.committedFree = nrBlocks - sm.nrAllocated;
    return sm;
  }

  /**
   * As the kernel's {@code sm_metadata_get_nr_free}: the blocks free at the last commit less those
   * handed out since (blocks freed in this transaction, or added by {@link #extend}, count from the
   * next commit on).
   */
  @Override
  public synchronized long nrFree() {
    return Math.max(0, committedFree - allocatedThisTransaction);
  }

  @Override
  void endTransaction() {
    super.endTransaction();
    committedFree = nrBlocks - nrAllocated;
  }

  @Override
  long maxPages() {
    return MAX_BITMAPS;
  }

  @Override
  long indexRoot() {
    return indexBlock;
  }

  @Override
  public synchronized void commit() throws IOException {
    do {
      writeBitmaps();
      writeOverflow();
      writeIndex();
    } while (!dirtyPages.isEmpty() || !overflowDirty.isEmpty());
    endTransaction();
  }

  private void writeIndex() throws IOException {
    long loc = indexBlock < 0 ? tm.allocate() : tm.shadow(indexBlock).block();
    indexBlock = loc;
    ByteBuffer buf = ByteBuffer.allocate(BlockManager.BLOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
    for (int p = 0; p < pageBlock.length; p++) {
      putIndexEntry(buf, INDEX_ENTRIES + 16 * p, p);
    }
    tm.write(loc, INDEX_VALIDATOR, buf);
    indexDirty.clear();
  }

  /** {@code ENOSPC} unless the space map can grow to {@code nrBlocks}. */
  static void checkSize(long nrBlocks) throws PersistentDataException {
    if (nrBlocks > MAX_BLOCKS) {
      throw new PersistentDataException(
          Errno.EINVAL,
          "metadata space map of " + nrBlocks + " blocks (at most " + MAX_BLOCKS + ")");
    }
  }
}
