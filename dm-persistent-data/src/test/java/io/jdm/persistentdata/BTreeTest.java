package io.jdm.persistentdata;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.bufio.CorruptBlockException;
import io.jdm.core.bufio.HeldBlock;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** B-trees against {@link TreeMap} models, with the reference counts they leave checked. */
class BTreeTest {
  private static final long SEED = Long.getLong("jdm.seed", 20261203L);

  private static MemoryBlockDevice device(long blocks) {
    return MemoryBlockDevice.builder("meta", blocks * 8).volatileCache(true).build();
  }

  private static void assertSame(BTree t, long root, TreeMap<Long, Long> model) throws IOException {
    TreeMap<Long, Long> seen = new TreeMap<>();
    t.walk(root, (keys, value) -> seen.put(keys[0], ValueType.le64(value)));
    assertThat(seen).as("seed %d", SEED).isEqualTo(model);
  }

  @Test
  void randomInsertsAndRemovesMatchATreeMapAndSurviveReopening() throws IOException {
    Random rnd = new Random(SEED);
    MemoryBlockDevice dev = device(2048);
    TreeMap<Long, Long> model = new TreeMap<>();
    try (TestStore s = TestStore.format(dev, 64, 0)) {
      BTree t = new BTree(s.tm, ValueType.U64);
      long root = t.empty();
      for (int op = 0; op < 30000; op++) {
        long k = rnd.nextInt(6000);
        if (rnd.nextInt(100) < (op < 15000 ? 70 : 35)) {
          long v = rnd.nextLong();
          root = t.insert(root, k, ValueType.le64(v));
          model.put(k, v);
        } else {
          root = t.remove(root, k);
          model.remove(k);
        }
        if (op % 997 == 0) {
          long probe = rnd.nextInt(6000);
          byte[] got = t.lookup(root, probe);
          Long want = model.get(probe);
          assertThat(got == null ? null : ValueType.le64(got)).as("seed %d", SEED).isEqualTo(want);
        }
        if (op % 5000 == 4999) {
          s.roots[0] = root;
          s.commit();
        }
      }
      assertSame(t, root, model);
      s.roots[0] = root;
      s.commit();
      TestStore.Expected e = s.new Expected();
      e.tree(root, 1, 1, false, true);
      e.check();
    }
    try (TestStore s = TestStore.open(dev.durableCopy("copy"), 64)) {
      BTree t = new BTree(s.tm, ValueType.U64);
      assertSame(t, s.roots[0], model);
      for (Map.Entry<Long, Long> en : model.entrySet()) {
        assertThat(ValueType.le64(t.lookup(s.roots[0], en.getKey()))).isEqualTo(en.getValue());
      }
    }
  }

  @Test
  void lookupNextAndHighestKeyAgreeWithTheModel() throws IOException {
    Random rnd = new Random(SEED + 1);
    try (TestStore s = TestStore.format(device(1024), 64, 0)) {
      BTree t = new BTree(s.tm, ValueType.U64);
      long root = t.empty();
      assertThat(t.findHighestKey(root)).isEmpty();
      assertThat(t.lookupNext(root, 0L)).isNull();
      TreeMap<Long, Long> model = new TreeMap<>();
      for (int i = 0; i < 3000; i++) {
        long k = rnd.nextInt(100000);
        root = t.insert(root, k, ValueType.le64(k * 3));
        model.put(k, k * 3);
      }
      for (int i = 0; i < 2000; i++) {
        long probe = rnd.nextInt(101000);
        Map.Entry<Long, Long> want = model.ceilingEntry(probe);
        BTree.Entry got = t.lookupNext(root, probe);
        if (want == null) {
          assertThat(got).isNull();
        } else {
          assertThat(got.key()).isEqualTo(want.getKey());
          assertThat(ValueType.le64(got.value())).isEqualTo(want.getValue());
        }
      }
      assertThat(t.findHighestKey(root)).hasValue(model.lastKey());
      // unsigned order: the highest key is the one with the top bit set
      root = t.insert(root, -5L, ValueType.le64(1));
      assertThat(t.findHighestKey(root)).hasValue(-5L);
      assertThat(t.lookupNext(root, model.lastKey() + 1).key()).isEqualTo(-5L);
    }
  }

  @Test
  void snapshotsShareNodesAndDataBlocksUntilChangedAndDeletingOneKeepsTheOther()
      throws IOException {
    Random rnd = new Random(SEED + 2);
    MemoryBlockDevice dev = device(4096);
    try (TestStore s = TestStore.format(dev, 128, 20000)) {
      BTree t = new BTree(s.tm, s.dataRefs());
      List<Long> roots = new ArrayList<>();
      List<TreeMap<Long, Long>> models = new ArrayList<>();
      roots.add(t.empty());
      models.add(new TreeMap<>());
      for (int round = 0; round < 6; round++) {
        for (int op = 0; op < 2500; op++) {
          int d = rnd.nextInt(roots.size());
          long k = rnd.nextInt(3000);
          if (rnd.nextInt(10) < 7) {
            long data = s.dsm.newBlock();
            roots.set(d, t.insert(roots.get(d), k, ValueType.le64(data)));
            models.get(d).put(k, data);
          } else {
            roots.set(d, t.remove(roots.get(d), k));
            models.get(d).remove(k);
          }
        }
        // snapshot one tree: an inc of its root
        int origin = rnd.nextInt(roots.size());
        s.tm.inc(roots.get(origin));
        roots.add(roots.get(origin));
        models.add(new TreeMap<>(models.get(origin)));
        if (roots.size() > 4) {
          int victim = rnd.nextInt(roots.size());
          t.del(roots.remove(victim));
          models.remove(victim);
        }
        s.commit();
        TestStore.Expected e = s.new Expected();
        for (long r : roots) {
          e.tree(r, 1, 1, true, true);
        }
        e.check();
      }
      for (int i = 0; i < roots.size(); i++) {
        assertSame(t, roots.get(i), models.get(i));
      }
    }
  }

  @Test
  void nestedTreesOfTwoLevelsCreateSubtreesOnInsert() throws IOException {
    Random rnd = new Random(SEED + 3);
    try (TestStore s = TestStore.format(device(4096), 128, 0)) {
      BTree t = new BTree(s.tm, 2, ValueType.U64);
      long root = t.empty();
      Map<Long, TreeMap<Long, Long>> model = new HashMap<>();
      for (int op = 0; op < 20000; op++) {
        long dev = rnd.nextInt(12);
        long k = rnd.nextInt(4000);
        if (rnd.nextInt(10) < 6) {
          long v = rnd.nextLong();
          BTree.Inserted ins = t.insert(root, new long[] {dev, k}, ValueType.le64(v));
          Long old = model.computeIfAbsent(dev, x -> new TreeMap<>()).put(k, v);
          assertThat(ins.inserted()).isEqualTo(old == null);
          root = ins.root();
        } else {
          root = t.remove(root, dev, k);
          if (model.containsKey(dev)) {
            model.get(dev).remove(k);
          }
        }
      }
      Map<Long, TreeMap<Long, Long>> seen = new HashMap<>();
      t.walk(
          root,
          (keys, value) ->
              seen.computeIfAbsent(keys[0], x -> new TreeMap<>())
                  .put(keys[1], ValueType.le64(value)));
      model.values().removeIf(TreeMap::isEmpty);
      assertThat(seen).isEqualTo(model);
      s.roots[0] = root;
      s.commit();
      TestStore.Expected e = s.new Expected();
      e.tree(root, 2, 1, false, true);
      e.check();
    }
  }

  @Test
  void aCorruptNodeIsAnExceptionNamingTheBlockAndTheStructure() throws IOException {
    MemoryBlockDevice dev = device(256);
    long leaf;
    try (TestStore s = TestStore.format(dev, 16, 0)) {
      BTree t = new BTree(s.tm, ValueType.U64);
      long root = t.empty();
      for (long k = 0; k < 10; k++) {
        root = t.insert(root, k, ValueType.le64(k));
      }
      s.roots[0] = root;
      s.commit();
      leaf = root;
    }
    // a flipped bit in a key
    byte[] sector = new byte[512];
    MemoryBlockDevice d1 = dev.durableCopy("d1");
    readSector(d1, leaf * 8, sector);
    sector[40] ^= 1;
    writeSector(d1, leaf * 8, sector);
    try (TestStore s = TestStore.open(d1, 16)) {
      BTree t = new BTree(s.tm, ValueType.U64);
      assertThatThrownBy(() -> t.lookup(s.roots[0], 3L))
          .isInstanceOf(CorruptBlockException.class)
          .hasMessageContaining("btree_node block " + leaf)
          .hasMessageContaining("checksum mismatch");
    }
    // a node that says it is elsewhere
    try (TestStore s = TestStore.open(dev.durableCopy("d2"), 16)) {
      BTree t = new BTree(s.tm, ValueType.U64);
      assertThatThrownBy(() -> t.lookup(leaf + 1, 3L))
          .isInstanceOf(CorruptBlockException.class)
          .hasMessageContaining("btree_node block " + (leaf + 1));
    }
    // a checksummed header with more entries than room
    MemoryBlockDevice d3 = dev.durableCopy("d3");
    try (TestStore s = TestStore.open(d3, 16)) {
      try (HeldBlock h = s.bm.writeLock(leaf, BTree.NODE_VALIDATOR)) {
        h.data().putInt(16, 300);
        h.markDirty();
      }
      s.bm.flush();
    }
    try (TestStore s = TestStore.open(d3.durableCopy("d3b"), 16)) {
      BTree t = new BTree(s.tm, ValueType.U64);
      assertThatThrownBy(() -> t.lookup(s.roots[0], 3L))
          .isInstanceOf(CorruptBlockException.class)
          .hasMessageContaining("btree_node block " + leaf)
          .hasMessageContaining("nr_entries 300 is above max_entries 252");
      // read as the wrong value size
      BTree wide = new BTree(s.tm, ValueType.ofSize(16));
      assertThatThrownBy(() -> wide.lookup(s.roots[0], 3L))
          .isInstanceOf(CorruptBlockException.class);
    }
  }

  static void readSector(MemoryBlockDevice d, long sector, byte[] buf) throws IOException {
    d.read(java.nio.ByteBuffer.wrap(buf), sector * 512);
  }

  static void writeSector(MemoryBlockDevice d, long sector, byte[] buf) throws IOException {
    d.write(java.nio.ByteBuffer.wrap(buf), sector * 512);
    d.flush();
  }
}
