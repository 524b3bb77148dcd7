package io.jdm.core.prison;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.Bio;
import io.jdm.core.prison.BioPrison.Cell;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/**
 * Four threads detain seeded-random overlapping keys in a small key space, as thin's workers do: a
 * holder "works" on its range, then releases its cell (release, release without the holder, or
 * promote), and bios handed back are detained again by the thread that got them. Checked: two
 * holders never hold overlapping keys at once, and every bio is processed (held and released)
 * exactly once.
 */
class BioPrisonConcurrencyTest {
  private static final long SEED = 0xB10_C311L;
  private static final int THREADS = 4;
  private static final int BIOS_PER_THREAD = 20_000;

  private final BioPrison prison = BioPrison.create();
  private final AtomicIntegerArray processed = new AtomicIntegerArray(THREADS * BIOS_PER_THREAD);
  private final List<CellKey> active = new ArrayList<>(); // guarded by itself
  private final Queue<String> violations = new ConcurrentLinkedQueue<>();

  /** A bio's key and number, kept in its attachment. */
  private record Job(int id, CellKey key) {}

  private static Job job(Bio b) {
    return (Job) b.attachment();
  }

  @Test
  void overlappingHoldersNeverRunTogetherAndEveryBioIsProcessedOnce() throws Exception {
    List<Thread> threads = new ArrayList<>();
    List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      int first = t * BIOS_PER_THREAD;
      Random rnd = new Random(SEED + t);
      Thread th = new Thread(() -> run(rnd, first), "prisoner-" + t);
      th.setUncaughtExceptionHandler((x, e) -> errors.add(e));
      threads.add(th);
      th.start();
    }
    for (Thread th : threads) {
      th.join(TimeUnit.MINUTES.toMillis(2));
      assertThat(th.isAlive()).as("%s finished (seed %d)", th.getName(), SEED).isFalse();
    }
    assertThat(errors).as("seed %d", SEED).isEmpty();
    assertThat(violations).as("seed %d", SEED).isEmpty();
    for (int i = 0; i < processed.length(); i++) {
      assertThat(processed.get(i)).as("bio %d processed once (seed %d)", i, SEED).isEqualTo(1);
    }
  }

  private void run(Random rnd, int first) {
    ArrayDeque<Bio> todo = new ArrayDeque<>();
    List<Bio> out = new ArrayList<>();
    int next = first;
    int end = first + BIOS_PER_THREAD;
    while (next < end || !todo.isEmpty()) {
      Bio bio;
      if (!todo.isEmpty() && (next == end || rnd.nextBoolean())) {
        bio = todo.poll();
      } else {
        boolean virtual = rnd.nextInt(4) == 0;
        long dev = rnd.nextInt(2);
        // a few hot spots in four lock ranges, near their starts and ends
        long begin = rnd.nextInt(4) * 1024L + rnd.nextInt(48) + (rnd.nextBoolean() ? 0 : 969);
        CellKey key = new CellKey(virtual, dev, begin, begin + 1 + rnd.nextInt(6));
        bio = Bio.write(0, ByteBuffer.allocate(512), b -> {});
        bio.setAttachment(new Job(next++, key));
      }
      Cell prealloc = prison.allocCell();
      Cell cell = prison.detain(job(bio).key(), bio, prealloc);
      if (cell == null) {
        prison.freeCell(prealloc);
        continue; // queued: whoever releases that cell hands it back
      }
      hold(cell, bio);
      out.clear();
      switch (rnd.nextInt(3)) {
        case 0:
          unhold(cell);
          prison.release(cell, out);
          if (out.isEmpty() || out.get(0) != bio) {
            violations.add("release did not hand back the holder first: " + out);
          }
          out.remove(0);
          break;
        case 1:
          unhold(cell);
          prison.releaseNoHolder(cell, out);
          break;
        default:
          // promote: each inmate in turn holds the cell's key and is processed
          while (true) {
            Bio h = cell.holder();
            if (h != bio) {
              process(h);
            }
            unhold(cell); // the cell may leave the prison now
            if (prison.promoteOrRelease(cell)) {
              break;
            }
            hold(cell, cell.key());
          }
          break;
      }
      process(bio);
      prison.freeCell(cell);
      todo.addAll(out);
    }
  }

  /** Registers a holder's key; no held key may overlap it. */
  private void hold(Cell cell, Bio bio) {
    CellKey key = job(bio).key();
    if (!cell.key().equals(key)) {
      violations.add("a new cell has key " + cell.key() + ", not its holder's " + key);
    }
    hold(cell, key);
  }

  private void hold(Cell cell, CellKey key) {
    synchronized (active) {
      for (CellKey k : active) {
        if (k.overlaps(key)) {
          violations.add(key + " held while " + k + " is held");
        }
      }
      active.add(key);
    }
  }

  /** Before the cell leaves the prison: a new holder of an overlapping key may appear then. */
  private void unhold(Cell cell) {
    CellKey key = cell.key();
    synchronized (active) {
      active.remove(key);
    }
  }

  private void process(Bio bio) {
    int id = job(bio).id();
    if (processed.incrementAndGet(id) != 1) {
      violations.add("bio " + id + " processed twice");
    }
  }
}
