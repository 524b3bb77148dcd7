package io.jdm.persistentdata;

import io.jdm.core.bufio.CorruptBlockException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The space map of another device, kept in the metadata ({@code dm-space-map-disk.c}): the thin
 * pool's data blocks. Its bitmaps, the B-tree indexing them (values: {@code struct
 * disk_index_entry}) and the overflow tree are metadata blocks of the {@link TransactionManager}.
 */
public final class DiskSpaceMap extends CoreSpaceMap {
  private static final ValueType INDEX_ENTRY = ValueType.ofSize(16);

  private final BTree indexTree;
  private long indexRoot;

  private DiskSpaceMap(TransactionManager tm) {
    super(tm, "data space map");
    this.indexTree = new BTree(tm, INDEX_ENTRY);
  }

  /** {@code dm_sm_disk_create}: a new space map of {@code nrBlocks} blocks. */
  public static DiskSpaceMap create(TransactionManager tm, long nrBlocks) throws IOException {
    DiskSpaceMap sm = new DiskSpaceMap(tm);
    sm.refCountRoot = sm.refTree.empty();
    sm.indexRoot = sm.indexTree.empty();
    sm.extend(nrBlocks);
    return sm;
  }

  /** {@code dm_sm_disk_open}: the space map whose root a superblock holds. */
  public static DiskSpaceMap open(TransactionManager tm, byte[] root) throws IOException {
    DiskSpaceMap sm = new DiskSpaceMap(tm);
    ByteBuffer r = ByteBuffer.wrap(root).order(ByteOrder.LITTLE_ENDIAN);
    long nrBlocks = r.getLong(0);
    sm.nrAllocated = r.getLong(8);
    sm.indexRoot = r.getLong(16);
    sm.refCountRoot = r.getLong(24);
    if (nrBlocks < 0
        || sm.nrAllocated < 0
        || sm.nrAllocated > nrBlocks
        || pagesFor(nrBlocks) > Integer.MAX_VALUE / 2) {
      throw new CorruptBlockException(
          "superblock",
          0,
          "data space map root: "
              + nrBlocks
              + " blocks, "
              + sm.nrAllocated
              + " allocated (expected: 0 <= allocated <= blocks)");
    }
    sm.nrBlocks = nrBlocks;
    int n = pagesFor(nrBlocks);
    sm.resizePages(n);
    sm.indexTree.walk(
        sm.indexRoot,
        (keys, value) -> {
          if (keys[0] >= n) {
            throw new CorruptBlockException(
                BTree.NODE_VALIDATOR.name(),
                sm.indexRoot,
                "data space map index has bitmap " + keys[0] + " of " + n);
          }
          sm.readIndexEntry(
              ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN), 0, (int) keys[0]);
        });
    for (int p = 0; p < n; p++) {
      if (sm.pageBlock[p] < 0) {
        throw new CorruptBlockException(
            BTree.NODE_VALIDATOR.name(),
            sm.indexRoot,
            "data space map index lacks bitmap " + p + " of " + n);
      }
    }
    sm.loadOverflow();
    return sm;
  }

  @Override
  long maxPages() {
    return Integer.MAX_VALUE / 2;
  }

  @Override
  long indexRoot() {
    return indexRoot;
  }

  @Override
  public synchronized void commit() throws IOException {
    writeBitmaps();
    writeOverflow();
    for (int p = indexDirty.nextSetBit(0); p >= 0; p = indexDirty.nextSetBit(p + 1)) {
      ByteBuffer e = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
      putIndexEntry(e, 0, p);
      indexRoot = indexTree.insert(indexRoot, p, e.array());
    }
    indexDirty.clear();
    endTransaction();
  }
}
