package io.jdm.testkit.crash;

import io.jdm.core.Bio;
import io.jdm.core.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * Enumerates the states a recorded device could be left in by a power cut, and runs a recovery
 * check on each: what CrashMonkey (OSDI 2018) and xfstests' log-writes tests do, as a library.
 *
 * <h2>The model</h2>
 *
 * The log is cut into <em>epochs</em> at every flush and every FUA write: epoch {@code k} holds the
 * writes logged after the barrier that closed epoch {@code k-1}, up to and including the barrier
 * that closes it. The log-writes target logs an ordinary write only when a flush that covers it
 * completes, so everything logged before a barrier was on stable storage when the barrier
 * completed. A crash during epoch {@code k} therefore leaves everything before it (the <em>durable
 * prefix</em>) plus any subset of the epoch's writes: a disk with a volatile cache may have written
 * any of them, in any order, and a multi-block write may be <em>torn</em> (some of its blocks
 * written, the others not). Discards read back as zeros.
 *
 * <p>For each epoch, in log order, the states are:
 *
 * <ol>
 *   <li>the durable prefix alone;
 *   <li>if the epoch has at most {@link #exhaustiveUpTo} writes, every other subset of them,
 *       applied in log order; otherwise every prefix of them (the crash points a sequential replay
 *       reaches) and every set of all but one;
 *   <li>{@link #randomStates} seeded random states: a random subset, and, with {@link #tornWrites},
 *       one write torn at block granularity and the writes applied in a random order (which is what
 *       overlapping writes in flight together can leave). In an epoch small enough to be
 *       enumerated, random states are only made if they can tear a write.
 * </ol>
 *
 * <p>This is sound for a workload that uses flush and FUA as the block layer defines them: every
 * state is one a real disk could be left in. It is not complete: a write that completed before a
 * FUA write is only known to the log when the next flush completes, so states with that write
 * persisted and the FUA write not are not made.
 *
 * <p>Each state is a copy-on-write overlay over the durable prefix, which is advanced in place from
 * epoch to epoch: a state costs only the blocks its writes touch. States are numbered from 0 in a
 * run; a run is determined by the recording, the options and the seed, so a failing state is
 * rebuilt with {@link #onlyState}.
 */
public final class CrashTester {
  private final CrashRecording recording;
  private long seed = 1;
  private int randomStates = 32;
  private int exhaustiveUpTo = 6;
  private boolean tornWrites = true;
  private long maxStates = Long.MAX_VALUE;
  private long onlyState = -1;

  private CrashTester(CrashRecording recording) {
    this.recording = Objects.requireNonNull(recording, "recording");
  }

  public static CrashTester of(CrashRecording recording) {
    return new CrashTester(recording);
  }

  /** The seed of the random states (default 1). */
  public CrashTester seed(long seed) {
    this.seed = seed;
    return this;
  }

  /** Random states per epoch (default 32). */
  public CrashTester randomStates(int n) {
    if (n < 0) {
      throw new IllegalArgumentException("randomStates " + n + " < 0");
    }
    this.randomStates = n;
    return this;
  }

  /** Epochs with at most this many writes get every subset (default 6; at most 20). */
  public CrashTester exhaustiveUpTo(int n) {
    if (n < 0 || n > 20) {
      throw new IllegalArgumentException("exhaustiveUpTo " + n + " (expected 0 to 20)");
    }
    this.exhaustiveUpTo = n;
    return this;
  }

  /**
   * Whether random states tear writes and reorder them (default true). Turn it off for a device
   * that writes multi-block writes atomically.
   */
  public CrashTester tornWrites(boolean torn) {
    this.tornWrites = torn;
    return this;
  }

  /** Stop after this many states. */
  public CrashTester maxStates(long n) {
    this.maxStates = n;
    return this;
  }

  /** Check only state {@code number} of the run (to reproduce a failure with the same seed). */
  public CrashTester onlyState(long number) {
    this.onlyState = number;
    return this;
  }

  /** One epoch: its writes and what closes it. */
  private static final class Epoch {
    final int index;
    final int closingEntry; // -1 for the tail
    final String closing;
    final List<WriteLog.Entry> writes;
    final List<String> marks;
    final boolean canTear;

    Epoch(
        int index,
        int closingEntry,
        String closing,
        List<WriteLog.Entry> writes,
        List<String> marks,
        int blockSectors) {
      this.index = index;
      this.closingEntry = closingEntry;
      this.closing = closing;
      this.writes = writes;
      this.marks = marks;
      this.canTear = writes.stream().anyMatch(w -> w.sectors() > blockSectors);
    }
  }

  private List<Epoch> epochs(WriteLog log) {
    int blockSectors = log.blockSize() >>> Bio.SECTOR_SHIFT;
    List<Epoch> epochs = new ArrayList<>();
    List<WriteLog.Entry> writes = new ArrayList<>();
    List<String> marks = new ArrayList<>();
    for (WriteLog.Entry e : log.entries()) {
      if (e.isMark()) {
        if (!WriteLog.END_MARK.equals(e.mark())) { // the harness's own, not the workload's
          marks.add(e.mark());
        }
        continue;
      }
      if (e.changesData()) {
        writes.add(e);
      }
      if (e.isFlush() || e.isFua()) {
        String closing =
            (e.isFlush() ? "the flush at entry " : "the FUA write at entry ") + e.index();
        epochs.add(
            new Epoch(epochs.size(), e.index(), closing, writes, List.copyOf(marks), blockSectors));
        writes = new ArrayList<>();
      }
    }
    epochs.add(
        new Epoch(
            epochs.size(), -1, "the end of the log", writes, List.copyOf(marks), blockSectors));
    return epochs;
  }

  private long deterministicStates(Epoch e) {
    int n = e.writes.size();
    return n <= exhaustiveUpTo ? 1L << n : 2L * n;
  }

  private long randomStates(Epoch e) {
    int n = e.writes.size();
    if (n == 0) {
      return 0;
    }
    if (n <= exhaustiveUpTo) {
      return tornWrites && e.canTear ? randomStates : 0;
    }
    return randomStates;
  }

  /**
   * Runs {@code check} on every state, in order, and stops at the first that fails. The failing
   * state stays usable from the report (its device, {@link CrashState#materialise}).
   */
  public CrashReport run(CrashCheck check) throws IOException {
    WriteLog log = recording.log();
    List<Epoch> epochs = epochs(log);
    int bs = log.blockSize();
    MemoryBlockDevice base = CrashRecording.copyOf(recording.initialImage(), "crash-base", bs);
    long number = 0;
    long checked = 0;
    boolean keepBase = false;
    try {
      for (Epoch e : epochs) {
        long det = deterministicStates(e);
        long count = det + randomStates(e);
        if (onlyState < 0 || onlyState < number + count) {
          for (long k = 0; k < count && checked < maxStates; k++, number++) {
            if (onlyState >= 0 && number != onlyState) {
              continue;
            }
            CrashState state = build(e, epochs.size(), k, det, number, base, bs);
            checked++;
            Throwable failure = null;
            try {
              check.check(state);
            } catch (Exception | AssertionError t) {
              failure = t;
            }
            if (failure != null) {
              keepBase = true;
              return new CrashReport(checked, epochs.size(), log.entries().size(), state, failure);
            }
            state.device().close();
          }
          if (checked >= maxStates || (onlyState >= 0 && checked > 0)) {
            break;
          }
        } else {
          number += count;
        }
        for (WriteLog.Entry w : e.writes) {
          WriteLog.apply(w, base);
        }
      }
      if (onlyState >= 0 && checked == 0) {
        throw new IllegalArgumentException(
            "no state " + onlyState + ": this run has " + number + " states");
      }
      return new CrashReport(checked, epochs.size(), log.entries().size(), null, null);
    } finally {
      if (!keepBase) {
        base.close();
      }
    }
  }

  /** A write of the state: the entry, and the blocks of it that persisted (null: all). */
  private record Piece(WriteLog.Entry entry, boolean[] blocks) {}

  private CrashState build(
      Epoch e, int epochCount, long k, long det, long number, MemoryBlockDevice base, int bs) {
    int n = e.writes.size();
    int blockSectors = bs >>> Bio.SECTOR_SHIFT;
    List<Piece> pieces = new ArrayList<>();
    String kind;
    if (k < det) {
      if (n <= exhaustiveUpTo) {
        for (int i = 0; i < n; i++) {
          if ((k & (1L << i)) != 0) {
            pieces.add(new Piece(e.writes.get(i), null));
          }
        }
        kind = k == 0 ? "none" : "subset";
      } else if (k <= n) {
        for (int i = 0; i < k; i++) {
          pieces.add(new Piece(e.writes.get(i), null));
        }
        kind = k == 0 ? "none" : "the first " + k;
      } else {
        int skip = (int) (k - n - 1);
        for (int i = 0; i < n; i++) {
          if (i != skip) {
            pieces.add(new Piece(e.writes.get(i), null));
          }
        }
        kind = "all but entry " + e.writes.get(skip).index();
      }
    } else {
      kind = "random";
      SplittableRandom rnd =
          new SplittableRandom(
              seed ^ (e.index * 0x9E3779B97F4A7C15L) ^ ((k - det) * 0xC2B2AE3D27D4EB4FL));
      boolean mustTear = n <= exhaustiveUpTo;
      for (WriteLog.Entry w : e.writes) {
        if (rnd.nextBoolean()) {
          pieces.add(new Piece(w, null));
        }
      }
      if (pieces.isEmpty()) {
        pieces.add(new Piece(e.writes.get(rnd.nextInt(n)), null));
      }
      if (tornWrites && (mustTear || rnd.nextBoolean())) {
        List<Integer> tearable = new ArrayList<>();
        for (int i = 0; i < pieces.size(); i++) {
          if (pieces.get(i).entry.sectors() > blockSectors) {
            tearable.add(i);
          }
        }
        if (tearable.isEmpty() && mustTear) {
          List<WriteLog.Entry> multi = new ArrayList<>();
          for (WriteLog.Entry w : e.writes) {
            if (w.sectors() > blockSectors && pieces.stream().noneMatch(p -> p.entry == w)) {
              multi.add(w);
            }
          }
          pieces.add(new Piece(multi.get(rnd.nextInt(multi.size())), null));
          tearable.add(pieces.size() - 1);
        }
        if (!tearable.isEmpty()) {
          int at = tearable.get(rnd.nextInt(tearable.size()));
          WriteLog.Entry w = pieces.get(at).entry;
          pieces.set(at, new Piece(w, tear((int) (w.sectors() / blockSectors), rnd)));
        }
        for (int i = pieces.size() - 1; i > 0; i--) {
          int j = rnd.nextInt(i + 1);
          Piece t = pieces.get(i);
          pieces.set(i, pieces.get(j));
          pieces.set(j, t);
        }
      }
    }
    CrashImage image = new CrashImage("crash-state-" + number, base, bs);
    List<WriteLog.Entry> persisted = new ArrayList<>();
    for (Piece p : pieces) {
      apply(p, image, bs);
      persisted.add(p.entry);
    }
    persisted.sort((a, b) -> Integer.compare(a.index(), b.index()));
    String description = describe(e, epochCount, number, kind, pieces, blockSectors);
    return new CrashState(
        number, seed, e.index, description, e.marks, List.copyOf(persisted), image);
  }

  /** Which blocks of an {@code n}-block write persist: at least one, and not all. */
  private static boolean[] tear(int n, SplittableRandom rnd) {
    boolean[] keep = new boolean[n];
    int kept = 0;
    for (int i = 0; i < n; i++) {
      keep[i] = rnd.nextBoolean();
      kept += keep[i] ? 1 : 0;
    }
    if (kept == 0) {
      keep[rnd.nextInt(n)] = true;
    } else if (kept == n) {
      keep[rnd.nextInt(n)] = false;
    }
    return keep;
  }

  private static void apply(Piece p, CrashImage image, int bs) {
    WriteLog.Entry w = p.entry;
    long first = w.sector() / (bs >>> Bio.SECTOR_SHIFT);
    int blocks = (int) (w.sectors() / (bs >>> Bio.SECTOR_SHIFT));
    ByteBuffer data = ByteBuffer.wrap(w.dataArray());
    for (int i = 0; i < blocks; i++) {
      if (p.blocks != null && !p.blocks[i]) {
        continue;
      }
      if (w.isDiscard()) {
        image.zero(first + i);
      } else {
        image.put(first + i, data, i * bs);
      }
    }
  }

  private String describe(
      Epoch e, int epochCount, long number, String kind, List<Piece> pieces, int blockSectors) {
    StringBuilder sb = new StringBuilder();
    sb.append("crash state ").append(number).append(" (seed ").append(seed).append("), epoch ");
    sb.append(e.index).append(" of ").append(epochCount).append(": ");
    if (e.index == 0) {
      sb.append("nothing durable beyond the initial image");
    } else {
      sb.append("durable up to the barrier that closed epoch ").append(e.index - 1);
    }
    sb.append("; ").append(e.writes.size()).append(" writes in flight until ").append(e.closing);
    if (!e.writes.isEmpty()) {
      sb.append(" (entries ")
          .append(e.writes.get(0).index())
          .append('-')
          .append(e.writes.get(e.writes.size() - 1).index())
          .append(')');
    }
    sb.append("; persisted (").append(kind).append("): ");
    if (pieces.isEmpty()) {
      sb.append("none");
    }
    List<Piece> sorted = new ArrayList<>(pieces);
    sorted.sort((a, b) -> Integer.compare(a.entry.index(), b.entry.index()));
    for (int i = 0; i < sorted.size(); i++) {
      Piece p = sorted.get(i);
      sb.append(i == 0 ? "" : ", ").append(p.entry.index());
      if (p.blocks != null) {
        sb.append(" torn [blocks");
        for (int b = 0; b < p.blocks.length; b++) {
          if (p.blocks[b]) {
            sb.append(' ').append(b);
          }
        }
        sb.append(" of ").append(p.blocks.length).append(']');
      }
    }
    if (!sorted.equals(pieces)) {
      sb.append("; applied in the order");
      for (Piece p : pieces) {
        sb.append(' ').append(p.entry.index());
      }
    }
    return sb.toString();
  }
}
