package io.jdm.crypto.luks;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * Argon2d, Argon2i and Argon2id, version 0x13, as RFC 9106 and its reference code ({@code
 * phc-winner-argon2/src/core.c}, {@code ref.c}) define them; cryptsetup's {@code
 * lib/crypto_backend/argon2_generic.c} calls the same code with no secret and no associated data. H
 * is jdm's own {@link Blake2b}: nothing here loads Bouncy Castle.
 *
 * <p>The lanes of each slice are filled in parallel on {@code min(parallel, availableProcessors)}
 * threads: the calling thread and {@code threads - 1} threads of a pool made for the derivation.
 * One task per thread takes the slice's lanes one at a time (as one task per lane would, without a
 * future per lane when a hostile header asks for millions), and the calling thread waits for the
 * others before the next slice: the four sync points per pass of RFC 9106. Every thread of the pool
 * has ended when {@link #derive} returns or throws. With one thread the calling thread does all the
 * work.
 *
 * <p>Speed (issue 19): the compression G works on a scratch block, one BLAKE2b G at a time in four
 * locals (see {@link #g}); every block is XORed into its place, in the first pass too, where the
 * fresh memory is zero, so one loop serves both rules of version 0x13; the Argon2i and Argon2d
 * loops are separate methods and the reference index is computed without branches that change
 * direction between slices or passes, so that HotSpot compiles each loop once and never deoptimises
 * it during a derivation (the first derivation in a fresh JVM, which is what a {@code luksFormat}
 * or {@code open} pays, was twice as slow as the later ones before).
 *
 * <p>Every thread that fills memory polls {@link KdfLimit#reached()} at the start of each segment
 * and every {@value #POLL_BLOCKS} blocks within it (a quarter of a millisecond or so); once it is
 * reached all lanes stop, the memory is wiped and {@link #derive} throws {@link KdfLimit#stopped}'s
 * exception: {@link java.io.InterruptedIOException} with the calling thread's interrupt flag set,
 * or a {@link LuksException} for the time limit. The memory, one {@code long[]} per lane (so 4 GiB
 * in one lane still fits an array) allocated by the thread that computes the lane's first blocks
 * (so the threads share the zeroing and page faults), is wiped before {@link #derive} returns.
 *
 * <p>Thread model: {@link #derive} is static and may be called from several threads at once; an
 * instance is one derivation, confined to the calling thread except for the segments its pool
 * fills, which are handed over and back through the pool's futures.
 */
final class Argon2 {
  /** Argon2's three variants, with the {@code y} of RFC 9106. */
  enum Type {
    ARGON2D(0),
    ARGON2I(1),
    ARGON2ID(2);

    final int id;

    Type(int id) {
      this.id = id;
    }
  }

  private static final int VERSION = 0x13;
  private static final int SYNC_POINTS = 4;
  private static final int BLOCK_LONGS = 128;
  private static final int BLOCK_BYTES = 1024;

  /** Blocks filled between two polls of the limit. */
  static final int POLL_BLOCKS = 256;

  private static final AtomicInteger THREAD_IDS = new AtomicInteger();

  private final Type type;
  private final long time;
  private final int lanes;
  private final int segmentLength;
  private final int laneLength;
  private final long[][] memory;
  private final KdfLimit limit;

  /** Set by whichever thread first sees the limit reached, or by the caller when interrupted. */
  private volatile boolean cancelled;

  private Argon2(Type type, long time, int lanes, int segmentLength, KdfLimit limit) {
    this.type = type;
    this.time = time;
    this.lanes = lanes;
    this.segmentLength = segmentLength;
    this.laneLength = segmentLength * SYNC_POINTS;
    this.limit = limit;
    this.memory = new long[lanes][]; // each lane allocated (and first touched) by its thread
  }

  /**
   * Derives {@code length} bytes from {@code password} and {@code salt} with no secret and no
   * associated data, as cryptsetup does, on {@code min(parallel, availableProcessors)} threads.
   *
   * @see #derive(Type, long, long, int, int, byte[], byte[], byte[], byte[], int, KdfLimit, String)
   */
  static byte[] derive(
      Type type,
      long time,
      long memoryKiB,
      int parallel,
      byte[] password,
      byte[] salt,
      int length,
      KdfLimit limit,
      String what)
      throws IOException {
    int threads = Math.min(parallel, Runtime.getRuntime().availableProcessors());
    byte[] none = new byte[0];
    return derive(
        type, time, memoryKiB, parallel, threads, password, salt, none, none, length, limit, what);
  }

  /**
   * Derives {@code length} bytes from {@code password} and {@code salt}.
   *
   * @param time the number of passes, 1 to 2^32-1
   * @param memoryKiB the memory cost in KiB, {@code 8 * parallel} to 2^32-1 (rounded down to a
   *     multiple of {@code 4 * parallel} blocks, as the reference code does)
   * @param parallel the number of lanes, 1 to 2^24-1
   * @param threads the threads that fill the lanes, 1 to {@code parallel}; with 1 the calling
   *     thread does all the work
   * @param secret the secret value K (may be empty)
   * @param ad the associated data X (may be empty)
   * @param length the tag length, at least 4
   * @param limit when to stop
   * @param what the derivation and its costs, for the time-limit message
   * @throws IllegalArgumentException if a parameter is out of range
   * @throws java.io.InterruptedIOException if the calling thread is interrupted (its flag stays
   *     set)
   * @throws LuksException if the time limit is reached first
   */
  static byte[] derive(
      Type type,
      long time,
      long memoryKiB,
      int parallel,
      int threads,
      byte[] password,
      byte[] salt,
      byte[] secret,
      byte[] ad,
      int length,
      KdfLimit limit,
      String what)
      throws IOException {
    check(time, memoryKiB, parallel, salt, length);
    long segment = memoryKiB / ((long) SYNC_POINTS * parallel);
    if (segment * SYNC_POINTS * BLOCK_LONGS > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(
          "argon2 memory cost "
              + memoryKiB
              + " KiB over "
              + parallel
              + " lanes (expected: at most "
              + (Integer.MAX_VALUE - 8) / BLOCK_LONGS
              + " KiB per lane)");
    }
    if (threads < 1 || threads > parallel) {
      throw new IllegalArgumentException(
          "argon2 threads " + threads + " (expected: 1 <= threads <= parallel = " + parallel + ")");
    }
    if (limit.reached()) {
      throw limit.stopped(what); // before allocating
    }
    Argon2 a = new Argon2(type, time, parallel, (int) segment, limit);
    byte[] h0 = a.h0(password, salt, secret, ad, memoryKiB, length);
    try {
      a.fill(threads, h0, what);
      return a.finish(length);
    } finally {
      Arrays.fill(h0, (byte) 0);
      for (long[] lane : a.memory) {
        if (lane != null) {
          Arrays.fill(lane, 0);
        }
      }
    }
  }

  private static void check(long time, long memoryKiB, int parallel, byte[] salt, int length) {
    if (time < 1 || time > 0xFFFF_FFFFL) {
      throw new IllegalArgumentException(
          "argon2 time cost " + time + " (expected: 1 <= time <= 4294967295)");
    }
    if (parallel < 1 || parallel > 0xFF_FFFF) {
      throw new IllegalArgumentException(
          "argon2 parallel cost " + parallel + " (expected: 1 <= parallel <= 16777215)");
    }
    if (memoryKiB < 8L * parallel || memoryKiB > 0xFFFF_FFFFL) {
      throw new IllegalArgumentException(
          "argon2 memory cost "
              + memoryKiB
              + " KiB (expected: 8 * parallel = "
              + 8L * parallel
              + " <= memory <= 4294967295)");
    }
    if (salt.length < 8) {
      throw new IllegalArgumentException(
          "argon2 salt of " + salt.length + " bytes (expected: at least 8)");
    }
    if (length < 4) {
      throw new IllegalArgumentException(
          "argon2 output of " + length + " bytes (expected: at least 4)");
    }
  }

  /** H0, RFC 9106 section 3.2 step 1. */
  private byte[] h0(
      byte[] password, byte[] salt, byte[] secret, byte[] ad, long memoryKiB, int length) {
    Blake2b h = new Blake2b(64);
    le32(h, lanes);
    le32(h, length);
    le32(h, memoryKiB);
    le32(h, time);
    le32(h, VERSION);
    le32(h, type.id);
    for (byte[] b : new byte[][] {password, salt, secret, ad}) {
      le32(h, b.length);
      h.update(b, 0, b.length);
    }
    byte[] out = new byte[64];
    h.doFinal(out, 0);
    return out;
  }

  private static void le32(Blake2b h, long v) {
    for (int i = 0; i < 4; i++) {
      h.update((byte) (v >>> (8 * i)));
    }
  }

  /** H' (RFC 9106 section 3.3): {@code out.length} bytes from {@code in}. */
  static void hPrime(byte[] out, byte[]... in) {
    int t = out.length;
    if (t <= 64) {
      Blake2b h = new Blake2b(t);
      le32(h, t);
      for (byte[] b : in) {
        h.update(b, 0, b.length);
      }
      h.doFinal(out, 0);
      return;
    }
    int r = (t + 31) / 32 - 2;
    byte[] v = new byte[64];
    Blake2b h = new Blake2b(64);
    le32(h, t);
    for (byte[] b : in) {
      h.update(b, 0, b.length);
    }
    h.doFinal(v, 0);
    System.arraycopy(v, 0, out, 0, 32);
    for (int i = 1; i < r; i++) {
      h.update(v, 0, 64);
      h.doFinal(v, 0);
      System.arraycopy(v, 0, out, 32 * i, 32);
    }
    Blake2b last = new Blake2b(t - 32 * r);
    last.update(v, 0, 64);
    last.doFinal(out, 32 * r);
    Arrays.fill(v, (byte) 0);
  }

  /** Allocates lane {@code lane} and computes its B[i][0] and B[i][1]. */
  private void firstBlocks(int lane, byte[] h0) {
    if (poll()) {
      return;
    }
    long[] mem = new long[laneLength * BLOCK_LONGS];
    memory[lane] = mem;
    byte[] block = new byte[BLOCK_BYTES];
    byte[] i = new byte[4];
    byte[] j = new byte[4];
    putLe32(i, lane);
    for (int b = 0; b < 2; b++) {
      putLe32(j, b);
      hPrime(block, h0, j, i);
      for (int k = 0; k < BLOCK_LONGS; k++) {
        mem[b * BLOCK_LONGS + k] = getLe64(block, 8 * k);
      }
    }
    Arrays.fill(block, (byte) 0);
  }

  private static void putLe32(byte[] b, int v) {
    for (int k = 0; k < 4; k++) {
      b[k] = (byte) (v >>> (8 * k));
    }
  }

  private static long getLe64(byte[] b, int off) {
    long v = 0;
    for (int k = 7; k >= 0; k--) {
      v = (v << 8) | (b[off + k] & 0xFF);
    }
    return v;
  }

  /** The tag: H' over the XOR of every lane's last block. */
  private byte[] finish(int length) {
    long[] c =
        Arrays.copyOfRange(memory[0], (laneLength - 1) * BLOCK_LONGS, laneLength * BLOCK_LONGS);
    for (int lane = 1; lane < lanes; lane++) {
      for (int k = 0; k < BLOCK_LONGS; k++) {
        c[k] ^= memory[lane][(laneLength - 1) * BLOCK_LONGS + k];
      }
    }
    byte[] bytes = new byte[BLOCK_BYTES];
    for (int k = 0; k < BLOCK_LONGS; k++) {
      for (int n = 0; n < 8; n++) {
        bytes[8 * k + n] = (byte) (c[k] >>> (8 * n));
      }
    }
    Arrays.fill(c, 0);
    byte[] out = new byte[length];
    hPrime(out, bytes);
    Arrays.fill(bytes, (byte) 0);
    return out;
  }

  /**
   * The first blocks, then all passes over all slices, on {@code threads} threads (the calling
   * thread alone if 1); throws the limit's exception if it stopped them.
   */
  private void fill(int threads, byte[] h0, String what) throws IOException {
    List<Thread> started = Collections.synchronizedList(new ArrayList<>());
    ExecutorService pool =
        threads == 1
            ? null
            : new ThreadPoolExecutor(
                threads - 1,
                threads - 1,
                0,
                TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(),
                r -> {
                  Thread t = new Thread(r, "jdm-argon2-" + THREAD_IDS.incrementAndGet());
                  t.setDaemon(true);
                  started.add(t);
                  return t;
                });
    boolean interrupted = false;
    try {
      interrupted = forEachLane(pool, threads, lane -> firstBlocks(lane, h0));
      for (long pass = 0; pass < time && !cancelled; pass++) {
        for (int slice = 0; slice < SYNC_POINTS && !cancelled; slice++) {
          long p = pass;
          int s = slice;
          interrupted |= forEachLane(pool, threads, lane -> fillSegment(p, s, lane));
        }
      }
    } finally {
      if (pool != null) {
        pool.shutdownNow();
        List<Thread> all;
        synchronized (started) {
          all = new ArrayList<>(started);
        }
        for (Thread t : all) {
          interrupted |= joinUninterruptibly(t);
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
    if (cancelled) {
      throw limit.stopped(what);
    }
  }

  /**
   * Runs {@code work} for every lane: {@code threads} tasks, {@code threads - 1} on {@code pool}
   * and one on the calling thread, take the lanes one at a time, and the caller then waits for the
   * others; without a pool the caller does it all.
   *
   * @return whether the caller was interrupted while it waited (then the work is cancelled)
   */
  private boolean forEachLane(ExecutorService pool, int threads, IntConsumer work) {
    AtomicInteger next = new AtomicInteger();
    Runnable task =
        () -> {
          int lane = next.getAndIncrement();
          while (lane < lanes && !cancelled) {
            work.accept(lane);
            lane = next.getAndIncrement();
          }
        };
    if (pool == null) {
      task.run();
      return false;
    }
    List<Future<?>> tasks = new ArrayList<>(threads - 1);
    for (int t = 1; t < threads; t++) {
      tasks.add(pool.submit(task));
    }
    boolean interrupted = false;
    try {
      task.run();
    } catch (RuntimeException | Error e) {
      cancelled = true; // the others stop at their next poll; wait for them before wiping
      for (Future<?> f : tasks) {
        interrupted |= awaitQuietly(f);
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
      throw e;
    }
    for (Future<?> f : tasks) {
      interrupted |= await(f);
    }
    return interrupted;
  }

  /** Waits for {@code f}, ignoring how it ended; true if the caller was interrupted meanwhile. */
  private static boolean awaitQuietly(Future<?> f) {
    boolean interrupted = false;
    while (true) {
      try {
        f.get();
        return interrupted;
      } catch (InterruptedException e) {
        interrupted = true;
      } catch (ExecutionException e) {
        return interrupted;
      }
    }
  }

  /** Waits for {@code f}; true if the caller was interrupted meanwhile (then cancels the rest). */
  private boolean await(Future<?> f) {
    boolean interrupted = false;
    while (true) {
      try {
        f.get();
        return interrupted;
      } catch (InterruptedException e) {
        interrupted = true;
        cancelled = true; // the workers stop at their next poll
      } catch (ExecutionException e) {
        cancelled = true;
        Throwable c = e.getCause();
        if (c instanceof Error err) {
          throw err;
        }
        if (c instanceof RuntimeException re) {
          throw re;
        }
        throw new IllegalStateException("argon2 lane failed", c);
      }
    }
  }

  private static boolean joinUninterruptibly(Thread t) {
    boolean interrupted = false;
    while (true) {
      try {
        t.join();
        return interrupted;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
  }

  /**
   * Fills segment {@code slice} of lane {@code lane} in pass {@code pass} (reference {@code
   * fill_segment}). Every block is computed as {@code cur ^= G(prev, ref)}, the rule of version
   * 0x13 for passes after the first, in the first pass too: there the memory is still all zero
   * (fresh arrays), so the XOR writes G itself. The Argon2i and Argon2d loops are separate methods
   * and everything that only depends on the pass and slice is computed here, so that the compiled
   * loops see the same branches from the first segment to the last (no deoptimisation when the
   * derivation moves from one slice or pass to the next).
   */
  private void fillSegment(long pass, int slice, int lane) {
    boolean independent =
        type == Type.ARGON2I || (type == Type.ARGON2ID && pass == 0 && slice < SYNC_POINTS / 2);
    boolean first = pass == 0 && slice == 0;
    int start = first ? 2 : 0; // B[i][0] and B[i][1] are done
    // the reference area, as index_alpha: the blocks before this segment that may be referenced
    // (all of the finished slices in the first pass, the three other segments afterwards)
    long area = pass == 0 ? (long) slice * segmentLength : laneLength - segmentLength;
    // where the area starts: after this segment in later passes (it wraps round), else at 0
    long startPos = pass != 0 && slice != SYNC_POINTS - 1 ? (long) (slice + 1) * segmentLength : 0;
    int curr = slice * segmentLength + start;
    int prev = curr == 0 ? laneLength - 1 : curr - 1;
    Segment s = new Segment(lane, first, start, area, startPos, curr, prev);
    if (independent) {
      long[] input = new long[BLOCK_LONGS];
      input[0] = pass;
      input[1] = lane;
      input[2] = slice;
      input[3] = (long) laneLength * lanes;
      input[4] = time;
      input[5] = type.id;
      fillIndependent(s, input);
    } else {
      fillDependent(s);
    }
  }

  /**
   * One segment's constants.
   *
   * @param lane the lane filled
   * @param first whether this is the first slice of the first pass (references its own lane only)
   * @param start the first block of the segment to compute (2 in the first slice of the first pass)
   * @param area the blocks of other lanes that may be referenced; in its own lane, {@code index -
   *     1} more
   * @param startPos the block where the area starts
   * @param curr the index in the lane of block {@code start}
   * @param prev the index in the lane of the block before it
   */
  private record Segment(
      int lane, boolean first, int start, long area, long startPos, int curr, int prev) {}

  /** Argon2i addressing: the reference blocks come from G(0, G(0, input)) blocks. */
  private void fillIndependent(Segment s, long[] input) {
    long[] r = new long[BLOCK_LONGS];
    long[] address = new long[BLOCK_LONGS];
    long[] mem = memory[s.lane];
    int curOff = s.curr * BLOCK_LONGS;
    int prevOff = s.prev * BLOCK_LONGS;
    if (s.first) {
      nextAddresses(input, address, r);
    }
    for (int i = s.start; i < segmentLength; i++) {
      if ((i - s.start) % POLL_BLOCKS == 0 && poll()) {
        return;
      }
      if (i % BLOCK_LONGS == 0) {
        nextAddresses(input, address, r);
      }
      long pseudoRand = address[i % BLOCK_LONGS];
      int refLane = s.first ? s.lane : (int) ((pseudoRand >>> 32) % lanes);
      int refIndex = refIndex(s, i, pseudoRand, refLane == s.lane);
      compress(mem, prevOff, memory[refLane], refIndex * BLOCK_LONGS, mem, curOff, r);
      prevOff = curOff;
      curOff += BLOCK_LONGS;
    }
  }

  /** Argon2d addressing: the reference block comes from the previous block's first word. */
  private void fillDependent(Segment s) {
    long[] r = new long[BLOCK_LONGS];
    long[] mem = memory[s.lane];
    int curOff = s.curr * BLOCK_LONGS;
    int prevOff = s.prev * BLOCK_LONGS;
    for (int i = s.start; i < segmentLength; i++) {
      if ((i - s.start) % POLL_BLOCKS == 0 && poll()) {
        return;
      }
      long pseudoRand = mem[prevOff];
      int refLane = s.first ? s.lane : (int) ((pseudoRand >>> 32) % lanes);
      int refIndex = refIndex(s, i, pseudoRand, refLane == s.lane);
      compress(mem, prevOff, memory[refLane], refIndex * BLOCK_LONGS, mem, curOff, r);
      prevOff = curOff;
      curOff += BLOCK_LONGS;
    }
  }

  private boolean poll() {
    if (cancelled) {
      return true;
    }
    if (limit.reached()) {
      cancelled = true;
      return true;
    }
    return false;
  }

  /**
   * The reference block's index in its lane (reference {@code index_alpha}), without a branch whose
   * direction depends on the pass or slice.
   */
  private int refIndex(Segment s, int index, long pseudoRand, boolean sameLane) {
    // in its own lane every finished block of the segment but the previous one; in another lane,
    // all of its area but its last block when this is the segment's first block
    long area = sameLane ? s.area + index - 1 : s.area - ((index - 1) >>> 31);
    long x = pseudoRand & 0xFFFF_FFFFL;
    x = (x * x) >>> 32; // unsigned: the high half of a 64-bit square
    long rel = area - 1 - ((area * x) >>> 32);
    long pos = s.startPos + rel - laneLength; // modulo laneLength: pos < 2 * laneLength
    return (int) (pos + (laneLength & (pos >> 63)));
  }

  /** The next block of Argon2i addresses: {@code address = G(0, G(0, ++input))}. */
  private static void nextAddresses(long[] input, long[] address, long[] r) {
    input[6]++;
    compressWithZero(input, address, r);
    compressWithZero(address, address, r);
  }

  /** {@code out = G(0, in)} = {@code P(in) ^ in}; {@code out} may be {@code in}. */
  private static void compressWithZero(long[] in, long[] out, long[] r) {
    System.arraycopy(in, 0, r, 0, BLOCK_LONGS);
    permute(r);
    for (int k = 0; k < BLOCK_LONGS; k++) {
      out[k] = in[k] ^ r[k];
    }
  }

  /**
   * {@code cur ^= G(prev, ref)}: {@code R = prev ^ ref}, {@code cur ^= P(R) ^ R}; {@code r} is a
   * scratch block. R is read again from {@code prev} and {@code ref} (still in the L1 cache) rather
   * than kept in a second scratch block.
   */
  private static void compress(
      long[] prev, int po, long[] ref, int ro, long[] cur, int co, long[] r) {
    for (int k = 0; k < BLOCK_LONGS; k++) {
      r[k] = prev[po + k] ^ ref[ro + k];
    }
    permute(r);
    for (int k = 0; k < BLOCK_LONGS; k++) {
      cur[co + k] ^= r[k] ^ prev[po + k] ^ ref[ro + k];
    }
  }

  /** P over the eight rows of 16 words, then over the eight columns of 2-word registers. */
  private static void permute(long[] v) {
    for (int i = 0; i < 8; i++) {
      row(v, 16 * i);
    }
    for (int i = 0; i < 8; i++) {
      column(v, 2 * i);
    }
  }

  /**
   * BLAKE2b's round without message words (reference {@code BLAKE2_ROUND_NOMSG}) over the row
   * {@code v[b .. b + 15]}.
   */
  private static void row(long[] v, int b) {
    g(v, b, b + 4, b + 8, b + 12);
    g(v, b + 1, b + 5, b + 9, b + 13);
    g(v, b + 2, b + 6, b + 10, b + 14);
    g(v, b + 3, b + 7, b + 11, b + 15);
    g(v, b, b + 5, b + 10, b + 15);
    g(v, b + 1, b + 6, b + 11, b + 12);
    g(v, b + 2, b + 7, b + 8, b + 13);
    g(v, b + 3, b + 4, b + 9, b + 14);
  }

  /** {@link #row} over the column {@code v[b, b + 1, b + 16, b + 17, ..., b + 112, b + 113]}. */
  private static void column(long[] v, int b) {
    g(v, b, b + 32, b + 64, b + 96);
    g(v, b + 1, b + 33, b + 65, b + 97);
    g(v, b + 16, b + 48, b + 80, b + 112);
    g(v, b + 17, b + 49, b + 81, b + 113);
    g(v, b, b + 33, b + 80, b + 113);
    g(v, b + 1, b + 48, b + 81, b + 96);
    g(v, b + 16, b + 49, b + 64, b + 97);
    g(v, b + 17, b + 32, b + 65, b + 112);
  }

  /**
   * BLAKE2b's G with BlaMka's multiply-add on four words. One G at a time in four locals: 16 words
   * in locals would not fit x86-64's registers, and the spills cost more than these loads and
   * stores (measured: a quarter faster than both a whole round in locals and in-array updates).
   */
  private static void g(long[] v, int ia, int ib, int ic, int id) {
    long a = v[ia];
    long b = v[ib];
    long c = v[ic];
    long d = v[id];
    a = bla(a, b);
    d = Long.rotateRight(d ^ a, 32);
    c = bla(c, d);
    b = Long.rotateRight(b ^ c, 24);
    a = bla(a, b);
    d = Long.rotateRight(d ^ a, 16);
    c = bla(c, d);
    b = Long.rotateRight(b ^ c, 63);
    v[ia] = a;
    v[ib] = b;
    v[ic] = c;
    v[id] = d;
  }

  /** BlaMka's multiply-add: {@code x + y + 2 * lo32(x) * lo32(y)}. */
  private static long bla(long x, long y) {
    return x + y + 2 * (x & 0xFFFF_FFFFL) * (y & 0xFFFF_FFFFL);
  }
}
