package io.jdm.core.io;

import io.jdm.core.Clock;
import java.util.ArrayList;
import java.util.List;

/**
 * A clock that moves only when told, running due timers on the calling thread. The testkit has a
 * fuller one; the core's tests cannot depend on the testkit, which depends on the core.
 */
public final class ManualClock implements Clock {
  private long now;
  private final List<long[]> deadlines = new ArrayList<>(); // guarded by this, parallel to tasks
  private final List<Runnable> tasks = new ArrayList<>();

  /** A clock at time 0 with no timers. */
  public ManualClock() {}

  @Override
  public synchronized long nanoTime() {
    return now;
  }

  @Override
  public synchronized Timeout schedule(Runnable task, long delayNanos) {
    long[] at = {now + Math.max(0, delayNanos)};
    deadlines.add(at);
    tasks.add(task);
    return () -> {
      synchronized (ManualClock.this) {
        int i = deadlines.indexOf(at);
        if (i < 0) {
          return false;
        }
        deadlines.remove(i);
        tasks.remove(i);
        return true;
      }
    };
  }

  public synchronized int pendingTimers() {
    return tasks.size();
  }

  /** Moves time forward by {@code nanos} and runs every timer that falls due, in order. */
  public void advance(long nanos) {
    long target;
    synchronized (this) {
      target = now + nanos;
    }
    while (true) {
      Runnable due = null;
      synchronized (this) {
        int best = -1;
        for (int i = 0; i < deadlines.size(); i++) {
          if (deadlines.get(i)[0] <= target
              && (best < 0 || deadlines.get(i)[0] < deadlines.get(best)[0])) {
            best = i;
          }
        }
        if (best < 0) {
          now = target;
          return;
        }
        now = Math.max(now, deadlines.remove(best)[0]);
        due = tasks.remove(best);
      }
      due.run();
    }
  }
}
