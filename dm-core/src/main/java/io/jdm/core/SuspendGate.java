package io.jdm.core;

import java.lang.invoke.VarHandle;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A mapped device's suspend gate (the kernel's {@code DMF_BLOCK_IO_FOR_SUSPEND}, {@code
 * md->deferred} and {@code dm_wait_for_completion}): while blocked, new bios are held in arrival
 * order; during a {@link SuspendMode#NOFLUSH} suspend, bios that targets push back ({@code
 * DM_REQUEUE}) are held in front of them; unblocking hands every held bio back for replay; a
 * suspender waits here for the I/O in flight to drain. Once closed (the device removed) nothing
 * more is held.
 *
 * <p>The submit path reads one volatile ({@link #isBlocked()}) and takes no lock unless blocked.
 */
final class SuspendGate {
  /** What {@link #hold} did with a bio. */
  enum Hold {
    /** Kept until the gate opens. */
    HELD,
    /** Not kept: the gate opened meanwhile, submit it. */
    OPEN,
    /** Not kept: the device is gone. */
    CLOSED
  }

  private final ArrayDeque<Bio> held = new ArrayDeque<>(); // guarded by itself
  private volatile int blocked;
  private volatile boolean noflush; // written under held
  private volatile boolean closed; // written under held
  private volatile Thread waiter;

  /** Whether new I/O is being held. */
  boolean isBlocked() {
    return blocked != 0;
  }

  /** Holds new I/O from now on. */
  void block() {
    blocked = 1;
  }

  /** {@code dm_noflush_suspending}. */
  boolean isNoflushSuspending() {
    return noflush;
  }

  void setNoflushSuspending(boolean value) {
    synchronized (held) {
      noflush = value;
    }
  }

  /** Keeps {@code bio} at the tail if the gate is still blocked. */
  Hold hold(Bio bio) {
    synchronized (held) {
      if (closed) {
        return Hold.CLOSED;
      }
      if (blocked != 0) {
        held.addLast(bio);
        return Hold.HELD;
      }
      return Hold.OPEN;
    }
  }

  /**
   * A pushed-back bio during a noflush suspend ({@code dm_handle_requeue}): its device frame
   * popped, kept at the head for replay after resume, or when the suspend gives up. It is kept even
   * if the suspend has not blocked new I/O yet: reissuing it at once from the completion would map
   * it again on that stack, and a target that keeps answering REQUEUE until I/O is blocked would
   * recurse (the kernel reissues from a workqueue). Decided under the queue lock, so a suspend that
   * gives up cannot leave the bio behind. Returns false when the bio must fail instead.
   */
  boolean holdRequeued(Bio bio) {
    synchronized (held) {
      if (!noflush || closed) {
        return false;
      }
      bio.popFrame();
      bio.setStatus(BlockStatus.OK);
      held.addFirst(bio);
      return true;
    }
  }

  /**
   * Opens the gate and returns what it held, in order ({@code dm_queue_flush}): new I/O may run
   * alongside their replay from here on.
   */
  List<Bio> unblock() {
    synchronized (held) {
      List<Bio> out = new ArrayList<>(held);
      held.clear();
      blocked = 0;
      return out;
    }
  }

  /** Blocks and closes the gate for good; returns what it held, for the caller to fail. */
  List<Bio> close() {
    blocked = 1;
    synchronized (held) {
      closed = true;
      List<Bio> out = new ArrayList<>(held);
      held.clear();
      return out;
    }
  }

  /** Wakes a suspender waiting in {@link #awaitIdle}, if any (after a completion). */
  void wake() {
    Thread w = waiter;
    if (w != null) {
      LockSupport.unpark(w);
    }
  }

  /**
   * Waits until {@code counters} show nothing in flight, or the deadline ({@link Long#MAX_VALUE}:
   * none) passes. Completions {@link #wake} the waiter, but they publish their count without a full
   * fence (see {@link IoCounters}), so the waiter also looks again after a short park; that costs a
   * suspend at most a millisecond, never correctness.
   */
  boolean awaitIdle(IoCounters counters, long deadline) {
    waiter = Thread.currentThread();
    VarHandle.fullFence(); // the flag and the waiter are set before the first count
    boolean interrupted = false;
    long park = TimeUnit.MICROSECONDS.toNanos(20);
    try {
      while (counters.inFlight() != 0) {
        long wait = park;
        if (deadline != Long.MAX_VALUE) {
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            return false;
          }
          wait = Math.min(wait, left);
        }
        LockSupport.parkNanos(this, wait);
        park = Math.min(park * 2, TimeUnit.MILLISECONDS.toNanos(1));
        if (Thread.interrupted()) {
          interrupted = true;
        }
      }
      return true;
    } finally {
      waiter = null;
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
