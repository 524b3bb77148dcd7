package io.jdm.crypto;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Reusable buffers for encrypted writes (the kernel's page mempool): a fixed set of slots taken and
 * given back with compare-and-set, so a write takes no lock and, in steady state, allocates no
 * buffer. Larger requests, or all slots in use, get a fresh buffer that may then fill a free slot.
 */
final class BouncePool {
  private final int size;
  private final AtomicReferenceArray<ByteBuffer> slots;

  BouncePool(int buffers, int size) {
    this.size = size;
    this.slots = new AtomicReferenceArray<>(buffers);
  }

  /** A buffer of at least {@code bytes}, position 0, limit {@code bytes}. */
  ByteBuffer acquire(int bytes) {
    if (bytes <= size) {
      int n = slots.length();
      int start = (int) (Thread.currentThread().getId() % n);
      for (int i = 0; i < n; i++) {
        int at = (start + i) % n;
        ByteBuffer b = slots.get(at);
        if (b != null && slots.compareAndSet(at, b, null)) {
          return b.clear().limit(bytes);
        }
      }
    }
    return ByteBuffer.allocate(Math.max(bytes, bytes <= size ? size : bytes)).limit(bytes);
  }

  /** Gives a buffer back (its contents are ciphertext: nothing secret to wipe). */
  void release(ByteBuffer b) {
    if (b.capacity() != size) {
      return;
    }
    int n = slots.length();
    int start = (int) (Thread.currentThread().getId() % n);
    for (int i = 0; i < n; i++) {
      int at = (start + i) % n;
      if (slots.get(at) == null && slots.compareAndSet(at, null, b)) {
        return;
      }
    }
  }
}
