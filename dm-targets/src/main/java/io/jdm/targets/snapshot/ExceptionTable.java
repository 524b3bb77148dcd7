package io.jdm.targets.snapshot;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The completed exceptions of a snapshot, {@code old_chunk -> new_chunk}: the kernel's {@code
 * s->complete} ({@code struct dm_exception_table} in {@code drivers/md/dm-snap.c}).
 *
 * <p>An open-addressing table of two {@code long} arrays, one entry per chunk (the kernel folds
 * runs of consecutive chunks into one entry to save memory; here a lookup stays one probe sequence
 * without a lock, which is what the read path needs). {@link #lookup} takes no lock and allocates
 * nothing: entries are published value first, key second with release semantics and read key first
 * with acquire semantics, and a resize publishes whole new arrays through a volatile field.
 *
 * <p>Thread model: any number of readers; one writer at a time ({@link #insert}, {@link #remove}
 * are called under the owning snapshot's lock).
 */
final class ExceptionTable {
  private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
  private static final long EMPTY = 0;
  private static final long TOMBSTONE = -1;

  /** Keys ({@code chunk + 1}; 0 empty, -1 removed) and values, in one object to publish at once. */
  private static final class Slots {
    final long[] keys;
    final long[] values;
    final int mask;

    Slots(int capacity) {
      keys = new long[capacity];
      values = new long[capacity];
      mask = capacity - 1;
    }
  }

  private volatile Slots slots = new Slots(64);
  private int size; // writer-confined
  private int used; // live + tombstones, writer-confined

  /** The new chunk of {@code chunk}, or -1 if it has no exception. */
  long lookup(long chunk) {
    Slots s = slots;
    long key = chunk + 1;
    int i = hash(chunk) & s.mask;
    while (true) {
      long k = (long) LONGS.getAcquire(s.keys, i);
      if (k == key) {
        return s.values[i];
      }
      if (k == EMPTY) {
        return -1;
      }
      i = (i + 1) & s.mask;
    }
  }

  /** Adds or replaces {@code chunk -> newChunk}. Writer only. */
  void insert(long chunk, long newChunk) {
    if ((used + 1) * 4L > (slots.mask + 1) * 3L) {
      rehash(size * 4L >= (slots.mask + 1) ? (slots.mask + 1) * 2 : slots.mask + 1);
    }
    Slots s = slots;
    long key = chunk + 1;
    int i = hash(chunk) & s.mask;
    int free = -1;
    while (true) {
      long k = s.keys[i];
      if (k == key) {
        s.values[i] = newChunk; // only a handover or a reload replaces, never under a reader
        return;
      }
      if (k == TOMBSTONE && free < 0) {
        free = i;
      }
      if (k == EMPTY) {
        break;
      }
      i = (i + 1) & s.mask;
    }
    if (free < 0) {
      free = i;
      used++;
    }
    s.values[free] = newChunk;
    LONGS.setRelease(s.keys, free, key);
    size++;
  }

  /** Removes the exception of {@code chunk}; {@code false} if there was none. Writer only. */
  boolean remove(long chunk) {
    Slots s = slots;
    long key = chunk + 1;
    int i = hash(chunk) & s.mask;
    while (true) {
      long k = s.keys[i];
      if (k == key) {
        LONGS.setRelease(s.keys, i, TOMBSTONE);
        size--;
        return true;
      }
      if (k == EMPTY) {
        return false;
      }
      i = (i + 1) & s.mask;
    }
  }

  /** Exceptions held. Writer only (or after the writer has stopped). */
  int size() {
    return size;
  }

  private void rehash(long capacity) {
    if (capacity > 1 << 30) {
      throw new IllegalStateException("exception table full at " + size + " chunks");
    }
    Slots old = slots;
    Slots s = new Slots((int) capacity);
    for (int i = 0; i <= old.mask; i++) {
      long k = old.keys[i];
      if (k != EMPTY && k != TOMBSTONE) {
        int j = hash(k - 1) & s.mask;
        while (s.keys[j] != EMPTY) {
          j = (j + 1) & s.mask;
        }
        s.keys[j] = k;
        s.values[j] = old.values[i];
      }
    }
    used = size;
    slots = s;
  }

  private static int hash(long chunk) {
    long h = chunk * 0x9E3779B97F4A7C15L;
    return (int) (h ^ (h >>> 32));
  }
}
