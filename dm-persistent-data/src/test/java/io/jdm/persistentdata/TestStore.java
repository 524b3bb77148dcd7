package io.jdm.persistentdata;

import io.jdm.core.BlockDevice;
import io.jdm.core.bufio.ChecksumValidator;
import io.jdm.core.bufio.HeldBlock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * A minimal user of the library for its tests: a superblock at block 0 holding the metadata space
 * map's root, a data space map's root and a few tree roots, committed as the thin pool commits.
 */
final class TestStore implements AutoCloseable {
  static final ChecksumValidator SB = ChecksumValidator.of("test_superblock", 777, 8);
  static final int ROOTS = 8;

  final BlockManager bm;
  final TransactionManager tm;
  final MetadataSpaceMap msm;
  final DiskSpaceMap dsm;
  final long[] roots = new long[ROOTS];

  private TestStore(
      BlockManager bm, TransactionManager tm, MetadataSpaceMap msm, DiskSpaceMap dsm) {
    this.bm = bm;
    this.tm = tm;
    this.msm = msm;
    this.dsm = dsm;
  }

  static TestStore format(BlockDevice dev, int cacheBlocks, long dataBlocks) throws IOException {
    BlockManager bm = new BlockManager(dev, cacheBlocks);
    TransactionManager tm = new TransactionManager(bm);
    MetadataSpaceMap msm = MetadataSpaceMap.create(tm, bm.blocks(), 0);
    DiskSpaceMap dsm = DiskSpaceMap.create(tm, dataBlocks);
    TestStore s = new TestStore(bm, tm, msm, dsm);
    s.commit(true);
    return s;
  }

  static TestStore open(BlockDevice dev, int cacheBlocks) throws IOException {
    BlockManager bm = new BlockManager(dev, cacheBlocks);
    TransactionManager tm = new TransactionManager(bm);
    byte[] mroot = new byte[32];
    byte[] droot = new byte[32];
    long[] roots = new long[ROOTS];
    try (HeldBlock h = bm.readLock(0, SB)) {
      h.data().get(16, mroot);
      h.data().get(48, droot);
      for (int i = 0; i < ROOTS; i++) {
        roots[i] = h.data().getLong(80 + 8 * i);
      }
    }
    MetadataSpaceMap msm = MetadataSpaceMap.open(tm, mroot);
    DiskSpaceMap dsm = DiskSpaceMap.open(tm, droot);
    TestStore s = new TestStore(bm, tm, msm, dsm);
    System.arraycopy(roots, 0, s.roots, 0, ROOTS);
    return s;
  }

  void commit() throws IOException {
    commit(false);
  }

  private void commit(boolean zero) throws IOException {
    dsm.commit();
    tm.preCommit();
    byte[] mroot = msm.root();
    byte[] droot = dsm.root();
    tm.commit(
        0,
        SB,
        zero,
        b -> {
          b.put(16, mroot);
          b.put(48, droot);
          for (int i = 0; i < ROOTS; i++) {
            b.putLong(80 + 8 * i, roots[i]);
          }
        });
  }

  @Override
  public void close() throws IOException {
    bm.close();
  }

  /** A value type whose 8-byte values are data blocks of {@link #dsm}, counted there. */
  ValueType dataRefs() {
    return new ValueType() {
      @Override
      public int size() {
        return 8;
      }

      @Override
      public void inc(ByteBuffer values, int offset) throws IOException {
        long b = values.getLong(offset);
        dsm.inc(b, b + 1);
      }

      @Override
      public void dec(ByteBuffer values, int offset) throws IOException {
        long b = values.getLong(offset);
        dsm.dec(b, b + 1);
      }

      @Override
      public boolean hasDec() {
        return true;
      }
    };
  }

  /**
   * The reference counts every block should have: walks the space maps' own structures and the
   * given trees (a node reached k times counts k, its children once), and checks every node's fill
   * and key order as {@code thin_check} does.
   */
  final class Expected {
    final Map<Long, Long> meta = new HashMap<>();
    final Map<Long, Long> data = new HashMap<>();
    private final Set<Long> seen = new HashSet<>();

    Expected() throws IOException {
      meta.merge(0L, 1L, Long::sum);
      smStructures(msm);
      meta.merge(msm.indexRoot(), 1L, Long::sum);
      smStructures(dsm);
      tree(dsm.indexRoot(), 1, 1, false, true);
    }

    private void smStructures(CoreSpaceMap sm) throws IOException {
      for (long b : sm.pageBlock) {
        meta.merge(b, 1L, Long::sum);
      }
      tree(sm.refCountRoot, 1, 1, false, true);
    }

    /** Counts a reference to the tree at {@code root}. */
    void tree(long root, int levels, int level, boolean dataValues, boolean isRoot)
        throws IOException {
      meta.merge(root, 1L, Long::sum);
      if (!seen.add(root)) {
        return;
      }
      Node n;
      try (HeldBlock h = bm.readLock(root, BTree.NODE_VALIDATOR)) {
        n = Node.copyOf(h.data());
      }
      int nr = n.nrEntries();
      if (!isRoot && nr < n.maxEntries() / 3) {
        throw new AssertionError("node " + root + " has " + nr + " of " + n.maxEntries());
      }
      for (int i = 1; i < nr; i++) {
        if (Long.compareUnsigned(n.key(i - 1), n.key(i)) >= 0) {
          throw new AssertionError("node " + root + ": keys out of order at " + i);
        }
      }
      for (int i = 0; i < nr; i++) {
        if (!n.isLeaf()) {
          long child = n.value64(i);
          Node c;
          try (HeldBlock h = bm.readLock(child, BTree.NODE_VALIDATOR)) {
            c = Node.copyOf(h.data());
          }
          if (c.nrEntries() > 0 && Long.compareUnsigned(n.key(i), c.key(0)) > 0) {
            throw new AssertionError("node " + root + ": key " + i + " above child's first");
          }
          tree(child, levels, level, dataValues, false);
        } else if (level < levels) {
          tree(n.value64(i), levels, level + 1, dataValues, true);
        } else if (dataValues) {
          data.merge(n.value64(i), 1L, Long::sum);
        }
      }
    }

    /** Asserts that both space maps hold exactly the expected counts. */
    void check() throws IOException {
      for (long b = 0; b < msm.nrBlocks(); b++) {
        long want = meta.getOrDefault(b, 0L);
        if (msm.count(b) != want) {
          throw new AssertionError(
              "metadata block " + b + ": count " + msm.count(b) + ", want " + want);
        }
      }
      for (long b = 0; b < dsm.nrBlocks(); b++) {
        long want = data.getOrDefault(b, 0L);
        if (dsm.count(b) != want) {
          throw new AssertionError(
              "data block " + b + ": count " + dsm.count(b) + ", want " + want);
        }
      }
    }
  }
}
