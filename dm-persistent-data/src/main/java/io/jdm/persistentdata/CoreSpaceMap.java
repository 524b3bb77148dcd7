package io.jdm.persistentdata;

import io.jdm.core.Errno;
import io.jdm.core.bufio.ChecksumValidator;
import io.jdm.core.bufio.HeldBlock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * What the disk and metadata space maps share ({@code dm-space-map-common.c}): reference counts in
 * bitmap blocks of 2-bit entries (0, 1, 2, or 3 for "see the overflow tree"), counts of three and
 * more in a B-tree of little-endian 32-bit values, and an index of the bitmaps with their free
 * counts.
 *
 * <p>Unlike the kernel, which reads and shadows bitmap blocks at every change (and so must guard
 * the metadata space map against changing itself while it changes itself), the counts of this
 * transaction are kept in memory, loaded a bitmap at a time, and written only by {@link #commit}:
 * the metadata space map's recursion becomes a loop that writes until nothing it wrote changed the
 * counts again. The format on disk is the kernel's.
 */
abstract class CoreSpaceMap implements SpaceMap {
  static final int BITMAP_HEADER = 16;
  static final int BITMAP_BYTES = BlockManager.BLOCK_SIZE - BITMAP_HEADER;
  static final int ENTRIES_PER_BLOCK = BITMAP_BYTES * 4;

  /** {@code dm_sm_bitmap_validator}. */
  static final ChecksumValidator BITMAP_VALIDATOR =
      ChecksumValidator.of("sm_bitmap", BlockChecksum.SPACE_MAP_BITMAP_XOR, 8);

  static final ValueType REF_COUNT = ValueType.ofSize(4);

  final TransactionManager tm;
  final String name;
  final BTree refTree;

  long nrBlocks;
  long nrAllocated;
  long refCountRoot;

  long[] pageBlock = new long[0];
  int[] pageFree = new int[0];
  int[] pageFirstFree = new int[0];
  byte[][] pages = new byte[0][];
  BitSet[] freed = new BitSet[0];
  final BitSet dirtyPages = new BitSet();
  final BitSet indexDirty = new BitSet();

  final Map<Long, Long> overflow = new HashMap<>();
  final Set<Long> overflowDirty = new HashSet<>();
  final Set<Long> overflowInTree = new HashSet<>();

  private long begin;

  /** Blocks handed out by {@link #newBlock} since the last commit. */
  long allocatedThisTransaction;

  private long threshold;
  private boolean thresholdSet;
  private Runnable thresholdCallback;
  private boolean valueSet;
  private long currentValue;

  CoreSpaceMap(TransactionManager tm, String name) {
    this.tm = tm;
    this.name = name;
    this.refTree = new BTree(tm, REF_COUNT);
  }

  static int pagesFor(long nrBlocks) {
    return (int) ((nrBlocks + ENTRIES_PER_BLOCK - 1) / ENTRIES_PER_BLOCK);
  }

  void resizePages(int n) {
    int old = pageBlock.length;
    pageBlock = Arrays.copyOf(pageBlock, n);
    pageFree = Arrays.copyOf(pageFree, n);
    pageFirstFree = Arrays.copyOf(pageFirstFree, n);
    pages = Arrays.copyOf(pages, n);
    freed = Arrays.copyOf(freed, n);
    for (int p = old; p < n; p++) {
      pageBlock[p] = -1;
    }
  }

  /** Reads the overflow counts of the reference count tree. */
  void loadOverflow() throws IOException {
    refTree.walk(
        refCountRoot,
        (keys, value) -> {
          long c = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN).getInt(0) & 0xFFFFFFFFL;
          overflow.put(keys[0], c);
          overflowInTree.add(keys[0]);
        });
  }

  private byte[] page(int p) throws IOException {
    byte[] pg = pages[p];
    if (pg == null) {
      pg = new byte[BITMAP_BYTES];
      if (pageBlock[p] >= 0) {
        try (HeldBlock h = tm.readLock(pageBlock[p], BITMAP_VALIDATOR)) {
          h.data().get(BITMAP_HEADER, pg);
        }
        int zeros = 0;
        for (int e = 0; e < ENTRIES_PER_BLOCK; e++) {
          if (entry(pg, e) == 0) {
            zeros++;
          }
        }
        pageFree[p] = zeros;
      }
      pages[p] = pg;
    }
    return pg;
  }

  /** The 2-bit entry {@code e} of a bitmap: bit {@code 2e} is the high bit, as the kernel's. */
  static int entry(byte[] pg, int e) {
    int raw = (pg[e >>> 2] >>> ((e & 3) << 1)) & 3;
    return ((raw & 1) << 1) | (raw >>> 1);
  }

  static void setEntry(byte[] pg, int e, int v) {
    int sh = (e & 3) << 1;
    int raw = ((v & 1) << 1) | (v >>> 1);
    pg[e >>> 2] = (byte) ((pg[e >>> 2] & ~(3 << sh)) | (raw << sh));
  }

  private void checkBlock(long b) throws PersistentDataException {
    if (b < 0 || b >= nrBlocks) {
      throw new PersistentDataException(
          Errno.EINVAL,
          name + ": block " + b + " out of bounds (expected: 0 <= block < " + nrBlocks + ")");
    }
  }

  @Override
  public synchronized long nrBlocks() {
    return nrBlocks;
  }

  @Override
  public synchronized long nrFree() {
    return nrBlocks - nrAllocated;
  }

  @Override
  public synchronized long count(long b) throws IOException {
    checkBlock(b);
    return get(b);
  }

  @Override
  public synchronized boolean countIsMoreThanOne(long b) throws IOException {
    return count(b) > 1;
  }

  long get(long b) throws IOException {
    int v = entry(page((int) (b / ENTRIES_PER_BLOCK)), (int) (b % ENTRIES_PER_BLOCK));
    if (v < 3) {
      return v;
    }
    Long c = overflow.get(b);
    if (c == null) {
      throw new io.jdm.core.bufio.CorruptBlockException(
          BITMAP_VALIDATOR.name(),
          pageBlock[(int) (b / ENTRIES_PER_BLOCK)],
          name + ": block " + b + " has the overflow mark but no reference count in the tree");
    }
    return c;
  }

  void set(long b, long old, long c) throws IOException {
    int p = (int) (b / ENTRIES_PER_BLOCK);
    int e = (int) (b % ENTRIES_PER_BLOCK);
    setEntry(page(p), e, (int) Math.min(c, 3));
    if (c >= 3) {
      overflow.put(b, c);
      overflowDirty.add(b);
    } else if (old >= 3) {
      overflow.remove(b);
      overflowDirty.add(b);
    }
    if (old == 0 && c > 0) {
      nrAllocated++;
      pageFree[p]--;
    } else if (old > 0 && c == 0) {
      nrAllocated--;
      pageFree[p]++;
      if (freed[p] == null) {
        freed[p] = new BitSet();
      }
      freed[p].set(e);
    }
    dirtyPages.set(p);
  }

  @Override
  public synchronized void inc(long b, long e) throws IOException {
    if (b < e) {
      checkBlock(b);
      checkBlock(e - 1);
    }
    for (long x = b; x < e; x++) {
      long c = get(x);
      set(x, c, c + 1);
    }
  }

  @Override
  public synchronized void dec(long b, long e) throws IOException {
    if (b < e) {
      checkBlock(b);
      checkBlock(e - 1);
    }
    for (long x = b; x < e; x++) {
      if (get(x) == 0) {
        throw new PersistentDataException(
            Errno.EINVAL,
            name + ": unable to decrement block " + x + ": its reference count is already 0");
      }
    }
    for (long x = b; x < e; x++) {
      long c = get(x);
      set(x, c, c - 1);
    }
  }

  @Override
  public synchronized long newBlock() throws IOException {
    long b = findFree(begin, nrBlocks);
    if (b < 0) {
      b = findFree(0, Math.min(begin, nrBlocks));
    }
    if (b < 0) {
      throw new PersistentDataException(
          Errno.ENOSPC,
          name
              + ": no free block ("
              + nrBlocks
              + " blocks, "
              + nrAllocated
              + " in use, "
              + (nrBlocks - nrAllocated)
              + " freed in this transaction)");
    }
    set(b, 0, 1);
    begin = b + 1;
    allocatedThisTransaction++;
    checkThreshold();
    return b;
  }

  /** A block free now and at the last commit in {@code [from, to)}, or -1. */
  private long findFree(long from, long to) throws IOException {
    if (from >= to) {
      return -1;
    }
    for (int p = (int) (from / ENTRIES_PER_BLOCK); p < pageBlock.length; p++) {
      long base = (long) p * ENTRIES_PER_BLOCK;
      if (base >= to) {
        break;
      }
      if (pageFree[p] == 0) {
        continue;
      }
      byte[] pg = page(p);
      BitSet f = freed[p];
      int e = (int) Math.max(0, from - base);
      int end = (int) Math.min(ENTRIES_PER_BLOCK, to - base);
      while (e < end) {
        if ((e & 3) == 0
            && pg[e >>> 2] != 0
            && (pg[e >>> 2] & 0x03) != 0
            && (pg[e >>> 2] & 0x0C) != 0
            && (pg[e >>> 2] & 0x30) != 0
            && (pg[e >>> 2] & 0xC0) != 0) {
          e += 4;
          continue;
        }
        if (entry(pg, e) == 0 && (f == null || !f.get(e))) {
          return base + e;
        }
        e++;
      }
    }
    return -1;
  }

  @Override
  public synchronized void registerThreshold(long threshold, Runnable callback) {
    this.threshold = threshold;
    this.thresholdCallback = callback;
    this.thresholdSet = true;
  }

  private void checkThreshold() {
    long v = nrFree();
    boolean below = thresholdSet && v <= threshold;
    boolean already = valueSet && thresholdSet && currentValue <= threshold;
    valueSet = true;
    currentValue = v;
    if (below && !already) {
      thresholdCallback.run();
    }
  }

  @Override
  public synchronized void extend(long extraBlocks) throws IOException {
    if (extraBlocks < 0) {
      throw new IllegalArgumentException("extend by " + extraBlocks + " (expected: >= 0)");
    }
    long n = nrBlocks + extraBlocks;
    int oldPages = pageBlock.length;
    int newPages = pagesFor(n);
    if (newPages > maxPages()) {
      throw new PersistentDataException(
          Errno.EINVAL,
          name
              + ": space map too large: "
              + n
              + " blocks need "
              + newPages
              + " bitmaps (at most "
              + maxPages()
              + ")");
    }
    resizePages(newPages);
    for (int p = oldPages; p < newPages; p++) {
      pages[p] = new byte[BITMAP_BYTES];
      pageFree[p] = ENTRIES_PER_BLOCK;
      dirtyPages.set(p);
    }
    nrBlocks = n;
  }

  /** The most bitmaps the index holds. */
  abstract long maxPages();

  /** Writes every changed bitmap (shadowed, or new), noting its index entry as changed. */
  void writeBitmaps() throws IOException {
    for (int p = dirtyPages.nextSetBit(0); p >= 0; p = dirtyPages.nextSetBit(0)) {
      dirtyPages.clear(p);
      long loc = pageBlock[p] < 0 ? tm.allocate() : tm.shadow(pageBlock[p]).block();
      pageBlock[p] = loc;
      byte[] pg = page(p);
      ByteBuffer buf = ByteBuffer.allocate(BlockManager.BLOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
      buf.put(BITMAP_HEADER, pg);
      tm.write(loc, BITMAP_VALIDATOR, buf);
      pageFirstFree[p] = firstFree(pg);
      indexDirty.set(p);
    }
  }

  private static int firstFree(byte[] pg) {
    for (int e = 0; e < ENTRIES_PER_BLOCK; e++) {
      if (entry(pg, e) == 0) {
        return e;
      }
    }
    return ENTRIES_PER_BLOCK;
  }

  /** Writes the changed overflow counts to the reference count tree. */
  void writeOverflow() throws IOException {
    while (!overflowDirty.isEmpty()) {
      Iterator<Long> it = overflowDirty.iterator();
      long b = it.next();
      it.remove();
      Long c = overflow.get(b);
      if (c != null) {
        byte[] v = new byte[4];
        ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN).putInt(0, (int) (long) c);
        refCountRoot = refTree.insert(refCountRoot, b, v);
        overflowInTree.add(b);
      } else if (overflowInTree.remove(b)) {
        refCountRoot = refTree.remove(refCountRoot, b);
      }
    }
  }

  /** The index entry of bitmap {@code p}: {@code struct disk_index_entry}. */
  void putIndexEntry(ByteBuffer buf, int offset, int p) {
    buf.putLong(offset, pageBlock[p]);
    buf.putInt(offset + 8, pageFree[p]);
    buf.putInt(offset + 12, pageFirstFree[p]);
  }

  void readIndexEntry(ByteBuffer buf, int offset, int p) {
    pageBlock[p] = buf.getLong(offset);
    pageFree[p] = buf.getInt(offset + 8);
    pageFirstFree[p] = buf.getInt(offset + 12);
  }

  /** The committed state is now this one: blocks freed so far may be handed out again. */
  void endTransaction() {
    Arrays.fill(freed, null);
    allocatedThisTransaction = 0;
  }

  @Override
  public synchronized byte[] root() {
    ByteBuffer b = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(0, nrBlocks);
    b.putLong(8, nrAllocated);
    b.putLong(16, indexRoot());
    b.putLong(24, refCountRoot);
    return b.array();
  }

  /** Where the index lives: the index block, or the index tree's root. */
  abstract long indexRoot();

  @Override
  public String toString() {
    return name + "[" + nrBlocks + " blocks, " + nrAllocated + " allocated]";
  }
}
