package io.jdm.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.io.ManualClock;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link Workqueue}: flush waits for earlier work only; delayed work follows the given clock. */
class WorkqueueTest {
  private final ManualClock clock = new ManualClock();
  private final Workqueue wq = Workqueue.create("wq-test", 2, clock);

  @AfterEach
  void shutdown() {
    wq.shutdown();
  }

  @Test
  void flushWaitsForEverythingQueuedBeforeIt() throws InterruptedException {
    CountDownLatch gate = new CountDownLatch(1);
    AtomicInteger done = new AtomicInteger();
    for (int i = 0; i < 6; i++) {
      wq.execute(
          () -> {
            await(gate);
            done.incrementAndGet();
          });
    }
    Thread flusher = new Thread(wq::flush);
    flusher.start();
    flusher.join(50);
    assertThat(flusher.isAlive()).as("flush returned with work pending").isTrue();
    gate.countDown();
    flusher.join(TimeUnit.SECONDS.toMillis(30));
    assertThat(flusher.isAlive()).isFalse();
    assertThat(done.get()).isEqualTo(6);
  }

  @Test
  void flushDoesNotWaitForWorkQueuedAfterIt() throws InterruptedException {
    CountDownLatch first = new CountDownLatch(1);
    CountDownLatch later = new CountDownLatch(1);
    CountDownLatch flushed = new CountDownLatch(1);
    wq.execute(() -> await(first));
    Thread flusher =
        new Thread(
            () -> {
              wq.flush();
              flushed.countDown();
            });
    flusher.start();
    // queue later work once the flush has opened its generation (it waits on the first job)
    while (flusher.getState() != Thread.State.WAITING) {
      Thread.onSpinWait();
    }
    wq.execute(() -> await(later));
    first.countDown();
    assertThat(flushed.await(30, TimeUnit.SECONDS)).isTrue();
    later.countDown();
    wq.flush();
  }

  @Test
  void delayedWorkRunsWhenTheClockSaysAndCanBeCalledOff() throws InterruptedException {
    List<String> ran = new CopyOnWriteArrayList<>();
    wq.schedule(() -> ran.add("a"), 1_000);
    Clock.Timeout b = wq.schedule(() -> ran.add("b"), 2_000);
    wq.schedule(() -> ran.add("now"), 0);
    wq.flush();
    assertThat(ran).containsExactly("now");
    clock.advance(1_000);
    wq.flush();
    assertThat(ran).containsExactly("now", "a");
    assertThat(b.cancel()).isTrue();
    clock.advance(5_000);
    wq.flush();
    assertThat(ran).containsExactly("now", "a");
  }

  @Test
  void shutdownDropsDelayedWorkAndRefusesNewWork() {
    List<String> ran = new CopyOnWriteArrayList<>();
    wq.schedule(() -> ran.add("late"), 1_000);
    wq.shutdown();
    assertThat(clock.pendingTimers()).isZero();
    clock.advance(1_000);
    assertThat(ran).isEmpty();
    assertThatThrownBy(() -> wq.execute(() -> {}))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("shut down");
    assertThatThrownBy(() -> wq.schedule(() -> {}, 5)).isInstanceOf(IllegalStateException.class);
    wq.flush(); // nothing pending: returns
  }

  private static void await(CountDownLatch l) {
    try {
      l.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
