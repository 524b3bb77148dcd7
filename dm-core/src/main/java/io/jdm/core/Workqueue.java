package io.jdm.core;

import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Threads for a target's blocking work, the kernel's workqueues: {@link #execute} ({@code
 * queue_work}), {@link #schedule} ({@code queue_delayed_work}, timed by the device mapper's {@link
 * Clock}, so a test drives it by hand) and {@link #flush} ({@code flush_workqueue}).
 *
 * <p>Created through {@link TargetContext#workqueue}; daemon threads named {@code
 * jdm-<device>-<name>-<n>}; shut down with the table that owns them. Code outside a table (a
 * server's writer thread, say) makes its own with {@link #create} and shuts it down itself. Threads
 * start on demand and end after 30 idle seconds.
 *
 * <p>Thread-safe.
 */
public final class Workqueue {
  private final String name;
  private final ExecutorService executor;
  private final Clock clock;
  private final Set<Clock.Timeout> timers = ConcurrentHashMap.newKeySet();

  /**
   * Work queued and not yet finished, by the flush generation it was queued in. {@code flush()}
   * opens a new generation and waits for the older ones to empty. Guarded by {@code this}.
   */
  private long generation;

  private long pendingOld; // unfinished work of generations before {@code generation}
  private long pendingNow; // unfinished work of {@code generation}
  private volatile boolean shutdown;

  Workqueue(String name, int threads, Clock clock) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads " + threads + " < 1");
    }
    this.name = name;
    this.clock = Objects.requireNonNull(clock, "clock");
    AtomicInteger n = new AtomicInteger();
    ThreadPoolExecutor pool =
        new ThreadPoolExecutor(
            threads,
            threads,
            30,
            TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(),
            r -> {
              Thread t = new Thread(r, name + "-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    pool.allowCoreThreadTimeOut(true);
    this.executor = pool;
  }

  /**
   * A workqueue of {@code threads} daemon threads named {@code <name>-<n>}; delayed work runs on
   * the system clock.
   */
  public static Workqueue create(String name, int threads) {
    return new Workqueue(name, threads, SharedClock.INSTANCE);
  }

  /** As {@link #create(String, int)}, with delayed work timed by {@code clock}. */
  public static Workqueue create(String name, int threads, Clock clock) {
    return new Workqueue(name, threads, clock);
  }

  public String name() {
    return name;
  }

  /**
   * Runs {@code work} on a worker thread.
   *
   * @throws IllegalStateException if the workqueue has been shut down with its table
   */
  public void execute(Runnable work) {
    Objects.requireNonNull(work, "work");
    long gen;
    synchronized (this) {
      gen = generation;
      pendingNow++;
    }
    try {
      executor.execute(() -> run(work, gen));
    } catch (RejectedExecutionException e) {
      finished(gen);
      throw new IllegalStateException("workqueue " + name + " is shut down", e);
    }
  }

  private void run(Runnable work, long gen) {
    try {
      work.run();
    } finally {
      finished(gen);
    }
  }

  private synchronized void finished(long gen) {
    if (gen == generation) {
      pendingNow--;
    } else {
      pendingOld--;
      if (pendingOld == 0) {
        notifyAll();
      }
    }
  }

  /**
   * Queues {@code work} after {@code delayNanos} by this workqueue's clock (at once if not
   * positive). Work still waiting for its time when the workqueue shuts down is dropped.
   *
   * @return a handle that calls the work off if it has not been queued yet
   * @throws IllegalStateException if the workqueue has been shut down
   */
  public Clock.Timeout schedule(Runnable work, long delayNanos) {
    Objects.requireNonNull(work, "work");
    if (shutdown) {
      throw new IllegalStateException("workqueue " + name + " is shut down");
    }
    if (delayNanos <= 0) {
      execute(work);
      return () -> false;
    }
    Clock.Timeout[] self = new Clock.Timeout[1];
    Runnable fire =
        () -> {
          synchronized (self) {
            timers.remove(self[0]);
          }
          if (!shutdown) {
            try {
              execute(work);
            } catch (IllegalStateException e) {
              // shut down between the check and the queueing: dropped, as documented
            }
          }
        };
    synchronized (self) {
      Clock.Timeout t = clock.schedule(fire, delayNanos);
      Clock.Timeout handle =
          () -> {
            timers.remove(self[0]);
            return t.cancel();
          };
      self[0] = handle;
      timers.add(handle);
      return handle;
    }
  }

  /**
   * Waits until all work queued before this call has finished ({@code flush_workqueue}). Delayed
   * work counts once its time has come and it is queued. Must not be called from this workqueue's
   * own threads (it would wait for itself).
   */
  public void flush() {
    boolean interrupted = false;
    synchronized (this) {
      pendingOld += pendingNow;
      pendingNow = 0;
      generation++;
      while (pendingOld != 0) {
        try {
          wait();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /** Stops taking work, drops delayed work not yet due, and waits for queued work to finish. */
  public void shutdown() {
    shutdown = true;
    for (Clock.Timeout t : timers) {
      t.cancel();
    }
    executor.shutdown();
    boolean interrupted = false;
    while (true) {
      try {
        if (executor.awaitTermination(1, TimeUnit.MINUTES)) {
          break;
        }
        System.getLogger(Workqueue.class.getName())
            .log(System.Logger.Level.WARNING, "workqueue {0} still busy after a minute", name);
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /** The system clock behind {@link #create(String, int)}: one lazily started daemon timer. */
  private static final class SharedClock {
    static final Clock INSTANCE = Clock.system();
  }
}
