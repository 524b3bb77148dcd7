package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.DeviceResolver;
import io.jdm.core.IoLimits;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.TargetRegistry;
import io.jdm.nbd.NbdBlockDevice;
import io.jdm.nbd.NbdDeviceResolver;
import io.jdm.nbd.NbdExports;
import io.jdm.nbd.NbdReconnect;
import io.jdm.nbd.NbdServer;
import io.jdm.nbd.NbdUri;
import io.jdm.targets.multipath.MultipathTargetType;
import io.jdm.testkit.BioTracker;
import io.jdm.testkit.ManualClock;
import java.io.IOException;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A multipath device whose two paths are NBD connections (table paths {@code nbd+unix://...}
 * through {@link NbdDeviceResolver}) to two jdm NBD servers exporting the same storage, the NBD
 * devices reconnecting by themselves ({@link NbdReconnect}) and the multipath type checking failed
 * paths ({@link MultipathTargetType#withPathChecker}), both on the device mapper's {@link
 * ManualClock}. A server stops under load: no error reaches the writers and the path shows {@code
 * F}; the server comes back, the NBD device reconnects and the path checker reinstates the path,
 * with no message. With both servers gone and {@code queue_if_no_path}, I/O waits until one is
 * back; {@code fail_if_no_path} fails what waits.
 */
class MultipathOverNbdTest {
  private static final Duration CHECK = Duration.ofSeconds(5);
  private static final NbdReconnect RECONNECT =
      new NbdReconnect(Duration.ofSeconds(1), Duration.ofSeconds(4));

  @TempDir Path tmp;

  /** The storage as one server sees it, counting the bios that reach it. */
  private static final class Counting implements BlockDevice {
    private final BlockDevice lun;
    final AtomicInteger submitted = new AtomicInteger();

    Counting(BlockDevice lun) {
      this.lun = lun;
    }

    @Override
    public String name() {
      return lun.name();
    }

    @Override
    public long sectors() {
      return lun.sectors();
    }

    @Override
    public IoLimits limits() {
      return lun.limits();
    }

    @Override
    public boolean isReadOnly() {
      return false;
    }

    @Override
    public void submit(Bio bio) {
      submitted.incrementAndGet();
      lun.submit(bio);
    }

    @Override
    public void close() {}
  }

  /** One server: its socket, and the bios that reached it since it last started. */
  private static final class Server {
    final SocketAddress at;
    final BlockDevice lun;
    Counting counting;
    NbdServer nbd;

    Server(BlockDevice lun, SocketAddress at) throws IOException {
      this.lun = lun;
      this.at = at;
      start();
    }

    void start() throws IOException {
      counting = new Counting(lun);
      nbd = NbdServer.create(NbdExports.of("lun", counting));
      nbd.listen(at);
    }

    int submitted() {
      return counting.submitted.get();
    }

    void stop() throws IOException {
      nbd.close();
    }
  }

  private static ByteBuffer block(long sector, int generation) {
    byte[] d = new byte[4096];
    Arrays.fill(d, (byte) (sector * 31 + generation));
    return ByteBuffer.wrap(d);
  }

  private static volatile String lastStatus;

  private static String status(MappedDevice md) {
    String s = md.status();
    lastStatus = s;
    return s;
  }

  /** Waits (at most a minute; nothing about time is asserted) until {@code cond} holds. */
  private static void await(java.util.function.BooleanSupplier cond, String what) {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("waiting for " + what + "; status: " + lastStatus);
      }
      Thread.yield();
    }
  }

  @Test
  void serversStopAndComeBack() throws Exception {
    long seed = Long.getLong("jdm.seed", new Random().nextLong());
    BioTracker bios = new BioTracker();
    ManualClock clock = new ManualClock();
    TargetRegistry registry = TargetRegistry.loadDefault();
    registry.unregister("multipath");
    registry.register(MultipathTargetType.withPathChecker(CHECK));
    try (MemoryBlockDevice lun = MemoryBlockDevice.create("lun", 4096);
        DeviceMapper dm = DeviceMapper.builder().clock(clock).registry(registry).build()) {
      // the resolver of nbd:// table paths, on dm's clock, keeping what it opens for the test
      NbdDeviceResolver nbd = new NbdDeviceResolver(dm.clock(), RECONNECT);
      Map<String, NbdBlockDevice> opened = new ConcurrentHashMap<>();
      dm.addResolver(
          new DeviceResolver() {
            @Override
            public String key(String path) {
              return nbd.key(path);
            }

            @Override
            public BlockDevice open(String path, boolean readOnly) throws IOException {
              NbdBlockDevice d = (NbdBlockDevice) nbd.open(path, readOnly);
              opened.put(path, d);
              return d;
            }
          });
      Server s1 = new Server(lun, UnixDomainSocketAddress.of(tmp.resolve("s1")));
      Server s2 = new Server(lun, UnixDomainSocketAddress.of(tmp.resolve("s2")));
      try {
        String p1 = NbdUri.unix(tmp.resolve("s1"), "lun").toString();
        String p2 = NbdUri.unix(tmp.resolve("s2"), "lun").toString();
        MappedDevice mp =
            dm.create(
                "mp",
                "0 4096 multipath 1 queue_if_no_path 0 1 1 round-robin 0 2 0 " + p1 + " " + p2);
        NbdBlockDevice n1 = opened.get(p1);
        NbdBlockDevice n2 = opened.get(p2);
        // the paths' device numbers, in table order: "... 2 0 43:0 A 0 43:1 A 0 "
        java.util.regex.Matcher m =
            java.util.regex.Pattern.compile(" (\\d+:\\d+) A ").matcher(status(mp));
        assertThat(m.find()).isTrue();
        String d1 = m.group(1);
        assertThat(m.find()).isTrue();
        String d2 = m.group(1);

        // Writers on their own blocks; each remembers the last generation it wrote to each.
        int threads = 3;
        int blocksPerThread = 512 / threads;
        int[][] last = new int[threads][blocksPerThread];
        AtomicBoolean stop = new AtomicBoolean();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        List<Future<Integer>> writers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
          int id = t;
          Random rnd = new Random(seed + t);
          writers.add(
              pool.submit(
                  () -> {
                    int ops = 0;
                    while (!stop.get() || ops < 200) {
                      int b = rnd.nextInt(blocksPerThread);
                      long sector = (long) (id * blocksPerThread + b) * 8;
                      int gen = last[id][b] + 1;
                      mp.write(block(sector, gen), sector * 512);
                      last[id][b] = gen;
                      ops++;
                    }
                    return ops;
                  }));
        }
        await(() -> s1.submitted() >= 100, "I/O on path 1");
        s1.stop(); // the first server goes away under load
        await(() -> status(mp).contains(" " + d1 + " F "), "path 1 failed");
        await(n1::isBroken, "NBD connection 1 lost (and its reconnection scheduled)");
        int onPath2 = s2.submitted();
        await(() -> s2.submitted() >= onPath2 + 100, "I/O on path 2 alone");
        s1.start(); // back
        clock.advance(RECONNECT.interval()); // the NBD device dials again
        await(() -> n1.reconnects() == 1, "path 1 reconnected");
        assertThat(status(mp)).contains(" " + d1 + " F ");
        clock.advance(CHECK.minus(RECONNECT.interval())); // the path checker's round
        await(() -> status(mp).contains(" " + d1 + " A 1 "), "path 1 reinstated by the checker");
        int onPath1 = s1.submitted();
        await(() -> s1.submitted() >= onPath1 + 100, "I/O on path 1 again");
        stop.set(true);
        for (Future<Integer> w : writers) {
          assertThat(w.get(2, TimeUnit.MINUTES)).as("seed %d", seed).isGreaterThanOrEqualTo(200);
        }
        pool.shutdown();
        assertThat(pool.awaitTermination(1, TimeUnit.MINUTES)).isTrue();
        for (int t = 0; t < threads; t++) {
          for (int b = 0; b < blocksPerThread; b++) {
            if (last[t][b] == 0) {
              continue;
            }
            long sector = (long) (t * blocksPerThread + b) * 8;
            ByteBuffer got = ByteBuffer.allocate(4096);
            lun.read(got, sector * 512);
            assertThat(got.array())
                .as("block at %d (seed %d)", sector, seed)
                .isEqualTo(block(sector, last[t][b]).array());
          }
        }

        // Both servers gone: with queue_if_no_path the write waits.
        s1.stop();
        s2.stop();
        BioTracker.Completion waiting = bios.completion();
        mp.submit(Bio.write(0, block(0, 100), waiting));
        await(
            () -> status(mp).contains(" " + d2 + " F ") && status(mp).contains(" " + d1 + " F "),
            "both paths failed");
        await(() -> n1.isBroken() && n2.isBroken(), "both NBD connections lost");
        assertThat(waiting.isDone()).isFalse();
        s2.start();
        clock.advance(RECONNECT.interval());
        await(() -> n2.reconnects() == 1, "path 2 reconnected");
        assertThat(waiting.isDone()).isFalse();
        clock.advance(CHECK.minus(RECONNECT.interval())); // path 2 answers the checker
        assertThat(waiting.await()).isEqualTo(BlockStatus.OK);
        assertThat(status(mp)).contains(" " + d2 + " A 1 ").contains(" " + d1 + " F ");
        ByteBuffer got = ByteBuffer.allocate(4096);
        lun.read(got, 0);
        assertThat(got.array()).isEqualTo(block(0, 100).array());

        // Gone again: fail_if_no_path releases the waiting write with EIO.
        s2.stop();
        BioTracker.Completion released = bios.completion();
        mp.submit(Bio.write(8, block(8, 100), released));
        await(() -> status(mp).contains(" " + d2 + " F 2 "), "path 2 failed again");
        assertThat(released.isDone()).isFalse();
        mp.message(0, "fail_if_no_path");
        assertThat(released.await()).isEqualTo(BlockStatus.IOERR);
        bios.assertAllCompletedOnce();
        dm.remove("mp"); // closes the NBD devices, and their reconnection
        assertThat(n1.isClosed()).isTrue();
        assertThat(n2.isClosed()).isTrue();
        assertThat(clock.pendingTasks()).isZero();
      } finally {
        s1.stop();
        s2.stop();
      }
    }
  }
}
