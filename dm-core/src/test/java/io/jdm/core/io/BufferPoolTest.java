package io.jdm.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class BufferPoolTest {

  @Test
  void theReserveIsMadeUpFrontAndServedWithoutNewBuffers() {
    BufferPool pool = BufferPool.builder("p", 4096).reserve(3).maximum(5).build();
    assertThat(pool.created()).isEqualTo(3);
    assertThat(pool.idle()).isEqualTo(3);
    List<ByteBuffer> out = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      ByteBuffer b = pool.tryAllocate();
      assertThat(b).isNotNull();
      assertThat(b.isDirect()).isTrue();
      assertThat(b.capacity()).isEqualTo(4096);
      out.add(b);
    }
    assertThat(pool.created()).isEqualTo(3);
    assertThat(pool.idle()).isZero();
    assertThat(pool.inUse()).isEqualTo(3);
    out.forEach(pool::release);
    assertThat(pool.idle()).isEqualTo(3);
    assertThat(pool.inUse()).isZero();
  }

  @Test
  void beyondTheReserveUpToTheMaximumThenNothing() throws InterruptedException {
    BufferPool pool = BufferPool.builder("p", 512).reserve(1).maximum(3).build();
    ByteBuffer a = pool.tryAllocate();
    ByteBuffer b = pool.tryAllocate();
    ByteBuffer c = pool.tryAllocate();
    assertThat(List.of(a, b, c)).doesNotContainNull();
    assertThat(a).isNotSameAs(b).isNotSameAs(c);
    assertThat(b).isNotSameAs(c);
    assertThat(pool.created()).isEqualTo(3);
    assertThat(pool.tryAllocate()).isNull();
    assertThat(pool.allocate(0, TimeUnit.SECONDS)).isNull();
    assertThat(pool.allocate(1, TimeUnit.MILLISECONDS)).isNull();
    assertThat(pool.inUse()).isEqualTo(3);
    assertThat(pool.highWater()).isEqualTo(3);
    pool.release(b);
    assertThat(pool.idle()).isEqualTo(1); // maxIdle defaults to the reserve: one kept
    pool.release(a);
    assertThat(pool.idle()).isEqualTo(1); // the second is left to the collector
    assertThat(pool.tryAllocate()).isSameAs(b);
    pool.release(b);
    pool.release(c);
    assertThat(pool.inUse()).isZero();
    assertThat(pool.highWater()).isEqualTo(3);
  }

  @Test
  void maxIdleKeepsMoreForReuse() {
    BufferPool pool = BufferPool.builder("p", 512).maxIdle(2).build();
    assertThat(pool.created()).isZero();
    ByteBuffer a = pool.tryAllocate();
    ByteBuffer b = pool.tryAllocate();
    ByteBuffer c = pool.tryAllocate();
    pool.release(a);
    pool.release(b);
    pool.release(c);
    assertThat(pool.idle()).isEqualTo(2);
    pool.tryAllocate();
    pool.tryAllocate();
    assertThat(pool.created()).isEqualTo(3);
    pool.tryAllocate();
    assertThat(pool.created()).isEqualTo(4);
  }

  @Test
  void allocateWaitsForARelease() throws Exception {
    BufferPool pool = BufferPool.builder("p", 512).maximum(1).maxIdle(1).build();
    ByteBuffer held = pool.tryAllocate();
    AtomicReference<Thread> waiter = new AtomicReference<>();
    CompletableFuture<ByteBuffer> got =
        CompletableFuture.supplyAsync(
            () -> {
              waiter.set(Thread.currentThread());
              try {
                return pool.allocate();
              } catch (InterruptedException e) {
                throw new AssertionError(e);
              }
            });
    awaitWaiting(pool, waiter);
    assertThat(got).isNotDone();
    pool.release(held);
    assertThat(got.get(1, TimeUnit.MINUTES)).isSameAs(held);
    assertThat(pool.inUse()).isEqualTo(1);
    assertThat(pool.waits()).isEqualTo(1);
    pool.release(held);
    assertThat(pool.inUse()).isZero();
  }

  @Test
  void anInterruptedWaitAllocatesNothing() throws Exception {
    BufferPool pool = BufferPool.builder("p", 512).maximum(1).build();
    ByteBuffer held = pool.tryAllocate();
    AtomicReference<Thread> waiter = new AtomicReference<>();
    CompletableFuture<Throwable> outcome =
        CompletableFuture.supplyAsync(
            () -> {
              waiter.set(Thread.currentThread());
              try {
                pool.allocate(1, TimeUnit.DAYS);
                return null;
              } catch (InterruptedException e) {
                return e;
              }
            });
    awaitWaiting(pool, waiter);
    waiter.get().interrupt();
    assertThat(outcome.get(1, TimeUnit.MINUTES)).isInstanceOf(InterruptedException.class);
    assertThat(pool.inUse()).isEqualTo(1);
    pool.release(held);
    assertThat(pool.inUse()).isZero();
    assertThat(pool.tryAllocate()).isNotNull();
  }

  /** Until {@code waiter} is parked inside the pool; a bounded busy wait, no sleeping. */
  private static void awaitWaiting(BufferPool pool, AtomicReference<Thread> waiter) {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
    while (true) {
      Thread t = waiter.get();
      if (pool.waits() > 0 && t != null) {
        Thread.State s = t.getState();
        if (s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING) {
          return;
        }
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("the allocating thread never waited");
      }
      Thread.yield();
    }
  }

  @Test
  void buffersComeBackClearedOrZeroedAsAsked() {
    BufferPool plain = BufferPool.builder("plain", 1024).reserve(1).build();
    ByteBuffer b = plain.tryAllocate();
    b.put(100, (byte) 1).position(7).limit(9).order(ByteOrder.LITTLE_ENDIAN);
    plain.release(b);
    ByteBuffer again = plain.tryAllocate();
    assertThat(again).isSameAs(b);
    assertThat(again.position()).isZero();
    assertThat(again.limit()).isEqualTo(1024);
    assertThat(again.order()).isEqualTo(ByteOrder.BIG_ENDIAN);
    assertThat(again.get(100)).isEqualTo((byte) 1); // not zeroed: what the last user left
    plain.release(again);

    BufferPool zeroed =
        BufferPool.builder("zeroed", 20000).reserve(1).direct(false).zeroed(true).build();
    ByteBuffer z = zeroed.tryAllocate();
    assertThat(z.isDirect()).isFalse();
    new Random(1).nextBytes(z.array());
    zeroed.release(z);
    ByteBuffer z2 = zeroed.tryAllocate();
    assertThat(z2).isSameAs(z);
    assertThat(z2.array()).containsOnly(0);
    zeroed.release(z2);
  }

  @Test
  void foreignBuffersAndExtraReleasesAreRefused() {
    BufferPool pool = BufferPool.builder("p", 1024).reserve(1).build();
    assertThatThrownBy(() -> pool.release(ByteBuffer.allocate(1024)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "not a buffer of pool p: heap buffer of capacity 1024 (expected: direct, capacity"
                + " 1024)");
    ByteBuffer b = pool.tryAllocate();
    assertThatThrownBy(() -> pool.release(b.slice(0, 512)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(pool.inUse()).isEqualTo(1);
    pool.release(b);
    assertThatThrownBy(() -> pool.release(b))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("pool p: released more buffers than allocated");
    assertThat(pool.inUse()).isZero();
    assertThat(pool.idle()).isEqualTo(1);
  }

  @Test
  void badOptionsNameTheRule() {
    assertThatThrownBy(() -> BufferPool.builder("p", 0))
        .hasMessage("buffer size 0 (expected: > 0)");
    assertThatThrownBy(() -> BufferPool.builder("p", 512).reserve(3).maximum(2).build())
        .hasMessage("reserve 3 > maximum 2 of pool p");
    assertThatThrownBy(() -> BufferPool.builder("p", 512).reserve(3).maxIdle(2).build())
        .hasMessage("maxIdle 2 < reserve 3 of pool p");
    assertThatThrownBy(() -> BufferPool.builder("p", 512).maximum(0))
        .hasMessage("maximum 0 (expected: >= 1)");
    assertThatThrownBy(() -> BufferPool.builder("p", 512).reserve(-1))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void concurrentUseNeverExceedsTheMaximumAndLeaksNothing()
      throws InterruptedException, ExecutionException {
    long seed = Long.getLong("jdm.seed", System.nanoTime());
    int maximum = 6;
    BufferPool pool = BufferPool.builder("p", 512).reserve(2).maximum(maximum).maxIdle(4).build();
    AtomicInteger out = new AtomicInteger();
    AtomicInteger worst = new AtomicInteger();
    Set<ByteBuffer> handedOut =
        Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));
    List<CompletableFuture<Void>> workers = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      Random rnd = new Random(seed + t);
      workers.add(
          CompletableFuture.runAsync(
              () -> {
                List<ByteBuffer> mine = new ArrayList<>();
                for (int i = 0; i < 20_000; i++) {
                  if (!mine.isEmpty() && (mine.size() == 3 || rnd.nextBoolean())) {
                    ByteBuffer b = mine.remove(rnd.nextInt(mine.size()));
                    handedOut.remove(b);
                    out.decrementAndGet();
                    pool.release(b);
                    continue;
                  }
                  ByteBuffer b;
                  try {
                    // block only with empty hands, or the workers could wait for each other
                    b = mine.isEmpty() && rnd.nextBoolean() ? pool.allocate() : pool.tryAllocate();
                  } catch (InterruptedException e) {
                    throw new AssertionError(e);
                  }
                  if (b != null) {
                    worst.accumulateAndGet(out.incrementAndGet(), Math::max);
                    if (!handedOut.add(b)) {
                      throw new AssertionError("one buffer handed to two users");
                    }
                    mine.add(b);
                  }
                }
                mine.forEach(
                    b -> {
                      handedOut.remove(b);
                      out.decrementAndGet();
                      pool.release(b);
                    });
              }));
    }
    for (CompletableFuture<Void> w : workers) {
      try {
        w.get();
      } catch (ExecutionException e) {
        throw new AssertionError("seed " + seed, e);
      }
    }
    assertThat(worst.get()).as("seed %d", seed).isLessThanOrEqualTo(maximum);
    assertThat(pool.highWater()).as("seed %d", seed).isLessThanOrEqualTo(maximum);
    assertThat(pool.inUse()).isZero();
    assertThat(pool.idle()).isBetween(2, 4);
  }
}
