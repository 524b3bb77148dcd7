package io.jdm.testkit;

import io.jdm.core.Clock;
import java.time.Duration;
import java.util.PriorityQueue;

/**
 * A {@link Clock} that moves only when told: {@link #advance(Duration)} moves time forward and
 * runs, on the calling thread and in deadline order, every timer task that falls due. Give it to
 * {@code DeviceMapper.builder().clock(...)} to test time-driven targets (delay, flakey) exactly,
 * with no sleeping.
 *
 * <p>Thread-safe. Tasks run without the clock's lock held, so they may schedule more tasks.
 */
public final class ManualClock implements Clock {
  private long now;
  private long sequence;
  private final PriorityQueue<Task> tasks =
      new PriorityQueue<>(
          (a, b) ->
              a.deadline != b.deadline
                  ? Long.compare(a.deadline, b.deadline)
                  : Long.compare(a.seq, b.seq));

  private final class Task implements Timeout {
    final long deadline;
    final long seq;
    final Runnable run;
    boolean cancelled;

    Task(long deadline, long seq, Runnable run) {
      this.deadline = deadline;
      this.seq = seq;
      this.run = run;
    }

    @Override
    public boolean cancel() {
      synchronized (ManualClock.this) {
        if (cancelled || !tasks.remove(this)) {
          return false;
        }
        cancelled = true;
        return true;
      }
    }
  }

  public ManualClock() {}

  @Override
  public synchronized long nanoTime() {
    return now;
  }

  @Override
  public synchronized Timeout schedule(Runnable task, long delayNanos) {
    Task t = new Task(now + Math.max(0, delayNanos), sequence++, task);
    tasks.add(t);
    return t;
  }

  /** Moves time forward by {@code d} and runs every task due by then. */
  public void advance(Duration d) {
    if (d.isNegative()) {
      throw new IllegalArgumentException("cannot go back in time: " + d);
    }
    long target;
    synchronized (this) {
      target = now + d.toNanos();
    }
    while (true) {
      Task next;
      synchronized (this) {
        next = tasks.peek();
        if (next == null || next.deadline > target) {
          now = target;
          return;
        }
        tasks.poll();
        now = Math.max(now, next.deadline);
      }
      next.run.run();
    }
  }

  /** Tasks waiting to fall due. */
  public synchronized int pendingTasks() {
    return tasks.size();
  }
}
