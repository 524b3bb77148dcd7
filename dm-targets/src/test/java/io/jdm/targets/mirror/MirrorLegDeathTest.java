package io.jdm.targets.mirror;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.BlockIOException;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.SuspendMode;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A leg dies under concurrent load. The legs are mapped devices ({@code linear} over memory); in
 * the middle of a run of verified writes and reads, one leg's table is replaced by {@code error},
 * as a disk that drops off the bus. Writers own disjoint blocks and stamp each write with its block
 * and a version, so every read can be checked; a write counts as acknowledged when it returned.
 *
 * <ul>
 *   <li>Without {@code handle_errors} every write goes on succeeding on the survivor.
 *   <li>With it, the failure raises an event ({@code jdmsetup wait} wakes), writes that failed on
 *       the dead leg are held; the test does what lvm does: a {@code noflush} suspend, a {@code
 *       linear} table over the survivor, resume; the held writes are reissued there and succeed.
 * </ul>
 *
 * <p>(The default leg dying without {@code handle_errors} is left out on purpose: as in the kernel,
 * the default leg then never moves, so writes and reads of regions that went out of sync are sent
 * to the dead leg and fail; see {@code MirrorBehaviourTest}.)
 *
 * <p>Each writer also reads back its own blocks now and then. At the end every acknowledged write
 * reads back, through the mapped device and straight from the survivor's disk. Seed from {@code
 * -Djdm.seed}, printed with every failure.
 */
class MirrorLegDeathTest {
  private static final long SEED = Long.getLong("jdm.seed", 20261203L);
  private static final int BLOCK = 4096;
  private static final int BLOCKS = 512;
  private static final long SECTORS = BLOCKS * (BLOCK / 512L);
  private static final int WRITERS = 4;
  private static final int KILL_AT = 1500;
  private static final int TOTAL = 4000;

  private static void stamp(ByteBuffer b, int block, long version) {
    for (int i = 0; i < BLOCK; i += 16) {
      b.putInt(i, block);
      b.putLong(i + 4, version);
      b.putInt(i + 12, i);
    }
  }

  /** The version in a block, or -1 if it is not a whole stamp of {@code block}. */
  private static long version(ByteBuffer b, int block) {
    long v = b.getLong(4);
    for (int i = 0; i < BLOCK; i += 16) {
      if (b.getInt(i) != block || b.getLong(i + 4) != v || b.getInt(i + 12) != i) {
        return b.getInt(0) == 0 && v == 0 ? 0 : -1;
      }
    }
    return v;
  }

  @ParameterizedTest(name = "leg {0} dies, handle_errors {1}")
  @CsvSource({"1, false", "1, true", "0, true"})
  void noAcknowledgedWriteIsLostWhenALegDies(int dying, boolean handleErrors) throws Exception {
    String seed = "seed " + SEED + " (-Djdm.seed)";
    try (DeviceMapper dm = DeviceMapper.builder().seed(SEED).build();
        MemoryBlockDevice memA = MemoryBlockDevice.create("memA", SECTORS);
        MemoryBlockDevice memB = MemoryBlockDevice.create("memB", SECTORS)) {
      dm.registerDevice("memA", memA);
      dm.registerDevice("memB", memB);
      MappedDevice[] legs = {
        dm.create("legA", "0 " + SECTORS + " linear memA 0"),
        dm.create("legB", "0 " + SECTORS + " linear memB 0")
      };
      MemoryBlockDevice survivor = dying == 0 ? memB : memA;
      String survivorLeg = dying == 0 ? "legB" : "legA";
      MappedDevice md =
          dm.create(
              "m",
              "0 "
                  + SECTORS
                  + " mirror core 2 64 nosync 2 legA 0 legB 0"
                  + (handleErrors ? " 1 handle_errors" : ""));
      MirrorTarget target = (MirrorTarget) md.liveTable().orElseThrow().target(0);
      target.flushWorker();
      int events = md.eventNr();

      AtomicLongArray acked = new AtomicLongArray(BLOCKS);
      AtomicInteger done = new AtomicInteger();
      AtomicInteger badReads = new AtomicInteger();
      ExecutorService pool = Executors.newFixedThreadPool(WRITERS);
      List<Future<?>> work = new ArrayList<>();
      for (int w = 0; w < WRITERS; w++) {
        int me = w;
        work.add(
            pool.submit(
                () -> {
                  SplittableRandom rnd = new SplittableRandom(SEED + me);
                  ByteBuffer buf = ByteBuffer.allocate(BLOCK);
                  long version = 0;
                  while (done.get() < TOTAL) {
                    int block = rnd.nextInt(BLOCKS / WRITERS) * WRITERS + me;
                    if (rnd.nextInt(4) == 0) {
                      // read back one of this writer's blocks: nobody else writes it
                      buf.clear();
                      md.read(buf, (long) block * BLOCK);
                      if (version(buf, block) != acked.get(block)) {
                        badReads.incrementAndGet();
                      }
                    }
                    version++;
                    stamp(buf, block, version);
                    buf.clear();
                    md.write(buf, (long) block * BLOCK); // throws on any error
                    acked.set(block, version);
                    done.incrementAndGet();
                  }
                  return null;
                }));
      }
      while (done.get() < KILL_AT) {
        LockSupport.parkNanos(200_000);
      }
      legs[dying].load("0 " + SECTORS + " error");
      legs[dying].resume();
      if (handleErrors) {
        assertThat(md.awaitEvent(events, Duration.ofSeconds(30)))
            .as("an event for the failure, " + seed)
            .isGreaterThan(events);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (target.heldWrites() == 0 && System.nanoTime() < deadline) {
          LockSupport.parkNanos(200_000);
        }
        assertThat(target.heldWrites()).as("writes held, " + seed).isPositive();
        String status = md.status();
        assertThat(status).as(seed).contains(dying == 0 ? " 1 DA " : " 1 AD ");
        md.suspend(SuspendMode.NOFLUSH);
        md.load("0 " + SECTORS + " linear " + survivorLeg + " 0");
        md.resume();
      }
      for (int i = 0; i < WRITERS; i++) {
        work.get(i).get(60, TimeUnit.SECONDS);
      }
      pool.shutdown();
      assertThat(badReads.get()).as("reads that missed an acknowledged write, " + seed).isZero();
      if (!handleErrors) {
        assertThat(md.status()).as(seed).contains(dying == 0 ? " 1 DA " : " 1 AD ");
        assertThat(md.eventNr()).as("no event without handle_errors, " + seed).isEqualTo(events);
      }

      ByteBuffer buf = ByteBuffer.allocate(BLOCK);
      for (int block = 0; block < BLOCKS; block++) {
        long want = acked.get(block);
        buf.clear();
        md.read(buf, (long) block * BLOCK);
        assertThat(version(buf, block))
            .as("block %d through the device, %s", block, seed)
            .isEqualTo(want);
        buf.clear();
        survivor.read(buf, (long) block * BLOCK);
        assertThat(version(buf, block))
            .as("block %d on the survivor, %s", block, seed)
            .isEqualTo(want);
      }
      dm.remove("m");
    } catch (BlockIOException e) {
      throw new AssertionError("an I/O failed, seed " + SEED, e);
    }
  }
}
