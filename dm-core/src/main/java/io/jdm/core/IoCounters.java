package io.jdm.core;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The I/O counters of one mapped device: the in-flight count that suspend waits on, and the
 * statistics. The kernel keeps these per CPU and updates them without atomic instructions; jdm
 * keeps them per thread for the same reason.
 *
 * <p>Each thread that does I/O on the device gets its own {@link Cell}, which only that thread
 * writes, with plain (opaque or release) stores; readers sum every cell. On a bio's way down the
 * admitting thread adds to {@code started} and then issues one full fence before reading the
 * device's "I/O blocked" flag (the one ordering the suspend handshake needs: Dekker's, with the
 * suspender writing the flag and then summing). On the way up the completing thread adds to {@code
 * done} and the statistics with release stores and no fence; a suspender that misses that store
 * re-reads after a short park, so nothing waits forever.
 *
 * <p>In-flight is {@code sum(started) - sum(done)}. A submitter that backs out (the device was
 * blocked) takes its start back in its own cell, so a sum taken while I/O is held never counts such
 * a pair as negative; {@link #inFlight()} reads each cell's {@code done} before its {@code
 * started}, so it can only over-count. Reading zero therefore proves that every I/O that got past
 * the block check has finished.
 *
 * <p>Cells of threads that have ended are folded into a retired total when the device sums its
 * counters, and swept when new cells are added, so short-lived threads do not pile up.
 */
final class IoCounters {
  static final int READ = 0;
  static final int WRITE = 1;
  static final int DISCARD = 2;
  static final int FLUSH = 3;

  private static final int STARTED = 0;
  private static final int DONE = 4;
  private static final int SECTORS = 8;
  private static final int NANOS = 12;
  private static final int ABANDONED = 16;
  private static final int FIELDS = 20;

  /** Padding around a cell's counters so two threads' cells never share a cache line. */
  private static final int PAD = 8;

  private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);

  private static final int[] GROUP = new int[Bio.Op.values().length];

  static {
    GROUP[Bio.Op.READ.ordinal()] = READ;
    GROUP[Bio.Op.WRITE.ordinal()] = WRITE;
    GROUP[Bio.Op.WRITE_ZEROES.ordinal()] = WRITE;
    GROUP[Bio.Op.DISCARD.ordinal()] = DISCARD;
    GROUP[Bio.Op.FLUSH.ordinal()] = FLUSH;
  }

  /** One thread's counters. Written only by {@link #owner}. */
  static final class Cell {
    final Thread owner = Thread.currentThread();
    final long[] v = new long[FIELDS + 2 * PAD];

    private void add(int field, long delta) {
      int i = PAD + field;
      LONGS.setRelease(v, i, v[i] + delta);
    }

    private long get(int field) {
      return (long) LONGS.getAcquire(v, PAD + field);
    }
  }

  private final ThreadLocal<Cell> local = ThreadLocal.withInitial(this::register);
  private final List<Cell> cells = new CopyOnWriteArrayList<>();
  private final long[] retired = new long[FIELDS]; // guarded by this
  private int sweepAt = 64; // guarded by this

  static int group(Bio.Op op) {
    return GROUP[op.ordinal()];
  }

  /** The calling thread's cell. */
  Cell cell() {
    return local.get();
  }

  /** {@code c} if the calling thread owns it (the common case: completion inline), else its own. */
  Cell cell(Cell c) {
    return c != null && c.owner == Thread.currentThread() ? c : local.get();
  }

  private synchronized Cell register() {
    Cell c = new Cell();
    cells.add(c);
    if (cells.size() >= sweepAt) {
      retireDeadCells();
      sweepAt = Math.max(64, cells.size() * 2);
    }
    return c;
  }

  /** Folds the cells of threads that have ended into {@link #retired}. */
  private synchronized void retireDeadCells() {
    List<Cell> dead = new ArrayList<>();
    for (Cell c : cells) {
      if (!c.owner.isAlive()) {
        dead.add(c);
      }
    }
    for (Cell c : dead) {
      for (int f = 0; f < FIELDS; f++) {
        retired[f] += c.get(f);
      }
    }
    cells.removeAll(dead);
  }

  /**
   * Counts an I/O as started by the calling thread, then fences so that the caller's next read (of
   * the device's blocked flag) cannot be ordered before this store.
   */
  void start(Cell c, int group) {
    c.add(STARTED + group, 1);
    VarHandle.fullFence();
  }

  /** Takes back a start made by the calling thread in {@code c}. */
  void unstart(Cell c, int group) {
    c.add(STARTED + group, -1);
  }

  /** An I/O finished without being counted in the statistics (killed, pushed back). */
  void abandon(Cell admitted, int group) {
    Cell c = cell(admitted);
    c.add(ABANDONED + group, 1);
    c.add(DONE + group, 1);
  }

  /** An I/O finished: in-flight down, statistics up. */
  void done(Cell admitted, int group, long sectors, long nanos) {
    Cell c = cell(admitted);
    c.add(SECTORS + group, sectors);
    if (nanos != 0) {
      c.add(NANOS + group, nanos);
    }
    c.add(DONE + group, 1); // last: a suspender that sees it sees the rest
  }

  /**
   * Started minus done, over every cell. Holds the lock so that a dead thread's cell is never
   * counted twice or missed while it is being folded into the retired total.
   */
  synchronized long inFlight() {
    long done = 0;
    long started = 0;
    for (int g = 0; g < 4; g++) {
      done += retired[DONE + g];
      started += retired[STARTED + g];
    }
    for (Cell c : cells) {
      for (int g = 0; g < 4; g++) {
        done += c.get(DONE + g);
      }
      for (int g = 0; g < 4; g++) {
        started += c.get(STARTED + g);
      }
    }
    return started - done;
  }

  private synchronized long sum(int field) {
    long s = retired[field];
    for (Cell c : cells) {
      s += c.get(field);
    }
    return s;
  }

  /** A snapshot of the statistics. */
  IoStats snapshot() {
    retireDeadCells();
    long inFlight = Math.max(0, inFlight());
    long rt = sum(NANOS + READ) / 1_000_000;
    long wt = sum(NANOS + WRITE) / 1_000_000;
    long dt = sum(NANOS + DISCARD) / 1_000_000;
    long ft = sum(NANOS + FLUSH) / 1_000_000;
    return new IoStats(
        ios(READ),
        0,
        sum(SECTORS + READ),
        rt,
        ios(WRITE),
        0,
        sum(SECTORS + WRITE),
        wt,
        inFlight,
        0,
        rt + wt + dt + ft,
        ios(DISCARD),
        0,
        sum(SECTORS + DISCARD),
        dt,
        ios(FLUSH),
        ft);
  }

  private long ios(int group) {
    return sum(DONE + group) - sum(ABANDONED + group);
  }
}
