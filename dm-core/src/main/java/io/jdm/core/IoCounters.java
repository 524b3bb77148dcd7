package io.jdm.core;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Per-thread-striped I/O counters of one mapped device: the in-flight count that suspend waits on
 * and the statistics, as the kernel's per-CPU {@code pending_io} and {@code disk_stats}.
 *
 * <p>Each thread adds to the cell its id hashes to, so submitters on different threads do not
 * contend on one cache line; cells are 256 bytes apart. Updates are atomic, so sharing a cell is
 * only slower, never wrong.
 *
 * <p>In-flight is {@code sum(started) - sum(done)}. A submitter that must back out (the device was
 * blocked) subtracts from {@code started} in the cell it added to, so a sum taken while I/O is
 * blocked never counts such a pair as negative; {@link #inFlight()} reads each cell's {@code done}
 * before its {@code started}, so it can only over-count. Reading zero therefore proves that every
 * I/O that got past the block check has finished.
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
  private static final int STRIDE = 32;
  private static final int PAD = 16;

  private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);

  private static final int[] GROUP = new int[Bio.Op.values().length];

  static {
    GROUP[Bio.Op.READ.ordinal()] = READ;
    GROUP[Bio.Op.WRITE.ordinal()] = WRITE;
    GROUP[Bio.Op.WRITE_ZEROES.ordinal()] = WRITE;
    GROUP[Bio.Op.DISCARD.ordinal()] = DISCARD;
    GROUP[Bio.Op.FLUSH.ordinal()] = FLUSH;
  }

  private final long[] cells;
  private final int mask;

  IoCounters() {
    int n =
        Integer.highestOneBit(Math.max(1, Runtime.getRuntime().availableProcessors()) * 4 - 1) << 1;
    n = Math.min(Math.max(n, 4), 256);
    this.mask = n - 1;
    this.cells = new long[n * STRIDE + 2 * PAD];
  }

  static int group(Bio.Op op) {
    return GROUP[op.ordinal()];
  }

  /** The calling thread's cell (an index into the counter array). */
  @SuppressWarnings("deprecation") // Thread.getId: threadId() needs Java 19
  int cell() {
    return PAD + ((int) Thread.currentThread().getId() & mask) * STRIDE;
  }

  void start(int cell, int group) {
    LONGS.getAndAdd(cells, cell + STARTED + group, 1L);
  }

  void unstart(int cell, int group) {
    LONGS.getAndAdd(cells, cell + STARTED + group, -1L);
  }

  /** An I/O finished without being counted in the statistics (killed, requeued). */
  void abandon(int group) {
    int c = cell();
    LONGS.getAndAdd(cells, c + ABANDONED + group, 1L);
    LONGS.getAndAdd(cells, c + DONE + group, 1L);
  }

  /** An I/O finished: in-flight down, statistics up. */
  void done(int group, long sectors, long nanos) {
    int c = cell();
    LONGS.getAndAdd(cells, c + DONE + group, 1L);
    if (sectors != 0) {
      LONGS.getAndAdd(cells, c + SECTORS + group, sectors);
    }
    if (nanos != 0) {
      LONGS.getAndAdd(cells, c + NANOS + group, nanos);
    }
  }

  long inFlight() {
    long done = 0;
    long started = 0;
    for (int c = PAD; c < cells.length - PAD; c += STRIDE) {
      for (int g = 0; g < 4; g++) {
        done += (long) LONGS.getVolatile(cells, c + DONE + g);
      }
      for (int g = 0; g < 4; g++) {
        started += (long) LONGS.getVolatile(cells, c + STARTED + g);
      }
    }
    return started - done;
  }

  private long sum(int field) {
    long s = 0;
    for (int c = PAD; c < cells.length - PAD; c += STRIDE) {
      s += (long) LONGS.getVolatile(cells, c + field);
    }
    return s;
  }

  /** A snapshot of the statistics. */
  IoStats snapshot() {
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
