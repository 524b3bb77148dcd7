package io.jdm.core.prison;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.prison.BioPrison.Cell;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Detaining and releasing, one thread at a time. */
class BioPrisonTest {
  private final BioPrison prison = BioPrison.create();
  private final Map<Bio, BlockStatus> completed = new HashMap<>();

  private Bio bio() {
    return Bio.write(0, ByteBuffer.allocate(512), b -> completed.put(b, b.status()));
  }

  private static CellKey key(long begin, long end) {
    return new CellKey(false, 1, begin, end);
  }

  @Test
  void theFirstBioHoldsAndOverlappingOnesQueueInOrder() {
    Bio a = bio();
    Bio b = bio();
    Bio c = bio();
    Bio d = bio();
    Cell cell = prison.detain(key(10, 14), a);
    assertThat(cell).isNotNull();
    assertThat(cell.holder()).isSameAs(a);
    assertThat(cell.key()).isEqualTo(key(10, 14));
    assertThat(prison.detain(key(13, 20), b)).isNull(); // overlaps at 13
    assertThat(prison.detain(key(8, 11), c)).isNull(); // overlaps at 10
    Cell other = prison.detain(key(14, 16), d); // touches, does not overlap
    assertThat(other).isNotNull().isNotSameAs(cell);
    assertThat(cell.inmateCount()).isEqualTo(2);

    List<Bio> out = new ArrayList<>();
    prison.release(cell, out);
    assertThat(out).containsExactly(a, b, c);
    assertThat(cell.isDetained()).isFalse();
    prison.freeCell(cell);
    Bio e = bio();
    assertThat(prison.detain(key(10, 11), e)).isNotNull(); // free again
    out.clear();
    prison.release(other, out);
    assertThat(out).containsExactly(d);
  }

  @Test
  void spacesAndDevicesAreSeparate() {
    assertThat(prison.detain(new CellKey(false, 1, 0, 4), bio())).isNotNull();
    assertThat(prison.detain(new CellKey(true, 1, 0, 4), bio())).isNotNull();
    assertThat(prison.detain(new CellKey(false, 2, 0, 4), bio())).isNotNull();
    assertThat(prison.detain(new CellKey(false, 1, 3, 4), bio())).isNull();
  }

  @Test
  void releaseNoHolderHandsBackOnlyTheInmates() {
    Bio holder = bio();
    Bio inmate = bio();
    Cell cell = prison.detain(key(0, 1), holder);
    prison.detain(key(0, 1), inmate);
    List<Bio> out = new ArrayList<>();
    prison.releaseNoHolder(cell, out);
    assertThat(out).containsExactly(inmate);
  }

  @Test
  void errorCompletesEveryBioInTheCell() {
    Bio holder = bio();
    Bio inmate = bio();
    Cell cell = prison.detain(key(5, 6), holder);
    prison.detain(key(5, 6), inmate);
    prison.error(cell, BlockStatus.NOSPC);
    assertThat(completed)
        .containsOnly(Map.entry(holder, BlockStatus.NOSPC), Map.entry(inmate, BlockStatus.NOSPC));
    assertThat(cell.isDetained()).isFalse();
    assertThat(cell.inmateCount()).isZero();
  }

  @Test
  void promoteOrReleaseHandsTheCellOnUntilNoInmateIsLeft() {
    Bio a = bio();
    Bio b = bio();
    Bio c = bio();
    Cell cell = prison.detain(key(0, 4), a);
    prison.detain(key(1, 2), b);
    prison.detain(key(3, 4), c);
    assertThat(prison.promoteOrRelease(cell)).isFalse();
    assertThat(cell.holder()).isSameAs(b);
    assertThat(cell.key()).isEqualTo(key(0, 4)); // the cell keeps its key
    assertThat(prison.promoteOrRelease(cell)).isFalse();
    assertThat(cell.holder()).isSameAs(c);
    assertThat(prison.promoteOrRelease(cell)).isTrue();
    assertThat(cell.isDetained()).isFalse();
  }

  @Test
  void getCellFindsOrMakesACellWithoutAHolder() {
    Cell mine = prison.allocCell();
    Cell got = prison.getCell(key(100, 104), mine);
    assertThat(got).isSameAs(mine);
    assertThat(got.holder()).isNull();
    Cell spare = prison.allocCell();
    assertThat(prison.getCell(key(103, 110), spare)).isSameAs(mine);
    prison.freeCell(spare);
    Bio b = bio();
    assertThat(prison.detain(key(101, 102), b)).isNull();
    List<Bio> out = new ArrayList<>();
    prison.release(mine, out);
    assertThat(out).containsExactly(b);
  }

  @Test
  void visitReleaseSeesTheCellAsItIsReleased() {
    Bio a = bio();
    Bio b = bio();
    Cell cell = prison.detain(key(7, 9), a);
    prison.detain(key(8, 9), b);
    List<Bio> seen = new ArrayList<>();
    prison.visitRelease(
        cell,
        c -> {
          seen.add(c.holder());
          for (int i = 0; i < c.inmateCount(); i++) {
            seen.add(c.inmate(i));
          }
        });
    assertThat(seen).containsExactly(a, b);
    assertThat(cell.isDetained()).isFalse();
  }

  @Test
  void keysMustFitTheLockRanges() {
    assertThat(BioPrison.hasValidRange(0, 1024)).isTrue();
    assertThat(BioPrison.hasValidRange(1024, 2048)).isTrue();
    assertThat(BioPrison.hasValidRange(0, 1025)).isFalse(); // too long
    assertThat(BioPrison.hasValidRange(1000, 1030)).isFalse(); // crosses 1024
    assertThat(BioPrison.hasValidRange(5, 5)).isFalse();
    assertThat(BioPrison.hasValidRange(-1, 3)).isFalse();
    assertThatThrownBy(() -> key(1000, 1030))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "key blocks [1000, 1030) (expected: 0 <= begin < end, at most 1024 blocks, not"
                + " crossing a multiple of 1024)");
    Cell c = prison.allocCell();
    assertThatThrownBy(() -> prison.detain(false, 0, 1023, 1025, bio(), c))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void cellsAreUsedAsTheyShouldBe() {
    Cell cell = prison.detain(key(0, 1), bio());
    assertThatThrownBy(() -> prison.freeCell(cell)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> prison.detain(key(50, 51), bio(), cell))
        .isInstanceOf(IllegalStateException.class);
    Cell foreign = BioPrison.create().allocCell();
    assertThatThrownBy(() -> prison.detain(key(60, 61), bio(), foreign))
        .isInstanceOf(IllegalArgumentException.class);
    prison.release(cell, new ArrayList<>());
    assertThatThrownBy(() -> prison.release(cell, new ArrayList<>()))
        .isInstanceOf(IllegalStateException.class);
    prison.freeCell(cell);
    assertThat(prison.allocCell()).isSameAs(cell); // pooled
  }

  /**
   * Once the pool and the inmate arrays are warm, the primitive-key fast path allocates nothing:
   * measured with the JVM's per-thread allocation counter.
   */
  @Test
  void theWarmFastPathDoesNotAllocate() throws ReflectiveOperationException {
    Bio[] bios = {bio(), bio(), bio()};
    ArrayList<Bio> out = new ArrayList<>(8);
    int rounds = 200_000;
    long before = 0;
    for (int pass = 0; pass < 2; pass++) {
      if (pass == 1) {
        before = allocatedBytes();
      }
      for (int i = 0; i < rounds; i++) {
        long block = (i * 7L) & 4095;
        Cell cell = prison.allocCell();
        Cell held = prison.detain(true, 3, block, block + 1, bios[0], cell);
        if (held != cell || out.size() != 0) {
          throw new AssertionError("round " + i);
        }
        Cell spare = prison.allocCell();
        prison.detain(true, 3, block, block + 1, bios[1], spare);
        prison.detain(true, 3, block, block + 1, bios[2], spare);
        prison.freeCell(spare);
        prison.release(held, out);
        out.clear();
        prison.freeCell(held);
      }
    }
    long bytes = allocatedBytes() - before;
    assertThat(bytes).as("bytes allocated by %d warm rounds", rounds).isLessThan(rounds / 10);
  }

  /**
   * This thread's allocated bytes, from {@code com.sun.management.ThreadMXBean} (through
   * reflection: dm-core's module does not read {@code jdk.management}; the tests run on the class
   * path).
   */
  private static long allocatedBytes() throws ReflectiveOperationException {
    Object mx =
        Class.forName("java.lang.management.ManagementFactory")
            .getMethod("getThreadMXBean")
            .invoke(null);
    Class<?> type = Class.forName("com.sun.management.ThreadMXBean");
    org.junit.jupiter.api.Assumptions.assumeTrue(
        (Boolean) type.getMethod("isThreadAllocatedMemorySupported").invoke(mx));
    return (Long)
        type.getMethod("getThreadAllocatedBytes", long.class)
            .invoke(mx, Thread.currentThread().getId());
  }
}
