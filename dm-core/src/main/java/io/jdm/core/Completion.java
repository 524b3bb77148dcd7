package io.jdm.core;

import java.util.concurrent.locks.LockSupport;

/**
 * One thread waits for one event that any thread signals: the waiting behind the synchronous forms
 * of asynchronous I/O ({@link BlockDevice}'s helpers, {@code DmIo}'s). The waiter parks only if the
 * event has not happened yet (an I/O that completed inline costs no park), and waits
 * uninterruptibly: the buffer belongs to the device until the I/O completes, so giving up early
 * could let a late read land in memory the caller has reused. An interrupt is kept.
 *
 * <p>Create it on the thread that will call {@link #await()}. What the signalling thread writes
 * before {@link #signal()} is visible to the waiter after {@code await()} returns.
 */
public class Completion {
  private final Thread waiter = Thread.currentThread();
  private volatile boolean done;

  /** A completion the current thread will wait for. */
  public Completion() {}

  /** Marks the event as happened and wakes the waiter. */
  public final void signal() {
    done = true;
    if (Thread.currentThread() != waiter) {
      LockSupport.unpark(waiter);
    }
  }

  /** Whether {@link #signal()} has been called. */
  public final boolean isDone() {
    return done;
  }

  /** Returns once {@link #signal()} has been called; keeps an interrupt for the caller. */
  public final void await() {
    boolean interrupted = false;
    while (!done) {
      LockSupport.park(this);
      if (Thread.interrupted()) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
