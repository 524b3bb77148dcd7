package io.jdm.core.region;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.dirtylog.InstrumentedDevice;
import io.jdm.core.dirtylog.LogFixture;
import io.jdm.core.region.RegionHash.WriteBatch;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Writers on three threads start seeded-random batches through a region hash over a {@code disk}
 * log while a worker thread runs the mirror's pass (update states, recover regions, resubmit held
 * writes) in a loop, and some writes "fail on a leg" so regions keep going out of sync. Hooks on
 * the devices check, as the I/O happens:
 *
 * <ul>
 *   <li>no data write goes to a region the log on stable storage (its last flushed image) has
 *       clean;
 *   <li>no log image written has a region clean while a data write to it is in flight;
 *   <li>no region is handed out for recovery with a write in flight, and no write reaches a region
 *       while it is being recovered;
 * </ul>
 *
 * and at the end that every write completed exactly once and nothing is left pending.
 */
class RegionHashConcurrencyTest {
  private static final long SEED = 0x5EED_0F_10L;
  private static final int REGIONS = 40;
  private static final int WRITERS = 3;
  private static final int WRITES_PER_WRITER = 4000;

  private final Queue<String> violations = new ConcurrentLinkedQueue<>();
  private final AtomicIntegerArray inFlight = new AtomicIntegerArray(REGIONS);
  private final AtomicIntegerArray recovering = new AtomicIntegerArray(REGIONS);
  private final AtomicLong completions = new AtomicLong();
  private final AtomicLong recoveries = new AtomicLong();
  private final AtomicLong heldWrites = new AtomicLong();
  private final AtomicLong batches = new AtomicLong();
  private final java.util.concurrent.atomic.AtomicInteger writing =
      new java.util.concurrent.atomic.AtomicInteger(WRITERS);
  private final Queue<Bio> held = new ConcurrentLinkedQueue<>();
  private volatile byte[] lastWritten;
  private volatile byte[] durable;
  private RegionHash rh;
  private InstrumentedDevice data;

  private static boolean clean(byte[] bitset, int region) {
    return (bitset[region >>> 3] & (1 << (region & 7))) != 0;
  }

  private void violation(String what) {
    if (violations.size() < 20) {
      violations.add(what + " [seed " + SEED + "]");
    }
  }

  @Test
  void theLogIsAlwaysAheadOfTheDataAndRecoveryNeverOverlapsAWrite() throws Exception {
    try (LogFixture fx = new LogFixture()) {
      InstrumentedDevice logDev = fx.device("log", 8, 512);
      logDev.beforeSubmit =
          bio -> {
            if (bio.op() == Bio.Op.WRITE) {
              byte[] image = new byte[8];
              bio.data().get(bio.dataOffset() + 1024, image);
              for (int r = 0; r < REGIONS; r++) {
                if (clean(image, r) && inFlight.get(r) > 0) {
                  violation("log written with region " + r + " clean while a write to it is out");
                }
              }
              lastWritten = image;
            } else if (bio.op() == Bio.Op.FLUSH) {
              durable = lastWritten;
            }
          };
      data = new InstrumentedDevice("data", REGIONS * 8, 512, new InstrumentedDevice.Journal());
      data.beforeSubmit =
          bio -> {
            int r = (int) (bio.sector() >>> 3);
            if (clean(durable, r)) {
              violation("data write to region " + r + " while the durable log has it clean");
            }
            if (recovering.get(r) != 0) {
              violation("data write to region " + r + " while it is being recovered");
            }
          };
      fx.create("m", REGIONS * 8, "disk", "log", "8"); // a new log: all out of sync
      rh =
          RegionHash.create(
              fx.log,
              0,
              1,
              new RegionHash.Callbacks() {
                @Override
                public void dispatchBios(List<Bio> bios) {
                  heldWrites.addAndGet(bios.size());
                  held.addAll(bios);
                }

                @Override
                public void wakeupWorkers() {}

                @Override
                public void wakeupAllRecoveryWaiters() {}
              });
      rh.startRecovery();

      List<Thread> writers = new ArrayList<>();
      List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
      for (int t = 0; t < WRITERS; t++) {
        Random rnd = new Random(SEED + t);
        Thread w = new Thread(() -> write(rnd), "writer-" + t);
        w.setUncaughtExceptionHandler((th, e) -> errors.add(e));
        writers.add(w);
        w.start();
      }
      long total = (long) WRITERS * WRITES_PER_WRITER;
      Thread worker =
          new Thread(
              () -> {
                try {
                  work(total);
                } catch (IOException e) {
                  throw new AssertionError(e);
                }
              },
              "worker");
      worker.setUncaughtExceptionHandler((th, e) -> errors.add(e));
      worker.start();
      for (Thread w : writers) {
        w.join(TimeUnit.MINUTES.toMillis(2));
      }
      worker.join(TimeUnit.MINUTES.toMillis(2));
      assertThat(errors).as("seed %d", SEED).isEmpty();
      assertThat(worker.isAlive()).as("the worker finished (seed %d)", SEED).isFalse();
      assertThat(violations).isEmpty();
      assertThat(completions.get()).isEqualTo(total);
      // the run exercised what it checks: regions recovered, writes held meanwhile (a region
      // whose write fails on a leg while it waits for recovery is dropped from it, as in the
      // kernel, so not every region need be recovered)
      assertThat(recoveries.get()).isGreaterThanOrEqualTo(REGIONS / 2);
      assertThat(heldWrites.get()).isPositive();
      // as the mirror's presuspend: stop recovery while the worker finishes what is in flight
      Thread stopper = new Thread(rh::stopRecovery, "stop-recovery");
      stopper.start();
      while (rh.recoveryInFlight() > 0 && stopper.isAlive()) {
        pass();
      }
      stopper.join(TimeUnit.MINUTES.toMillis(1));
      assertThat(stopper.isAlive()).as("recovery stopped (seed %d)", SEED).isFalse();
      rh.updateStates(false);
      assertThat(held).isEmpty();
      for (int r = 0; r < REGIONS; r++) {
        assertThat(inFlight.get(r)).isZero();
      }
      fx.dm.remove("m");
      rh.close(); // throws if anything is still pending
    } finally {
      if (data != null) {
        data.close();
      }
    }
  }

  /** One writer: batches of 1 to 4 one-sector writes to random regions. */
  private void write(Random rnd) {
    int left = WRITES_PER_WRITER;
    while (left > 0) {
      int n = Math.min(left, 1 + rnd.nextInt(4));
      List<Bio> batch = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        long sector = rnd.nextInt(REGIONS) * 8L + rnd.nextInt(8);
        boolean legFails = rnd.nextInt(40) == 0;
        batch.add(Bio.write(sector, ByteBuffer.allocate(512), b -> done(b, legFails)));
      }
      send(rh.startWrites(batch));
      batches.incrementAndGet();
      left -= n;
    }
    writing.decrementAndGet();
  }

  private void send(WriteBatch batch) {
    if (batch.logFailure() != null || !batch.requeue().isEmpty()) {
      violation("unexpected " + batch);
    }
    for (List<Bio> l : List.of(batch.sync(), batch.nosync())) {
      for (Bio b : l) {
        inFlight.incrementAndGet((int) rh.bioToRegion(b));
        b.submit(data);
      }
    }
  }

  private void done(Bio b, boolean legFails) {
    if (b.status() != BlockStatus.OK) {
      violation("write failed: " + b);
    }
    inFlight.decrementAndGet((int) rh.bioToRegion(b));
    if (legFails) {
      rh.markNosync(b);
    }
    rh.endWrite(b);
    completions.incrementAndGet();
  }

  /** The mirror's worker, until every write has completed. */
  private void work(long total) throws IOException {
    while (completions.get() < total) {
      pass();
      Thread.yield();
    }
    // then recover what is left, as kmirrord would
    while (pass() || rh.recoveryInFlight() > 0) {
      Thread.yield();
    }
  }

  /**
   * One pass of the mirror's worker: update states, recover, resubmit held writes. Returns whether
   * it recovered a region.
   */
  private boolean pass() throws IOException {
    boolean recovered = false;
    rh.updateStates(false);
    rh.recoveryPrepare();
    Region r;
    while ((r = rh.recoveryStart()) != null) {
      int key = (int) r.key();
      if (inFlight.get(key) != 0) {
        violation("region " + key + " handed out for recovery with a write in flight");
      }
      recovering.set(key, 1);
      // the copy takes a while: writers start 20 more batches meanwhile, some for this region
      long until = batches.get() + 20;
      while (batches.get() < until && writing.get() > 0) {
        Thread.onSpinWait();
      }
      recovering.set(key, 0);
      recoveries.incrementAndGet();
      rh.recoveryEnd(r, true);
      recovered = true;
    }
    List<Bio> again = new ArrayList<>();
    Bio b;
    while ((b = held.poll()) != null) {
      again.add(b);
    }
    if (!again.isEmpty()) {
      send(rh.startWrites(again));
    }
    return recovered;
  }
}
