package io.jdm.core.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A bounded pool of buffers of one size with a guaranteed reserve: the kernel's {@code mempool_t}
 * ({@code mm/mempool.c}) for I/O buffers, the one pool type behind kcopyd, crypt's bounce buffers
 * and NBD's payloads.
 *
 * <p>The pool allocates {@link Builder#reserve} buffers up front and keeps them, so that many
 * buffers can always be had without asking the system for memory: {@link #allocate}, {@link
 * #tryAllocate} and {@link #allocate(long, TimeUnit)} never wait, fail or return {@code null} while
 * fewer than {@code reserve} buffers are in use. Beyond the reserve, buffers are made on demand
 * (reused from the idle ones first) up to {@link Builder#maximum} in use at once; past that, {@link
 * #allocate()} waits for a {@link #release}, {@link #allocate(long, TimeUnit)} waits for a time,
 * and {@link #tryAllocate()} returns {@code null}. A released buffer is kept for reuse while fewer
 * than {@link Builder#maxIdle} buffers are idle (by default the reserve, as a mempool keeps only
 * {@code min_nr}) and otherwise left to the garbage collector.
 *
 * <p>Buffers:
 *
 * <ul>
 *   <li>are direct by default ({@link Builder#direct}), heap buffers on request for users whose
 *       work runs faster on arrays (crypt's ciphers);
 *   <li>come with position 0, limit and capacity {@link #bufferSize()}, big-endian;
 *   <li>hold unspecified bytes (what their last user left) unless the pool is {@link
 *       Builder#zeroed}, in which case every allocated buffer is all zeros;
 *   <li>must be given back exactly once, the very buffer allocated (not a slice or duplicate), and
 *       not used afterwards. A buffer of another size or kind is refused with {@link
 *       IllegalArgumentException}, more releases than allocations with {@link
 *       IllegalStateException}; a buffer released twice while others are out cannot always be
 *       detected.
 * </ul>
 *
 * <p>Statistics: {@link #inUse()}, {@link #highWater()}, {@link #idle()}, {@link #created()} and
 * {@link #waits()}. A test ends with {@code inUse() == 0}: nothing leaked.
 *
 * <p>Users: kcopyd's copy buffers; crypt's bounce buffers (a heap pool with {@code reserve} =
 * {@code maxIdle} = a slot per writing thread and no maximum, used through {@link #tryAllocate()},
 * which never returns {@code null} without a maximum); the NBD server's payloads (one direct pool
 * per power-of-two size from 4 KiB to 1 MiB, no reserve, 64 idle, the connection bounding bytes in
 * flight itself).
 *
 * <p>Thread-safe. Allocating within the reserve or below the maximum and releasing take no lock:
 * idle buffers sit in an array of slots taken and filled with compare-and-set. Only a thread that
 * must wait takes the pool's lock, and then so does a release, to wake it. {@link #release} never
 * blocks for long and may be called from a bio completion.
 */
public final class BufferPool {
  private static final byte[] ZEROS = new byte[8192];
  private static final int RESERVE_SPINS = 64;

  /** Most idle buffers a pool keeps; its slot array is this long at most. */
  public static final int MAX_IDLE = 1 << 16;

  private final String name;
  private final int bufferSize;
  private final int reserve;
  private final int maximum;
  private final boolean direct;
  private final boolean zeroed;

  private final AtomicReferenceArray<ByteBuffer> slots;
  private final AtomicInteger inUse = new AtomicInteger();
  private final AtomicInteger highWater = new AtomicInteger();
  private final AtomicLong created = new AtomicLong();
  private final AtomicLong waits = new AtomicLong();

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition released = lock.newCondition();
  private volatile int waiters; // written under lock

  private BufferPool(Builder b) {
    this.name = b.name;
    this.bufferSize = b.bufferSize;
    this.reserve = b.reserve;
    this.maximum = b.maximum;
    this.direct = b.direct;
    this.zeroed = b.zeroed;
    this.slots = new AtomicReferenceArray<>(Math.max(b.maxIdle, b.reserve));
    for (int i = 0; i < reserve; i++) {
      slots.set(i, fresh());
    }
  }

  /** A pool of buffers of {@code bufferSize} bytes; see {@link Builder} for the defaults. */
  public static Builder builder(String name, int bufferSize) {
    return new Builder(name, bufferSize);
  }

  public String name() {
    return name;
  }

  /** Capacity of every buffer, bytes. */
  public int bufferSize() {
    return bufferSize;
  }

  /** Buffers that can always be had at once. */
  public int reserve() {
    return reserve;
  }

  /** Most buffers in use at once ({@link Integer#MAX_VALUE}: no bound). */
  public int maximum() {
    return maximum;
  }

  public boolean isDirect() {
    return direct;
  }

  /** Whether allocated buffers are all zeros. */
  public boolean isZeroed() {
    return zeroed;
  }

  // ---------------------------------------------------------------------------------------------
  // Allocation

  /**
   * A buffer, or {@code null} at once if {@link #maximum()} buffers are in use (or, beyond the
   * reserve, the system has no memory for one more). Never blocks.
   */
  public ByteBuffer tryAllocate() {
    int n = takePermit();
    if (n < 0) {
      return null;
    }
    ByteBuffer b = take(n);
    if (b == null) {
      givePermit();
    }
    return b;
  }

  /**
   * A buffer, waiting for a {@link #release} while {@link #maximum()} buffers are in use.
   *
   * @throws InterruptedException if interrupted while waiting; nothing is then allocated
   */
  public ByteBuffer allocate() throws InterruptedException {
    ByteBuffer b = tryAllocate();
    return b != null ? b : await(-1);
  }

  /**
   * A buffer, waiting at most {@code timeout} for a {@link #release}; {@code null} if none came.
   *
   * @throws InterruptedException if interrupted while waiting; nothing is then allocated
   */
  public ByteBuffer allocate(long timeout, TimeUnit unit) throws InterruptedException {
    long nanos = unit.toNanos(timeout);
    if (nanos < 0) {
      throw new IllegalArgumentException("timeout " + timeout + " " + unit + " < 0");
    }
    ByteBuffer b = tryAllocate();
    return b != null || nanos == 0 ? b : await(nanos);
  }

  /**
   * Gives {@code buffer} back. Never blocks for long; may run on a completion thread.
   *
   * @throws IllegalArgumentException if it is not a buffer this pool could have made
   * @throws IllegalStateException if more buffers are released than were allocated
   */
  public void release(ByteBuffer buffer) {
    if (buffer.capacity() != bufferSize || buffer.isDirect() != direct) {
      throw new IllegalArgumentException(
          "not a buffer of pool "
              + name
              + ": "
              + (buffer.isDirect() ? "direct" : "heap")
              + " buffer of capacity "
              + buffer.capacity()
              + " (expected: "
              + (direct ? "direct" : "heap")
              + ", capacity "
              + bufferSize
              + ")");
    }
    // The buffer goes back before the permit, so that a thread allocating within the reserve
    // always finds an idle buffer once it has its permit.
    int n = inUse.get();
    if (n <= 0) {
      throw new IllegalStateException("pool " + name + ": released more buffers than allocated");
    }
    offer(buffer);
    givePermit();
  }

  // ---------------------------------------------------------------------------------------------
  // Statistics

  /** Buffers allocated and not yet released. */
  public int inUse() {
    return inUse.get();
  }

  /** Most buffers in use at once so far. */
  public int highWater() {
    return highWater.get();
  }

  /** Buffers kept for reuse now. */
  public int idle() {
    int n = 0;
    for (int i = 0; i < slots.length(); i++) {
      if (slots.get(i) != null) {
        n++;
      }
    }
    return n;
  }

  /** Buffers ever made (the reserve included); the rest of the allocations were reuses. */
  public long created() {
    return created.get();
  }

  /** Allocations that had to wait for a release (or gave up waiting). */
  public long waits() {
    return waits.get();
  }

  @Override
  public String toString() {
    return "BufferPool["
        + name
        + ", "
        + bufferSize
        + " bytes, reserve "
        + reserve
        + ", maximum "
        + (maximum == Integer.MAX_VALUE ? "none" : Integer.toString(maximum))
        + ", in use "
        + inUse()
        + ", high water "
        + highWater()
        + "]";
  }

  // ---------------------------------------------------------------------------------------------
  // Inside

  /** Counts one more buffer in use; the new count, or -1 at the maximum. */
  private int takePermit() {
    while (true) {
      int n = inUse.get();
      if (n >= maximum) {
        return -1;
      }
      if (inUse.compareAndSet(n, n + 1)) {
        n++;
        if (n > highWater.get()) {
          highWater.accumulateAndGet(n, Math::max);
        }
        return n;
      }
    }
  }

  private void givePermit() {
    inUse.decrementAndGet();
    if (waiters != 0) {
      wakeWaiters();
    }
  }

  /**
   * The buffer for the {@code n}th permit: an idle one, else a fresh one. Within the reserve an
   * idle buffer exists (buffers go back before their permits), so a scan that loses a race to
   * another taker looks again a few times rather than asking the system; a fresh buffer is the last
   * resort still, because a release racing with takers can, rarely, find every slot full and drop
   * its buffer below the reserve.
   */
  private ByteBuffer take(int n) {
    ByteBuffer b = poll();
    for (int spins = 0; b == null && n <= reserve && spins < RESERVE_SPINS; spins++) {
      Thread.onSpinWait();
      b = poll();
    }
    if (b != null) {
      if (zeroed) {
        zero(b);
      }
      return b.clear().order(ByteOrder.BIG_ENDIAN);
    }
    try {
      return fresh();
    } catch (OutOfMemoryError e) {
      return outOfMemory(e);
    }
  }

  /**
   * Direct memory is exhausted: like a mempool whose allocator failed, report "no buffer now" and
   * let a later release help, unless no buffer is out to be released.
   */
  private ByteBuffer outOfMemory(OutOfMemoryError e) {
    if (inUse.get() <= 1) {
      throw e;
    }
    return null;
  }

  private ByteBuffer fresh() {
    ByteBuffer b = direct ? ByteBuffer.allocateDirect(bufferSize) : ByteBuffer.allocate(bufferSize);
    created.incrementAndGet();
    return b; // new buffers are zeros, big-endian, position 0, limit = capacity
  }

  private int start() {
    return (int) (Thread.currentThread().getId() % slots.length());
  }

  private ByteBuffer poll() {
    int len = slots.length();
    if (len == 0) {
      return null;
    }
    int start = start();
    for (int i = 0; i < len; i++) {
      int at = start + i < len ? start + i : start + i - len;
      ByteBuffer b = slots.get(at);
      if (b != null && slots.compareAndSet(at, b, null)) {
        return b;
      }
    }
    return null;
  }

  private void offer(ByteBuffer b) {
    int len = slots.length();
    if (len == 0) {
      return;
    }
    int start = start();
    for (int i = 0; i < len; i++) {
      int at = start + i < len ? start + i : start + i - len;
      if (slots.get(at) == null && slots.compareAndSet(at, null, b)) {
        return;
      }
    }
    // every slot is full: at least maxIdle >= reserve buffers are idle, so this one can go
  }

  private static void zero(ByteBuffer b) {
    int cap = b.capacity();
    for (int at = 0; at < cap; at += ZEROS.length) {
      b.put(at, ZEROS, 0, Math.min(ZEROS.length, cap - at));
    }
  }

  private ByteBuffer await(long nanos) throws InterruptedException {
    waits.incrementAndGet();
    lock.lockInterruptibly();
    int n;
    try {
      waiters++;
      try {
        while ((n = takePermit()) < 0) {
          if (nanos < 0) {
            released.await();
          } else if (nanos == 0) {
            return null;
          } else {
            nanos = Math.max(0, released.awaitNanos(nanos));
          }
        }
      } finally {
        waiters--;
      }
    } finally {
      lock.unlock();
    }
    ByteBuffer b = take(n);
    if (b == null) {
      // out of direct memory although below the maximum: wait for a release like at the maximum
      givePermit();
      return await(nanos);
    }
    return b;
  }

  private void wakeWaiters() {
    lock.lock();
    try {
      released.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Options of a {@link BufferPool}. Not thread-safe. */
  public static final class Builder {
    private final String name;
    private final int bufferSize;
    private int reserve;
    private int maximum = Integer.MAX_VALUE;
    private int maxIdle = -1;
    private boolean direct = true;
    private boolean zeroed;

    private Builder(String name, int bufferSize) {
      this.name = Objects.requireNonNull(name, "name");
      if (bufferSize <= 0) {
        throw new IllegalArgumentException("buffer size " + bufferSize + " (expected: > 0)");
      }
      this.bufferSize = bufferSize;
    }

    /** Buffers made up front and always kept ({@code min_nr}); default 0. */
    public Builder reserve(int buffers) {
      if (buffers < 0 || buffers > MAX_IDLE) {
        throw new IllegalArgumentException(
            "reserve " + buffers + " (expected: 0 <= reserve <= " + MAX_IDLE + ")");
      }
      this.reserve = buffers;
      return this;
    }

    /** Most buffers in use at once; default {@link Integer#MAX_VALUE} (no bound). */
    public Builder maximum(int buffers) {
      if (buffers < 1) {
        throw new IllegalArgumentException("maximum " + buffers + " (expected: >= 1)");
      }
      this.maximum = buffers;
      return this;
    }

    /** Released buffers kept for reuse; at least the reserve, which is also the default. */
    public Builder maxIdle(int buffers) {
      if (buffers < 0 || buffers > MAX_IDLE) {
        throw new IllegalArgumentException(
            "maxIdle " + buffers + " (expected: 0 <= maxIdle <= " + MAX_IDLE + ")");
      }
      this.maxIdle = buffers;
      return this;
    }

    /** Direct (default) or heap buffers. */
    public Builder direct(boolean direct) {
      this.direct = direct;
      return this;
    }

    /** Whether every allocated buffer is all zeros (reused ones are cleared); default false. */
    public Builder zeroed(boolean zeroed) {
      this.zeroed = zeroed;
      return this;
    }

    /**
     * The pool, with its reserve allocated.
     *
     * @throws IllegalArgumentException if the reserve exceeds the maximum or maxIdle is below the
     *     reserve
     */
    public BufferPool build() {
      if (reserve > maximum) {
        throw new IllegalArgumentException(
            "reserve " + reserve + " > maximum " + maximum + " of pool " + name);
      }
      if (maxIdle < 0) {
        maxIdle = reserve;
      } else if (maxIdle < reserve) {
        throw new IllegalArgumentException(
            "maxIdle " + maxIdle + " < reserve " + reserve + " of pool " + name);
      }
      maxIdle = Math.min(maxIdle, maximum);
      return new BufferPool(this);
    }
  }
}
