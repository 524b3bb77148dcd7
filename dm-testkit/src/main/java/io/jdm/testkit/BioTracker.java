package io.jdm.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.jdm.core.Bio;
import io.jdm.core.BioCallback;
import io.jdm.core.BlockStatus;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Completion callbacks that remember how often they ran, so a test can wait for a bio and check at
 * the end that every bio completed exactly once. Thread-safe.
 */
public final class BioTracker {
  /** How long a test waits for one bio before declaring it lost. Not a performance bound. */
  private static final long LOST_AFTER_SECONDS = 120;

  private final List<Completion> all = new CopyOnWriteArrayList<>();

  public BioTracker() {}

  /** A completion for one bio. */
  public final class Completion implements BioCallback {
    private final AtomicInteger calls = new AtomicInteger();
    private final CountDownLatch done = new CountDownLatch(1);
    private volatile BlockStatus status;
    private volatile String description;

    private Completion() {}

    @Override
    public void done(Bio bio) {
      status = bio.status();
      description = bio.toString();
      calls.incrementAndGet();
      done.countDown();
    }

    /** Waits for the bio; fails the test if it is lost. Returns its status. */
    public BlockStatus await() {
      try {
        if (!done.await(LOST_AFTER_SECONDS, TimeUnit.SECONDS)) {
          fail("bio never completed (waited " + LOST_AFTER_SECONDS + " s)");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        fail("interrupted waiting for a bio");
      }
      return status;
    }

    public boolean isDone() {
      return done.getCount() == 0;
    }

    public BlockStatus status() {
      return status;
    }

    public int calls() {
      return calls.get();
    }
  }

  /** A new tracked completion. */
  public Completion completion() {
    Completion c = new Completion();
    all.add(c);
    return c;
  }

  /** Bios tracked so far. */
  public int count() {
    return all.size();
  }

  /** Every tracked bio completed, and exactly once. */
  public void assertAllCompletedOnce() {
    for (Completion c : all) {
      c.await();
      assertThat(c.calls()).as("completions of %s", c.description).isEqualTo(1);
    }
  }

  public void clear() {
    all.clear();
  }
}
