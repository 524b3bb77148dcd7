package io.jdm.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** Table.find and piece limits against a straightforward scan. */
class TableLookupTest {
  private static MappedDevice device(DeviceMapper dm, String name, long[] lengths, String type) {
    TableSpec.Builder b = TableSpec.builder();
    for (long len : lengths) {
      b.append(len, type);
    }
    return dm.create(name, null, b.build(), false);
  }

  @Test
  void findMatchesALinearScan() {
    Random rnd = new Random(42);
    try (DeviceMapper dm = DeviceMapper.create()) {
      for (int n : new int[] {1, 2, 3, 7, 8, 9, 100, 1000}) {
        long[] lengths = new long[n];
        long total = 0;
        for (int i = 0; i < n; i++) {
          lengths[i] = 1 + rnd.nextInt(50);
          total += lengths[i];
        }
        Table t = device(dm, "t" + n, lengths, "zero").liveTable().orElseThrow();
        assertThat(t.size()).isEqualTo(total);
        long start = 0;
        for (int i = 0; i < n; i++) {
          for (long s = start; s < start + lengths[i]; s++) {
            assertThat(t.find(s)).as("sector %d of %d targets", s, n).isEqualTo(i);
          }
          assertThat(t.begin(i)).isEqualTo(start);
          assertThat(t.length(i)).isEqualTo(lengths[i]);
          start += lengths[i];
        }
      }
    }
  }

  @Test
  void theBucketDirectoryAgreesWithABinarySearchForAnyShape() {
    Random rnd = new Random(7);
    for (int round = 0; round < 200; round++) {
      int n = 1 + rnd.nextInt(3000);
      long[] ends = new long[n];
      long end = 0;
      for (int i = 0; i < n; i++) {
        // mix tiny and huge targets so buckets span many targets or none
        end += rnd.nextInt(4) == 0 ? 1 + rnd.nextInt(1 << 20) : 1 + rnd.nextInt(8);
        ends[i] = end;
      }
      TableIndex index = new TableIndex(ends);
      for (int k = 0; k < 2000; k++) {
        long s =
            k < 2 * n
                ? (k % 2 == 0 ? ends[k / 2] - 1 : ends[Math.min(n - 1, k / 2)] % end)
                : (long) (rnd.nextDouble() * end);
        int want = java.util.Arrays.binarySearch(ends, s);
        want = want >= 0 ? want + 1 : -want - 1;
        if (index.find(s) != want) {
          throw new AssertionError(
              "n=" + n + " sector " + s + ": " + index.find(s) + " != " + want);
        }
      }
    }
  }

  @Test
  void pieceLimitStopsAtTargetEndsAndIoBoundaries() {
    try (DeviceMapper dm = DeviceMapper.create()) {
      dm.registerDevice("a", MemoryBlockDevice.create("a", 4096));
      dm.registerDevice("b", MemoryBlockDevice.create("b", 4096));
      // chunk boundaries are counted from each target's own start
      Table t =
          dm.create("s", "0 10 zero\n10 96 striped 2 8 a 0 b 0\n106 72 striped 2 12 a 100 b 100")
              .liveTable()
              .orElseThrow();
      assertThat(t.pieceLimit(0, 3)).isEqualTo(7);
      assertThat(t.pieceLimit(1, 10)).isEqualTo(8);
      assertThat(t.pieceLimit(1, 13)).isEqualTo(5);
      assertThat(t.pieceLimit(1, 104)).isEqualTo(2);
      assertThat(t.pieceLimit(2, 106)).isEqualTo(12);
      assertThat(t.pieceLimit(2, 107)).isEqualTo(11);
      assertThat(t.pieceLimit(2, 177)).isEqualTo(1);
    }
  }
}
