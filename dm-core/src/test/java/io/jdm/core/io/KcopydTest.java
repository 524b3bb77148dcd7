package io.jdm.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.IoLimits;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.io.DmIo.Region;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class KcopydTest {
  private static final long MIB = 1 << 20;

  private final List<BlockDevice> open = new ArrayList<>();
  private final List<Kcopyd> clients = new ArrayList<>();
  private final List<InstrumentedDevice> instrumented = new ArrayList<>();

  /** What a job's callback said. */
  record Result(boolean readError, long writeErrors) {}

  @AfterEach
  void closeAll() throws IOException {
    for (InstrumentedDevice d : instrumented) {
      d.releaseAll(); // a test that failed while holding bios must not hang its close
    }
    for (Kcopyd k : clients) {
      k.close();
      assertThat(k.buffersInUse()).as("buffers leaked by %s", k).isZero();
    }
    for (BlockDevice d : open) {
      d.close();
    }
  }

  private Kcopyd.Builder kcopyd(String name) {
    return Kcopyd.builder(name);
  }

  private Kcopyd track(Kcopyd k) {
    clients.add(k);
    return k;
  }

  private MemoryBlockDevice memory(String name, long sectors) {
    MemoryBlockDevice d = MemoryBlockDevice.create(name, sectors);
    open.add(d);
    return d;
  }

  private InstrumentedDevice instrumented(String name, long sectors, IoLimits limits) {
    MemoryBlockDevice m = memory(name + "-mem", sectors);
    InstrumentedDevice d = new InstrumentedDevice(name, m, limits == null ? m.limits() : limits);
    instrumented.add(d);
    return d;
  }

  /**
   * Seeded bytes (one random block repeated) with each sector's number in its first eight, so a
   * misplaced sector shows.
   */
  private static void fill(BlockDevice d, long seed) throws IOException {
    ByteBuffer block = ByteBuffer.allocate((int) Math.min(4 * MIB, d.size()));
    new Random(seed).nextBytes(block.array());
    for (long pos = 0; pos < d.size(); pos += block.capacity()) {
      for (int at = 0; at < block.capacity(); at += Bio.SECTOR_SIZE) {
        block.putLong(at, (pos + at) >>> Bio.SECTOR_SHIFT);
      }
      block.clear();
      d.write(block, pos);
    }
  }

  private static ByteBuffer contents(BlockDevice d, long sector, long sectors) throws IOException {
    ByteBuffer b = ByteBuffer.allocate((int) (sectors << Bio.SECTOR_SHIFT));
    d.read(b, sector << Bio.SECTOR_SHIFT);
    return b.flip();
  }

  private static CompletableFuture<Result> copy(
      Kcopyd k, Region from, List<Region> dests, int flags) {
    CompletableFuture<Result> f = new CompletableFuture<>();
    k.copy(from, dests, flags, (r, w) -> f.complete(new Result(r, w)));
    return f;
  }

  private static CompletableFuture<Result> zero(Kcopyd k, List<Region> dests, int flags) {
    CompletableFuture<Result> f = new CompletableFuture<>();
    k.zero(dests, flags, (r, w) -> f.complete(new Result(r, w)));
    return f;
  }

  private static Result await(CompletableFuture<Result> f)
      throws InterruptedException, ExecutionException, TimeoutException {
    return f.get(2, TimeUnit.MINUTES);
  }

  /** A bounded busy wait (no sleeping) for something another thread brings about. */
  private static void awaitTrue(String what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("never happened: " + what);
      }
      Thread.yield();
    }
  }

  // ---------------------------------------------------------------------------------------------

  @Test
  void copiesOneRegionToSeveralAndReadsTheSourceOnce() throws Exception {
    InstrumentedDevice src = instrumented("src", 8192, null);
    InstrumentedDevice a = instrumented("a", 8192, IoLimits.builder().maxSectors(16).build());
    InstrumentedDevice b = instrumented("b", 8192, null);
    fill(src.inner(), 1);
    Kcopyd k = track(kcopyd("copy").subJobSize(64 * 1024).build());
    Result r =
        await(
            copy(
                k,
                new Region(src, 1000, 3000),
                List.of(new Region(a, 0, 3000), new Region(b, 5000, 3000)),
                0));
    assertThat(r).isEqualTo(new Result(false, 0));
    ByteBuffer expected = contents(src.inner(), 1000, 3000);
    assertThat(contents(a.inner(), 0, 3000)).isEqualTo(expected);
    assertThat(contents(b.inner(), 5000, 3000)).isEqualTo(expected);
    // 3000 sectors in sub-jobs of 128: 24 segments, each read once and written to both (to a in
    // parts of 16: 8 per segment, 4 for the last 56 sectors)
    assertThat(src.count(Bio.Op.READ)).isEqualTo(24);
    assertThat(b.count(Bio.Op.WRITE)).isEqualTo(24);
    assertThat(a.count(Bio.Op.WRITE)).isEqualTo(23 * 8 + 4);
    assertThat(a.violations()).isZero();
    k.flush(); // the job is counted out once its callback has returned
    assertThat(k.jobs()).isZero();
  }

  @Test
  void copiesOneGibToTwoDestinations() throws Exception {
    long sectors = (1L << 30) >>> Bio.SECTOR_SHIFT;
    MemoryBlockDevice src = direct("src", sectors);
    MemoryBlockDevice a = direct("a", sectors);
    MemoryBlockDevice b = direct("b", sectors);
    fill(src, 42);
    Kcopyd k = track(kcopyd("gib").build());
    Result r =
        await(
            copy(
                k,
                new Region(src, 0, sectors),
                List.of(new Region(a, 0, sectors), new Region(b, 0, sectors)),
                0));
    assertThat(r).isEqualTo(new Result(false, 0));
    ByteBuffer x = ByteBuffer.allocateDirect((int) (16 * MIB));
    ByteBuffer y = ByteBuffer.allocateDirect((int) (16 * MIB));
    for (long pos = 0; pos < src.size(); pos += x.capacity()) {
      src.read(x.clear(), pos);
      x.flip();
      for (MemoryBlockDevice d : List.of(a, b)) {
        d.read(y.clear(), pos);
        assertThat(y.flip().mismatch(x)).as("%s at byte %d", d.name(), pos).isEqualTo(-1);
      }
    }
    assertThat(k.buffersHighWater()).isLessThanOrEqualTo(2 * Kcopyd.SPLIT_COUNT);
  }

  private MemoryBlockDevice direct(String name, long sectors) {
    MemoryBlockDevice d =
        MemoryBlockDevice.builder(name, sectors).direct(true).chunkSize(1 << 20).build();
    open.add(d);
    return d;
  }

  @Test
  void bytesInFlightNeverExceedTheBound() throws Exception {
    long seed = Long.getLong("jdm.seed", System.nanoTime());
    Random rnd = new Random(seed);
    int sub = 64 * 1024;
    long bound = 4L * sub;
    long sectors = 16 * MIB >>> Bio.SECTOR_SHIFT;
    InstrumentedDevice src =
        instrumented("src", sectors, IoLimits.builder().maxSectors(64).build());
    InstrumentedDevice a = instrumented("a", sectors, null);
    InstrumentedDevice b = instrumented("b", sectors, IoLimits.builder().maxSectors(32).build());
    fill(src.inner(), seed);
    List<InstrumentedDevice> devs = List.of(src, a, b);
    devs.forEach(d -> d.hold(true));
    Kcopyd k = track(kcopyd("bound").subJobSize(sub).maxBytesInFlight(bound).reserve(2).build());
    long half = sectors / 4;
    CompletableFuture<Result> first =
        copy(
            k,
            new Region(src, 0, half),
            List.of(new Region(a, 0, half), new Region(b, 0, half)),
            0);
    CompletableFuture<Result> second =
        copy(
            k,
            new Region(src, half, half),
            List.of(new Region(a, 2 * half, half), new Region(b, 2 * half, half)),
            0);
    int releases = 0;
    while (!(first.isDone() && second.isDone())) {
      k.flush(); // nothing more can start until a held bio completes
      for (InstrumentedDevice d : devs) {
        assertThat(d.inFlightBytes()).as("seed %d: %s", seed, d.name()).isLessThanOrEqualTo(bound);
      }
      List<InstrumentedDevice> holding = new ArrayList<>();
      for (InstrumentedDevice d : devs) {
        if (d.heldCount() > 0) {
          holding.add(d);
        }
      }
      if (holding.isEmpty()) {
        continue; // the callbacks are on their way
      }
      InstrumentedDevice d = holding.get(rnd.nextInt(holding.size()));
      d.release(rnd.nextInt(d.heldCount()));
      releases++;
    }
    assertThat(await(first)).isEqualTo(new Result(false, 0));
    assertThat(await(second)).isEqualTo(new Result(false, 0));
    for (InstrumentedDevice d : devs) {
      assertThat(d.maxInFlightBytes()).as("seed %d: %s", seed, d.name()).isLessThanOrEqualTo(bound);
      assertThat(d.violations()).isZero();
    }
    assertThat(src.maxInFlightBytes()).isEqualTo(bound); // saturated: the bound is what held it
    assertThat(k.buffersHighWater()).isEqualTo(4);
    assertThat(releases).isGreaterThan(0);
    ByteBuffer expected = contents(src.inner(), 0, 2 * half);
    assertThat(contents(a.inner(), 0, half)).isEqualTo(expected.slice(0, (int) (half << 9)));
    assertThat(contents(b.inner(), 2 * half, half))
        .isEqualTo(expected.slice((int) (half << 9), (int) (half << 9)));
  }

  @Test
  void failingDestinationsAreReportedBitByBit() throws Exception {
    InstrumentedDevice src = instrumented("src", 4096, null);
    InstrumentedDevice good = instrumented("good", 4096, null);
    InstrumentedDevice medium =
        instrumented("medium", 4096, IoLimits.builder().maxSectors(8).build())
            .failRange(1000, 1001, BlockStatus.MEDIUM);
    fill(src.inner(), 3);
    Kcopyd k = track(kcopyd("fail").subJobSize(16 * 1024).build());
    try (DeviceMapper dm = DeviceMapper.create()) {
      BlockDevice error = dm.create("bad", "0 4096 error");
      List<Region> dests =
          List.of(
              new Region(good, 0, 2048), new Region(error, 0, 2048), new Region(medium, 0, 2048));
      Result ignoring = await(copy(k, new Region(src, 0, 2048), dests, Kcopyd.IGNORE_ERROR));
      assertThat(ignoring).isEqualTo(new Result(false, 0b110));
      assertThat(contents(good.inner(), 0, 2048)).isEqualTo(contents(src.inner(), 0, 2048));
      assertThat(good.count(Bio.Op.WRITE)).isEqualTo(64);

      // without IGNORE_ERROR no segment starts after the first failure
      InstrumentedDevice other = instrumented("other", 4096, null);
      Result stopping =
          await(
              copy(
                  k,
                  new Region(src, 0, 2048),
                  List.of(new Region(other, 0, 2048), new Region(error, 0, 2048)),
                  0));
      assertThat(stopping).isEqualTo(new Result(false, 0b10));
      assertThat(other.count(Bio.Op.WRITE)).isBetween(1L, (long) Kcopyd.SPLIT_COUNT);
    }
  }

  @Test
  void anUnreadableSourceIsReportedAndIgnoringItLeavesZeros() throws Exception {
    InstrumentedDevice src =
        instrumented("src", 4096, null).failRange(100, 101, BlockStatus.IOERR); // segment 3
    InstrumentedDevice dst = instrumented("dst", 4096, null);
    fill(src.inner(), 4);
    fill(dst.inner(), 5);
    Kcopyd k = track(kcopyd("read").subJobSize(16 * 1024).build());
    Result r =
        await(
            copy(
                k,
                new Region(src, 0, 1024),
                List.of(new Region(dst, 0, 1024)),
                Kcopyd.IGNORE_ERROR));
    assertThat(r).isEqualTo(new Result(true, 0));
    ByteBuffer got = contents(dst.inner(), 0, 1024);
    ByteBuffer want = contents(src.inner(), 0, 1024);
    assertThat(got.slice(0, 96 * 512)).isEqualTo(want.slice(0, 96 * 512));
    assertThat(got.slice(96 * 512, 32 * 512)).isEqualTo(ByteBuffer.allocate(32 * 512));
    assertThat(got.slice(128 * 512, 896 * 512)).isEqualTo(want.slice(128 * 512, 896 * 512));

    Result stopped =
        await(copy(k, new Region(src, 0, 1024), List.of(new Region(dst, 2048, 1024)), 0));
    assertThat(stopped).isEqualTo(new Result(true, 0));
    assertThat(dst.count(Bio.Op.WRITE)).isLessThan(32 + 32); // the second job stopped early
  }

  @Test
  void zeroingUsesWriteZeroesWhenEveryDestinationHasIt() throws Exception {
    InstrumentedDevice a = instrumented("a", 4096, null);
    InstrumentedDevice b =
        instrumented("b", 4096, IoLimits.builder().maxWriteZeroesSectors(0).maxSectors(8).build());
    fill(a.inner(), 6);
    fill(b.inner(), 7);
    ByteBuffer aBefore = contents(a.inner(), 0, 4096);
    Kcopyd k = track(kcopyd("zero").subJobSize(32 * 1024).build());

    assertThat(await(zero(k, List.of(new Region(a, 100, 1000)), 0)))
        .isEqualTo(new Result(false, 0));
    assertThat(a.count(Bio.Op.WRITE_ZEROES)).isEqualTo(16); // 1000 sectors in 64-sector parts
    assertThat(a.count(Bio.Op.WRITE)).isZero();
    ByteBuffer after = contents(a.inner(), 0, 4096);
    assertThat(after.slice(100 * 512, 1000 * 512)).isEqualTo(ByteBuffer.allocate(1000 * 512));
    assertThat(after.slice(0, 100 * 512)).isEqualTo(aBefore.slice(0, 100 * 512));
    assertThat(after.slice(1100 * 512, 2996 * 512))
        .isEqualTo(aBefore.slice(1100 * 512, 2996 * 512));

    assertThat(await(zero(k, List.of(new Region(a, 2000, 512), new Region(b, 8, 512)), 0)))
        .isEqualTo(new Result(false, 0));
    assertThat(a.count(Bio.Op.WRITE)).isEqualTo(8); // b cannot: zeros are written to both
    assertThat(b.count(Bio.Op.WRITE)).isEqualTo(64);
    assertThat(contents(a.inner(), 2000, 512)).isEqualTo(ByteBuffer.allocate(512 * 512));
    assertThat(contents(b.inner(), 8, 512)).isEqualTo(ByteBuffer.allocate(512 * 512));
    assertThat(b.violations()).isZero();
  }

  @Test
  void aThrottleDelaysIoOnItsClockWithoutBlocking() throws Exception {
    ManualClock clock = new ManualClock();
    Kcopyd.Throttle throttle = new Kcopyd.Throttle(clock, 10);
    InstrumentedDevice src = instrumented("src", 64, null);
    InstrumentedDevice dst = instrumented("dst", 64, null);
    fill(src.inner(), 8);
    src.hold(true);
    Kcopyd k =
        track(kcopyd("slow").subJobSize(4096).maxBytesInFlight(4096).throttle(throttle).build());
    CompletableFuture<Result> f =
        copy(k, new Region(src, 0, 16), List.of(new Region(dst, 0, 16)), 0);
    k.flush();
    assertThat(src.heldCount()).isEqualTo(1); // no time has passed: no I/O time to limit yet
    clock.advance(TimeUnit.MILLISECONDS.toNanos(100));
    src.release(0); // 100 ms of 100 in I/O: 90 ms over a 10% budget
    k.flush();
    int waits = 0;
    while (dst.count(Bio.Op.WRITE) == 0) {
      assertThat(clock.pendingTimers()).isEqualTo(1);
      clock.advance(TimeUnit.MILLISECONDS.toNanos(100));
      k.flush();
      waits++;
    }
    // the write waits until 100 ms of I/O is 10% of the time measured: 1000 ms
    assertThat(waits).isEqualTo(9);
    throttle.set(100);
    src.hold(false);
    while (!f.isDone()) {
      k.flush();
      if (src.heldCount() > 0) {
        src.release(0);
      }
    }
    assertThat(await(f)).isEqualTo(new Result(false, 0));
    assertThat(contents(dst.inner(), 0, 16)).isEqualTo(contents(src.inner(), 0, 16));
  }

  @Test
  void closeWaitsForJobsInFlightAndRefusesNewOnes() throws Exception {
    InstrumentedDevice src = instrumented("src", 1024, null);
    InstrumentedDevice dst = instrumented("dst", 1024, null);
    fill(src.inner(), 9);
    src.hold(true);
    Kcopyd k = kcopyd("closing").subJobSize(8192).build();
    CompletableFuture<Result> f =
        copy(k, new Region(src, 0, 512), List.of(new Region(dst, 0, 512)), 0);
    k.flush();
    assertThat(src.heldCount()).isEqualTo(Kcopyd.SPLIT_COUNT);
    Thread closer = new Thread(k::close, "closer");
    closer.start();
    awaitTrue("close waiting", () -> closer.getState() == Thread.State.WAITING);
    assertThatThrownBy(() -> copy(k, new Region(src, 0, 8), List.of(new Region(dst, 8, 8)), 0))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("kcopyd closing is closed");
    assertThatThrownBy(() -> zero(k, List.of(new Region(dst, 8, 8)), 0))
        .isInstanceOf(IllegalStateException.class);
    assertThat(f).isNotDone();
    assertThat(k.jobs()).isEqualTo(1);
    src.releaseAll();
    closer.join(TimeUnit.MINUTES.toMillis(1));
    assertThat(closer.isAlive()).isFalse();
    assertThat(f).isDone(); // close returned only after the callback
    assertThat(await(f)).isEqualTo(new Result(false, 0));
    assertThat(contents(dst.inner(), 0, 512)).isEqualTo(contents(src.inner(), 0, 512));
    assertThat(k.buffersInUse()).isZero();
    k.close(); // again: nothing to do
  }

  @Test
  void callbacksRunOnTheWorkerAndMayNotCloseIt() throws Exception {
    MemoryBlockDevice d = memory("d", 64);
    Kcopyd k = track(kcopyd("self").build());
    CompletableFuture<Throwable> refused = new CompletableFuture<>();
    AtomicInteger calls = new AtomicInteger();
    k.copy(
        new Region(d, 0, 8),
        List.of(new Region(d, 8, 8)),
        0,
        (r, w) -> {
          calls.incrementAndGet();
          try {
            k.close();
            refused.complete(null);
          } catch (IllegalStateException e) {
            refused.complete(e);
          }
        });
    assertThat(refused.get(1, TimeUnit.MINUTES))
        .hasMessage("kcopyd self: close from its own callback would wait for itself");
    CompletableFuture<Result> empty = zero(k, List.of(new Region(d, 0, 0)), 0);
    assertThat(await(empty)).isEqualTo(new Result(false, 0));
    k.flush();
    assertThat(calls.get()).isEqualTo(1);
    assertThat(k.jobs()).isZero();
  }

  @Test
  void malformedJobsAreRefusedAndStartNothing() {
    InstrumentedDevice d = instrumented("d", 1024, null);
    InstrumentedDevice big =
        instrumented("big", 1024, IoLimits.builder().logicalBlockSize(4096).build());
    Kcopyd k = track(kcopyd("bad").subJobSize(2048).build());
    Region src = new Region(d, 0, 8);
    List<Region> nine = new ArrayList<>();
    for (int i = 0; i < 9; i++) {
      nine.add(new Region(d, 8 * (i + 1), 8));
    }
    assertThatThrownBy(() -> copy(k, src, nine, 0))
        .hasMessage("kcopyd bad: 9 destinations (expected: 1 to 8)");
    assertThatThrownBy(() -> copy(k, src, List.of(), 0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> copy(k, src, List.of(new Region(d, 16, 16)), 0))
        .hasMessage(
            "kcopyd bad: destination 0 (d:16+16) has 16 sectors (expected: the source's 8)");
    assertThatThrownBy(() -> zero(k, List.of(new Region(d, 16, 16), new Region(d, 40, 8)), 0))
        .hasMessage(
            "kcopyd bad: destination 1 (d:40+8) has 8 sectors (expected: the first"
                + " destination's 16)");
    assertThatThrownBy(() -> copy(k, src, List.of(new Region(big, 0, 8)), 0))
        .hasMessage(
            "kcopyd bad: destination 0 (big:0+8) and the sub-job size 2048 must be multiples of"
                + " the logical block size 4096 of big");
    assertThatThrownBy(() -> copy(k, src, List.of(new Region(d, 16, 8)), 2))
        .hasMessage("kcopyd bad: unknown flags 0x2");
    assertThatThrownBy(() -> Kcopyd.builder("x").subJobSize(1000))
        .hasMessage("sub-job size 1000 (expected: a multiple of 512 in [512, 16 MiB])");
    assertThatThrownBy(() -> Kcopyd.builder("x").subJobSize(4096).maxBytesInFlight(2048).build())
        .hasMessage(
            "maxBytesInFlight 2048 < the sub-job size 4096 (expected: room for one sub-job at"
                + " least)");
    assertThatThrownBy(() -> new Kcopyd.Throttle(new ManualClock(), 101))
        .hasMessage("throttle 101 (expected: 0 to 100)");
    assertThat(k.jobs()).isZero();
    assertThat(d.seen()).isEmpty();
    assertThat(big.seen()).isEmpty();
  }

  @Test
  void seededRandomCopiesAndZeroingMatchAReferenceModel() throws Exception {
    long seed = Long.getLong("jdm.seed", System.nanoTime());
    Random rnd = new Random(seed);
    int sectors = 4096;
    InstrumentedDevice[] devs = {
      instrumented("r0", sectors, IoLimits.builder().maxSectors(8).build()),
      instrumented(
          "r1",
          sectors,
          IoLimits.builder().maxSectors(24).chunkSectors(32).maxWriteZeroesSectors(0).build()),
      instrumented("r2", sectors, IoLimits.builder().maxWriteZeroesSectors(16).build()),
    };
    byte[][] model = new byte[devs.length][];
    for (int i = 0; i < devs.length; i++) {
      fill(devs[i].inner(), seed + i);
      model[i] = contents(devs[i].inner(), 0, sectors).array();
    }
    int sub = (1 + rnd.nextInt(16)) * Bio.SECTOR_SIZE;
    Kcopyd k =
        track(
            kcopyd("random")
                .subJobSize(sub)
                .maxBytesInFlight((long) sub * (1 + rnd.nextInt(12)))
                .build());
    for (int batch = 0; batch < 60; batch++) {
      List<long[]> taken = new ArrayList<>(); // {device, from, to}: regions of this batch
      List<CompletableFuture<Result>> running = new ArrayList<>();
      List<Runnable> effects = new ArrayList<>();
      int jobs = 1 + rnd.nextInt(3);
      for (int j = 0; j < jobs; j++) {
        int n = 1 + rnd.nextInt(300);
        boolean zeroing = rnd.nextInt(4) == 0;
        long[] from = zeroing ? null : pick(rnd, devs.length, sectors, n, taken);
        List<long[]> to = new ArrayList<>();
        int dests = 1 + rnd.nextInt(3);
        for (int i = 0; i < dests; i++) {
          long[] r = pick(rnd, devs.length, sectors, n, taken);
          if (r != null) {
            to.add(r);
          }
        }
        if ((!zeroing && from == null) || to.isEmpty()) {
          continue;
        }
        List<Region> regions = new ArrayList<>();
        for (long[] r : to) {
          regions.add(new Region(devs[(int) r[0]], r[1], n));
        }
        byte[] payload =
            zeroing
                ? new byte[n << Bio.SECTOR_SHIFT]
                : Arrays.copyOfRange(
                    model[(int) from[0]],
                    (int) from[1] << Bio.SECTOR_SHIFT,
                    (int) (from[1] + n) << Bio.SECTOR_SHIFT);
        effects.add(
            () -> {
              for (long[] r : to) {
                System.arraycopy(
                    payload, 0, model[(int) r[0]], (int) r[1] << Bio.SECTOR_SHIFT, payload.length);
              }
            });
        running.add(
            zeroing
                ? zero(k, regions, 0)
                : copy(k, new Region(devs[(int) from[0]], from[1], n), regions, 0));
      }
      for (CompletableFuture<Result> f : running) {
        assertThat(await(f)).as("seed %d batch %d", seed, batch).isEqualTo(new Result(false, 0));
      }
      effects.forEach(Runnable::run);
    }
    for (int i = 0; i < devs.length; i++) {
      assertThat(contents(devs[i].inner(), 0, sectors))
          .as("seed %d: %s", seed, devs[i].name())
          .isEqualTo(ByteBuffer.wrap(model[i]));
      assertThat(devs[i].violations()).as("seed %d", seed).isZero();
    }
  }

  /** A region of {@code n} sectors overlapping none taken so far in the batch, or null. */
  private static long[] pick(Random rnd, int devices, int sectors, int n, List<long[]> taken) {
    for (int attempt = 0; attempt < 20; attempt++) {
      long[] r = new long[] {rnd.nextInt(devices), rnd.nextInt(sectors - n), 0};
      r[2] = r[1] + n;
      boolean free = true;
      for (long[] t : taken) {
        if (t[0] == r[0] && t[1] < r[2] && r[1] < t[2]) {
          free = false;
          break;
        }
      }
      if (free) {
        taken.add(r);
        return r;
      }
    }
    return null;
  }
}
