package io.jdm.core.prison;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Waits for I/O in flight without a lock on the I/O path: a {@link DeferredSet} reduced to two
 * epochs, for map paths that must take no lock (the thin pool's {@code all_io_ds} of {@code
 * drivers/md/dm-thin.c}). A bio {@link #enter}s the current epoch in {@code map} and {@link #exit}s
 * it on completion; {@link #afterInFlight} flips the epoch and runs its work once every bio of the
 * old one has ended. {@link DeferredSet} keeps many entries and takes its monitor on every call;
 * this one costs the I/O path two atomic adds.
 *
 * <p>The pattern it serves: whoever invalidates what the map path reads (a cached mapping) first
 * invalidates it and then waits here, while the map path enters first and reads after, so either
 * the map path sees the change or the waiter sees the bio counted (every step is a volatile access,
 * so they are totally ordered). Thread-safe.
 */
public final class InFlightEpochs {
  /** Two counters, 64 bytes apart so the two epochs do not share a cache line. */
  private static final int STRIDE = 8;

  /** An empty set. */
  public InFlightEpochs() {}

  private final AtomicLongArray counts = new AtomicLongArray(2 * STRIDE);
  private volatile int epoch;

  private final Object lock = new Object();
  private boolean draining; // guarded by lock
  private List<Runnable> waiting = new ArrayList<>(); // guarded by lock: for the old epoch
  private List<Runnable> next = new ArrayList<>(); // guarded by lock: after the current drain

  /** Counts a bio in the current epoch; returns the epoch to give back to {@link #exit}. */
  public int enter() {
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
  public void exit(int e) {
    if (counts.decrementAndGet(e * STRIDE) == 0 && e != epoch) {
      drained(e);
    }
  }

  /** Runs {@code work} (on whatever thread ends the last bio, or this one) after all I/O now. */
  public void afterInFlight(Runnable work) {
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
