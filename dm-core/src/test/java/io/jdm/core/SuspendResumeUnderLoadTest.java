package io.jdm.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Verified writes and reads from several threads while another thread loops load, suspend, resume,
 * swapping between two equivalent tables of a spy target that records every map and end-I/O: no I/O
 * is lost or failed, none is mapped while the device is suspended, and none reaches a target after
 * its table was destroyed. The swap count bounds the test, not a clock.
 */
class SuspendResumeUnderLoadTest {
  private static final int SWAPS = 1000;
  private static final int THREADS = 3;

  /** {@code spy <dev> <offset>}: linear, watching the device it serves. */
  private final class Spy implements EndIoTarget {
    final BlockDevice dev;
    final long begin;
    final long offset;
    volatile boolean closed;

    Spy(BlockDevice dev, long begin, long offset) {
      this.dev = dev;
      this.begin = begin;
      this.offset = offset;
    }

    @Override
    public MapResult map(Bio bio) {
      maps.incrementAndGet();
      check("map");
      bio.remap(dev, offset + (bio.sector() - begin));
      return MapResult.REMAPPED;
    }

    @Override
    public EndIoResult endIo(Bio bio, BlockStatus status) {
      check("endIo");
      return EndIoResult.DONE;
    }

    private void check(String what) {
      if (closed) {
        violations.add(what + " on a closed target");
      }
      MappedDevice md = device;
      if (md != null && md.isSuspended()) {
        violations.add(what + " while suspended");
      }
    }

    @Override
    public void close() {
      if (closed) {
        violations.add("closed twice");
      }
      closed = true;
      closes.incrementAndGet();
    }

    @Override
    public int numFlushBios() {
      return 1;
    }
  }

  private final Queue<String> violations = new ConcurrentLinkedQueue<>();
  private final AtomicLong maps = new AtomicLong();
  private final AtomicInteger creates = new AtomicInteger();
  private final AtomicInteger closes = new AtomicInteger();
  private volatile MappedDevice device;

  private TargetType spyType() {
    return TestTargets.type(
        "spy",
        Set.of(),
        (ctx, begin, length, args) -> {
          creates.incrementAndGet();
          return new Spy(ctx.getDevice(args[0]).bdev(), begin, Long.parseLong(args[1]));
        });
  }

  @ParameterizedTest
  @EnumSource(SuspendMode.class)
  void noIoIsLostFailedOrMisdirected(SuspendMode mode) throws Exception {
    TargetRegistry registry = TargetRegistry.builtins();
    registry.register(spyType());
    long sectors = 3 * 1024;
    MemoryBlockDevice disk = MemoryBlockDevice.create("disk", sectors);
    String one = "0 " + sectors + " spy disk 0";
    String two = "0 1000 spy disk 0\n1000 " + (sectors - 1000) + " spy disk 1000";
    try (DeviceMapper dm = DeviceMapper.builder().registry(registry).build()) {
      dm.registerDevice("disk", disk);
      MappedDevice md = dm.create("vol", one);
      device = md;
      AtomicBoolean stop = new AtomicBoolean();
      ExecutorService pool = Executors.newFixedThreadPool(THREADS);
      List<Future<Integer>> workers = new ArrayList<>();
      long region = sectors / THREADS;
      for (int t = 0; t < THREADS; t++) {
        long lo = t * region;
        Random rnd = new Random(1234 + t);
        workers.add(pool.submit(() -> verifiedIo(md, lo, region, rnd, stop)));
      }
      for (int i = 0; i < SWAPS; i++) {
        md.load(i % 2 == 0 ? two : one);
        if (i % 4 != 0) {
          md.suspend(mode); // else resume suspends by itself
        }
        md.resume();
        assertThat(md.isSuspended()).isFalse();
      }
      stop.set(true);
      int ops = 0;
      for (Future<Integer> w : workers) {
        ops += w.get(5, TimeUnit.MINUTES);
      }
      pool.shutdown();
      assertThat(pool.awaitTermination(1, TimeUnit.MINUTES)).isTrue();
      assertThat(violations).isEmpty();
      assertThat(ops).isGreaterThanOrEqualTo(THREADS * 100);
      assertThat(maps.get()).isPositive();
      assertThat(md.inFlight()).isZero();
      int live = md.liveTable().orElseThrow().targetCount();
      assertThat(closes.get()).isEqualTo(creates.get() - live);
    }
    assertThat(closes.get()).isEqualTo(creates.get());
    disk.close();
  }

  /** Writes and reads back random blocks in its own region until stopped; returns the count. */
  private int verifiedIo(MappedDevice md, long lo, long region, Random rnd, AtomicBoolean stop)
      throws IOException {
    Map<Long, Byte> written = new HashMap<>();
    int ops = 0;
    while (!stop.get() || ops < 100) {
      long sector = lo + rnd.nextInt((int) region - 16);
      int count = 1 + rnd.nextInt(16);
      if (rnd.nextBoolean()) {
        byte v = (byte) rnd.nextInt();
        ByteBuffer b = ByteBuffer.allocate(count * 512);
        for (int i = 0; i < b.capacity(); i++) {
          b.put(i, v);
        }
        md.write(b, sector * 512, rnd.nextInt(8) == 0 ? Bio.FUA | Bio.PREFLUSH : 0);
        for (int i = 0; i < count; i++) {
          written.put(sector + i, v);
        }
      } else {
        ByteBuffer b = ByteBuffer.allocate(count * 512);
        md.read(b, sector * 512);
        for (int i = 0; i < count; i++) {
          byte want = written.getOrDefault(sector + i, (byte) 0);
          byte got = b.get(i * 512 + rnd.nextInt(512));
          if (got != want) {
            violations.add("sector " + (sector + i) + ": read " + got + ", wrote " + want);
          }
        }
      }
      if (rnd.nextInt(20) == 0) {
        md.flush();
      }
      ops++;
    }
    return ops;
  }
}
