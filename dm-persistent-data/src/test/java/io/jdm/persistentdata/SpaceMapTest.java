package io.jdm.persistentdata;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.Errno;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.bufio.CorruptBlockException;
import java.io.IOException;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The disk and metadata space maps against an array of counts. */
class SpaceMapTest {
  private static final long SEED = Long.getLong("jdm.seed", 20261204L);

  private static MemoryBlockDevice device(long blocks) {
    return MemoryBlockDevice.builder("meta", blocks * 8).volatileCache(true).build();
  }

  @Test
  void randomIncDecAndAllocationMatchAnArrayAcrossCommitsAndReopening() throws IOException {
    Random rnd = new Random(SEED);
    // more than one bitmap of 16320 entries, counts well above 3 in the overflow tree
    int n = 40000;
    long[] model = new long[n];
    MemoryBlockDevice dev = device(1024);
    try (TestStore s = TestStore.format(dev, 64, n)) {
      for (int round = 0; round < 5; round++) {
        Set<Long> freedThisTransaction = new HashSet<>();
        for (int op = 0; op < 6000; op++) {
          int r = rnd.nextInt(10);
          if (r < 4) {
            long b = s.dsm.newBlock();
            assertThat(model[(int) b]).as("seed %d", SEED).isZero();
            assertThat(freedThisTransaction).doesNotContain(b);
            model[(int) b] = 1;
          } else if (r < 7) {
            int b = rnd.nextInt(200);
            int k = 1 + rnd.nextInt(5);
            s.dsm.inc(b, b + k);
            for (int i = b; i < b + k; i++) {
              model[i]++;
            }
          } else {
            int b = rnd.nextInt(n);
            if (model[b] > 0) {
              s.dsm.dec(b, b + 1);
              if (--model[b] == 0) {
                freedThisTransaction.add((long) b);
              }
            }
          }
        }
        s.commit();
        long allocated = 0;
        for (int b = 0; b < n; b++) {
          assertThat(s.dsm.count(b)).as("block %d, seed %d", b, SEED).isEqualTo(model[b]);
          allocated += model[b] > 0 ? 1 : 0;
        }
        assertThat(s.dsm.nrFree()).isEqualTo(n - allocated);
      }
    }
    try (TestStore s = TestStore.open(dev.durableCopy("copy"), 64)) {
      for (int b = 0; b < n; b++) {
        assertThat(s.dsm.count(b)).as("block %d after reopening", b).isEqualTo(model[b]);
      }
      TestStore.Expected e = s.new Expected();
      e.data.clear();
      for (int b = 0; b < n; b++) {
        if (model[b] > 0) {
          e.data.put((long) b, model[b]);
        }
      }
      e.check();
    }
  }

  @Test
  void aBlockFreedInThisTransactionIsHandedOutOnlyAfterTheCommit() throws IOException {
    try (TestStore s = TestStore.format(device(256), 16, 4)) {
      for (int i = 0; i < 4; i++) {
        assertThat(s.dsm.newBlock()).isEqualTo(i);
      }
      s.commit();
      s.dsm.dec(2, 3);
      assertThat(s.dsm.nrFree()).isEqualTo(1);
      assertThatThrownBy(s.dsm::newBlock)
          .isInstanceOfSatisfying(
              PersistentDataException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOSPC))
          .hasMessageContaining("data space map: no free block");
      s.commit();
      assertThat(s.dsm.newBlock()).isEqualTo(2);
    }
  }

  @Test
  void refusesToDecrementBelowZeroOrToTouchBlocksBeyondTheEnd() throws IOException {
    try (TestStore s = TestStore.format(device(256), 16, 10)) {
      s.dsm.inc(3, 4);
      assertThatThrownBy(() -> s.dsm.dec(3, 5))
          .isInstanceOf(PersistentDataException.class)
          .hasMessageContaining("unable to decrement block 4");
      assertThat(s.dsm.count(3)).isEqualTo(1);
      assertThatThrownBy(() -> s.dsm.inc(9, 11)).hasMessageContaining("block 10 out of bounds");
      assertThat(s.dsm.count(9)).isZero();
    }
  }

  @Test
  void theMetadataSpaceMapRunsOutWithEnospcAndItsThresholdFiresOnce() throws IOException {
    AtomicInteger fired = new AtomicInteger();
    try (TestStore s = TestStore.format(device(64), 16, 0)) {
      s.msm.registerThreshold(20, fired::incrementAndGet);
      BTree t = new BTree(s.tm, ValueType.U64);
      assertThatThrownBy(
              () -> {
                for (int i = 0; ; i++) {
                  long root = t.empty();
                  s.roots[i % TestStore.ROOTS] = root;
                }
              })
          .isInstanceOfSatisfying(
              PersistentDataException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOSPC))
          .hasMessageContaining("metadata space map: no free block (64 blocks");
      assertThat(fired).hasValue(1);
    }
  }

  @Test
  void extendingAddsBitmapsAndTheMetadataIndexHasRoomFor255() throws IOException {
    MemoryBlockDevice dev = device(512);
    try (TestStore s = TestStore.format(dev, 32, 10)) {
      s.dsm.extend(100000);
      assertThat(s.dsm.nrBlocks()).isEqualTo(100010);
      s.dsm.inc(100009, 100010);
      s.commit();
      assertThatThrownBy(() -> s.msm.extend(MetadataSpaceMap.MAX_BLOCKS))
          .hasMessageContaining("space map too large");
    }
    try (TestStore s = TestStore.open(dev.durableCopy("c"), 32)) {
      assertThat(s.dsm.count(100009)).isEqualTo(1);
      assertThat(s.dsm.nrFree()).isEqualTo(100009);
      TestStore.Expected e = s.new Expected();
      e.data.put(100009L, 1L);
      e.check();
    }
  }

  @Test
  void aCorruptBitmapIsAnExceptionNamingItsBlock() throws IOException {
    MemoryBlockDevice dev = device(256);
    long bitmap;
    try (TestStore s = TestStore.format(dev, 16, 100)) {
      s.dsm.inc(5, 6);
      s.commit();
      bitmap = s.dsm.pageBlock[0];
    }
    byte[] sector = new byte[512];
    BTreeTest.readSector(dev, bitmap * 8, sector);
    sector[100] ^= 4;
    BTreeTest.writeSector(dev, bitmap * 8, sector);
    try (TestStore s = TestStore.open(dev, 16)) {
      assertThatThrownBy(() -> s.dsm.count(5))
          .isInstanceOf(CorruptBlockException.class)
          .hasMessageContaining("sm_bitmap block " + bitmap)
          .hasMessageContaining("checksum mismatch");
    }
  }
}
