package io.jdm.nbd;

import io.jdm.core.io.BufferPool;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Direct payload buffers for one connection, reused: a read's data goes from the device into a
 * direct buffer and from there to the socket, with no zeroing of a fresh array and no copy into the
 * JDK's temporary direct buffer. One core {@link BufferPool} per size class, powers of two from 4
 * KiB to 1 MiB, made on demand with no reserve and up to {@value #PER_CLASS} idle buffers kept per
 * size; larger payloads get a plain heap buffer. The connection's own bound on bytes in flight
 * ({@link #held()}) decides how many are out at once, so the pools have no maximum.
 *
 * <p>Thread-safe: buffers are taken by the reader thread and given back by completing threads.
 */
final class PayloadPool {
  private static final int MIN_SHIFT = 12;
  private static final int CLASSES = 9; // 4 KiB .. 1 MiB
  private static final int PER_CLASS = 64;

  private final BufferPool[] pools = new BufferPool[CLASSES];

  /** Bytes of the heap buffers handed out for payloads larger than the largest class. */
  private final AtomicLong oversized = new AtomicLong();

  PayloadPool() {
    for (int c = 0; c < CLASSES; c++) {
      pools[c] =
          BufferPool.builder("nbd-" + (1 << (MIN_SHIFT + c - 10)) + "k", 1 << (MIN_SHIFT + c))
              .reserve(0)
              .maxIdle(PER_CLASS)
              .build();
    }
  }

  /** A buffer with position 0 and limit {@code size}; its contents are unspecified. */
  ByteBuffer acquire(int size) {
    int c = classOf(size);
    if (c < 0) {
      oversized.addAndGet(size);
      return ByteBuffer.allocate(size);
    }
    ByteBuffer b = pools[c].tryAllocate(); // never null: no maximum
    b.limit(size);
    return b;
  }

  /** Gives a buffer from {@link #acquire} back (once; {@code null} is ignored). */
  void release(ByteBuffer b) {
    if (b == null) {
      return;
    }
    if (!b.isDirect()) {
      oversized.addAndGet(-b.capacity());
      return;
    }
    pools[Integer.numberOfTrailingZeros(b.capacity()) - MIN_SHIFT].release(b);
  }

  /** Bytes in buffers acquired and not yet released. */
  long held() {
    long n = oversized.get();
    for (BufferPool p : pools) {
      n += (long) p.inUse() * p.bufferSize();
    }
    return n;
  }

  private static int classOf(int size) {
    if (size <= 0 || size > 1 << (MIN_SHIFT + CLASSES - 1)) {
      return -1;
    }
    int shift = 32 - Integer.numberOfLeadingZeros(size - 1);
    return Math.max(0, shift - MIN_SHIFT);
  }
}
