package io.jdm.core;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Threads for a target's blocking work, the kernel's workqueues. Created through {@link
 * TargetContext#workqueue}; daemon threads named {@code jdm-<device>-<name>-<n>}; shut down with
 * the table that owns them. Code outside a table (a server's writer thread, say) makes its own with
 * {@link #create} and shuts it down itself. Threads start on demand and end after 30 idle seconds.
 *
 * <p>Thread-safe.
 */
public final class Workqueue {
  private final String name;
  private final ExecutorService executor;

  Workqueue(String name, int threads) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads " + threads + " < 1");
    }
    this.name = name;
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

  /** A workqueue of {@code threads} daemon threads named {@code <name>-<n>}. */
  public static Workqueue create(String name, int threads) {
    return new Workqueue(name, threads);
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
    try {
      executor.execute(work);
    } catch (RejectedExecutionException e) {
      throw new IllegalStateException("workqueue " + name + " is shut down", e);
    }
  }

  /** Stops taking work and waits for queued work to finish. */
  public void shutdown() {
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
}
