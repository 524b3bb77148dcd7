package io.jdm.persistentdata;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.Errno;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.bufio.HeldBlock;
import java.io.IOException;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** Shadowing, commit through the superblock, and what a power cut leaves. */
class TransactionManagerTest {
  private static final long SEED = Long.getLong("jdm.seed", 99L);

  private static MemoryBlockDevice device(long blocks) {
    return MemoryBlockDevice.builder("meta", blocks * 8).volatileCache(true).build();
  }

  @Test
  void aCommittedBlockIsCopiedOnceAndThenChangedInPlaceUntilTheNextCommit() throws IOException {
    try (TestStore s = TestStore.format(device(128), 16, 0)) {
      long b;
      try (HeldBlock h = s.tm.newBlock(BTree.NODE_VALIDATOR)) {
        b = h.number();
        h.markDirty();
      }
      // allocated in this transaction: written in place
      assertThat(s.tm.shadow(b)).isEqualTo(new TransactionManager.Shadow(b, false));
      s.roots[0] = b;
      s.commit();
      TransactionManager.Shadow first = s.tm.shadow(b);
      assertThat(first.block()).isNotEqualTo(b);
      assertThat(first.incChildren()).isFalse();
      assertThat(s.msm.count(b)).isZero();
      assertThat(s.tm.shadow(first.block()))
          .isEqualTo(new TransactionManager.Shadow(first.block(), false));
      // a shared block: copied, and the caller must raise what it points to
      s.tm.inc(first.block());
      TransactionManager.Shadow shared = s.tm.shadow(first.block());
      assertThat(shared.block()).isNotEqualTo(first.block());
      assertThat(shared.incChildren()).isTrue();
      assertThat(s.msm.count(first.block())).isEqualTo(1);
      // the block freed in this transaction is not handed out again before the commit
      for (int i = 0; i < 20; i++) {
        assertThat(s.tm.allocate()).isNotEqualTo(b);
      }
    }
  }

  @Test
  void aPowerCutBeforeTheCommitLeavesTheLastCommittedTreeEvenWithBlocksWrittenBack()
      throws IOException {
    Random rnd = new Random(SEED);
    MemoryBlockDevice dev = device(1024);
    TreeMap<Long, Long> committed = new TreeMap<>();
    try (TestStore s = TestStore.format(dev, 8, 0)) {
      BTree t = new BTree(s.tm, ValueType.U64);
      long root = t.empty();
      for (long k = 0; k < 3000; k++) {
        root = t.insert(root, k, ValueType.le64(k));
        committed.put(k, k);
      }
      s.roots[0] = root;
      s.commit();
      // a cache of 8 blocks writes uncommitted shadows back as it goes
      for (int i = 0; i < 4000; i++) {
        long k = rnd.nextInt(5000);
        root = rnd.nextBoolean() ? t.insert(root, k, ValueType.le64(-k)) : t.remove(root, k);
      }
    }
    // bm.close wrote everything back and flushed: the superblock still names the old tree
    try (TestStore s = TestStore.open(dev.durableCopy("after"), 16)) {
      TreeMap<Long, Long> seen = new TreeMap<>();
      new BTree(s.tm, ValueType.U64)
          .walk(s.roots[0], (keys, value) -> seen.put(keys[0], ValueType.le64(value)));
      assertThat(seen).isEqualTo(committed);
      TestStore.Expected e = s.new Expected();
      e.tree(s.roots[0], 1, 1, false, true);
      e.check();
    }
  }

  @Test
  void aReadOnlyBlockManagerRefusesWriteLocksWithErofs() throws IOException {
    try (TestStore s = TestStore.format(device(64), 8, 0)) {
      s.bm.setReadOnly(true);
      assertThatThrownBy(() -> s.bm.writeLock(0, TestStore.SB))
          .isInstanceOfSatisfying(
              PersistentDataException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EROFS))
          .hasMessageContaining("no write lock on block 0");
      try (HeldBlock h = s.bm.readLock(0, TestStore.SB)) {
        assertThat(h.number()).isZero();
      }
      s.bm.setReadOnly(false);
    }
  }
}
