package io.jdm.targets.thin;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Waits for data I/O in flight without a lock on the I/O path: the pool's {@code all_io_ds}
 * deferred set ({@code drivers/md/dm-thin.c}) as two epoch counters. A bio remapped to a data block
 * {@link #enter}s the current epoch and {@link #exit}s it on completion; {@link #afterInFlight}
 * flips the epoch and runs its work once every bio of the old one has ended.
 *
 * <p>Used with the thins' {@link MappingCache}: whoever unmaps a block first invalidates its cache
 * entry and then waits here, while the map path enters first and reads the cache after, so either
 * the map path sees the entry gone or the waiter sees the bio counted (every step is a volatile
 * access, so they are totally ordered). Thread-safe.
 */
final class IoQuiescer {
  /** Two counters, 64 bytes apart so the two epochs do not share a cache line. */
  private static final int STRIDE = 8;

  private final AtomicLongArray counts = new AtomicLongArray(2 * STRIDE);
  private volatile int epoch;

  private final Object lock = new Object();
  private boolean draining; // guarded by lock
  private List<Runnable> waiting = new ArrayList<>(); // guarded by lock: for the old epoch
  private List<Runnable> next = new ArrayList<>(); // guarded by lock: after the current drain

  /** Counts a bio in the current epoch; returns the epoch to give back to {@link #exit}. */
  int enter() {
    while (true) {
      int e = epoch;
      counts.incrementAndGet(e * STRIDE);
      if (epoch == e) {
        return e;
      }
      exit(e); // flipped meanwhile: count in the new epoch instead
    }
  }

  /** Ends a bio counted by {@link #enter}. */
  void exit(int e) {
    if (counts.decrementAndGet(e * STRIDE) == 0 && e != epoch) {
      drained(e);
    }
  }

  /** Runs {@code work} (on whatever thread ends the last bio, or this one) after all I/O now. */
  void afterInFlight(Runnable work) {
    int old;
    synchronized (lock) {
      if (draining) {
        next.add(work);
        return;
      }
      draining = true;
      waiting.add(work);
      old = epoch;
      epoch = old ^ 1;
    }
    if (counts.get(old * STRIDE) == 0) {
      drained(old);
    }
  }

  private void drained(int e) {
    List<Runnable> run;
    while (true) {
      int again;
      synchronized (lock) {
        if (!draining || e == epoch || counts.get(e * STRIDE) != 0) {
          return;
        }
        run = waiting;
        waiting = next;
        next = new ArrayList<>();
        if (waiting.isEmpty()) {
          draining = false;
          again = -1;
        } else {
          again = epoch;
          epoch = again ^ 1;
        }
      }
      for (Runnable r : run) {
        r.run();
      }
      if (again < 0 || counts.get(again * STRIDE) != 0) {
        return;
      }
      e = again;
    }
  }
}
