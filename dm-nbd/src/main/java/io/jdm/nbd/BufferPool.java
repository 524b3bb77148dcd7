package io.jdm.nbd;

import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Direct payload buffers for one connection, reused: a read's data goes from the device into a
 * direct buffer and from there to the socket, with no zeroing of a fresh array and no copy into the
 * JDK's temporary direct buffer. Sizes are rounded up to a power of two from 4 KiB to 1 MiB; larger
 * payloads get a plain heap buffer. At most {@value #PER_CLASS} idle buffers are kept per size.
 * Thread-safe: buffers are taken by the reader thread and given back by completing threads.
 */
final class BufferPool {
  private static final int MIN_SHIFT = 12;
  private static final int CLASSES = 9; // 4 KiB .. 1 MiB
  private static final int PER_CLASS = 64;

  private final java.util.List<ConcurrentLinkedQueue<ByteBuffer>> free =
      new java.util.ArrayList<>();

  private final AtomicIntegerArray idle = new AtomicIntegerArray(CLASSES);

  /** Capacity of the buffers acquired and not yet released (pooled or not). */
  private final AtomicLong held = new AtomicLong();

  BufferPool() {
    for (int i = 0; i < CLASSES; i++) {
      free.add(new ConcurrentLinkedQueue<>());
    }
  }

  /** A buffer with position 0 and limit {@code size}; its contents are unspecified. */
  ByteBuffer acquire(int size) {
    int c = classOf(size);
    if (c < 0) {
      held.addAndGet(size);
      return ByteBuffer.allocate(size);
    }
    ByteBuffer b = free.get(c).poll();
    if (b == null) {
      b = ByteBuffer.allocateDirect(1 << (MIN_SHIFT + c));
    } else {
      idle.decrementAndGet(c);
    }
    held.addAndGet(b.capacity());
    b.clear().limit(size);
    return b;
  }

  /**
   * Gives a buffer from {@link #acquire} back (once; {@code null} is ignored). Buffers that were
   * not pooled are only counted out of {@link #held()}.
   */
  void release(ByteBuffer b) {
    if (b == null) {
      return;
    }
    held.addAndGet(-b.capacity());
    if (!b.isDirect()) {
      return;
    }
    int c = Integer.numberOfTrailingZeros(b.capacity()) - MIN_SHIFT;
    if (c < 0 || c >= CLASSES || b.capacity() != 1 << (MIN_SHIFT + c)) {
      return;
    }
    if (idle.incrementAndGet(c) > PER_CLASS) {
      idle.decrementAndGet(c);
      return;
    }
    free.get(c).offer(b);
  }

  /** Bytes in buffers acquired and not yet released. */
  long held() {
    return held.get();
  }

  private static int classOf(int size) {
    if (size <= 0 || size > 1 << (MIN_SHIFT + CLASSES - 1)) {
      return -1;
    }
    int shift = 32 - Integer.numberOfLeadingZeros(size - 1);
    return Math.max(0, shift - MIN_SHIFT);
  }
}
