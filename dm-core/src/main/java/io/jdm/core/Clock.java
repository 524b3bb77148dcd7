package io.jdm.core;

import java.util.Objects;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Time for targets and statistics: a monotonic nanosecond reading and one-shot timers, the kernel's
 * jiffies and {@code timer_list}. Targets that depend on time (delay, flakey) use only this,
 * through {@link TargetContext#clock()}, so a test can drive time by hand (the testkit's {@code
 * ManualClock}) and check exactly what happens at each moment.
 *
 * <p>Implementations must be thread-safe. Timer tasks must be short and must not block; a task that
 * needs to do I/O hands it to a {@link Workqueue}.
 */
public interface Clock {

  /** Monotonic nanoseconds (only differences mean anything). */
  long nanoTime();

  /**
   * Runs {@code task} once, {@code delayNanos} from now by this clock (at once if not positive), on
   * a thread of the clock's choosing.
   */
  Timeout schedule(Runnable task, long delayNanos);

  /** A scheduled task that can still be called off. */
  interface Timeout {
    /** Prevents the task from running; {@code false} if it has run or is running. */
    boolean cancel();
  }

  /**
   * The system clock: {@link System#nanoTime()} and one daemon timer thread, {@code jdm-timer},
   * started on first use and stopped by {@link SystemClock#close()}.
   */
  static SystemClock system() {
    return new SystemClock();
  }

  /** {@link System#nanoTime()} with a lazily started timer thread. Close it when done. */
  final class SystemClock implements Clock, AutoCloseable {
    private ScheduledThreadPoolExecutor timer; // guarded by this
    private boolean closed; // guarded by this

    SystemClock() {}

    @Override
    public long nanoTime() {
      return System.nanoTime();
    }

    @Override
    public Timeout schedule(Runnable task, long delayNanos) {
      Objects.requireNonNull(task, "task");
      ScheduledFuture<?> f = timer().schedule(task, Math.max(0, delayNanos), TimeUnit.NANOSECONDS);
      return () -> f.cancel(false);
    }

    private synchronized ScheduledThreadPoolExecutor timer() {
      if (closed) {
        throw new IllegalStateException("clock is closed");
      }
      if (timer == null) {
        timer =
            new ScheduledThreadPoolExecutor(
                1,
                r -> {
                  Thread t = new Thread(r, "jdm-timer");
                  t.setDaemon(true);
                  return t;
                });
        timer.setRemoveOnCancelPolicy(true);
      }
      return timer;
    }

    /** Stops the timer thread; tasks not yet run are dropped. Idempotent. */
    @Override
    public void close() {
      ScheduledThreadPoolExecutor t;
      synchronized (this) {
        closed = true;
        t = timer;
        timer = null;
      }
      if (t != null) {
        t.shutdownNow();
        boolean interrupted = false;
        while (true) {
          try {
            if (t.awaitTermination(1, TimeUnit.MINUTES)) {
              break;
            }
          } catch (InterruptedException e) {
            interrupted = true;
          }
        }
        if (interrupted) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }
}
