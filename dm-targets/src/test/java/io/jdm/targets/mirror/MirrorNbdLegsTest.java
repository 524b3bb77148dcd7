package io.jdm.targets.mirror;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.SuspendMode;
import io.jdm.nbd.NbdBlockDevice;
import io.jdm.nbd.NbdExports;
import io.jdm.nbd.NbdServer;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A mirror whose legs are NBD exports, each served by its own {@link NbdServer} over a Unix socket
 * (stand-ins for two hosts). Under a verified write load one leg's server is shut down: I/O goes
 * on, the leg shows {@code D} with {@code handle_errors}, an event wakes a waiter; then the leg's
 * server comes back, the mirror is reloaded over a new connection with a {@code noflush} suspend
 * (the held writes are reissued), resynchronises, and the two legs compare equal, holding every
 * acknowledged write.
 */
class MirrorNbdLegsTest {
  private static final long SEED = Long.getLong("jdm.seed", 20261203L);
  private static final int BLOCK = 4096;
  private static final int BLOCKS = 256;
  private static final long SECTORS = BLOCKS * (BLOCK / 512L);
  private static final int WRITERS = 2;

  @TempDir Path tmp;

  private static SocketAddress serve(NbdServer server, Path socket) throws Exception {
    return server.listen(UnixDomainSocketAddress.of(socket));
  }

  private static void fill(ByteBuffer b, int block, long version) {
    for (int i = 0; i < BLOCK; i += 8) {
      b.putLong(i, ((long) block << 40) | version);
    }
  }

  @Test
  void aLegOnAnotherHostDiesComesBackAndResyncs() throws Exception {
    String seed = "seed " + SEED + " (-Djdm.seed)";
    try (MemoryBlockDevice memA = MemoryBlockDevice.create("memA", SECTORS);
        MemoryBlockDevice memB = MemoryBlockDevice.create("memB", SECTORS);
        NbdServer serverA = NbdServer.create(NbdExports.of("disk", memA))) {
      DeviceMapper dm = DeviceMapper.builder().seed(SEED).build();
      NbdServer serverB = NbdServer.create(NbdExports.of("disk", memB));
      SocketAddress addrA = serve(serverA, tmp.resolve("a.sock"));
      SocketAddress addrB = serve(serverB, tmp.resolve("b.sock"));
      NbdBlockDevice legA = NbdBlockDevice.connect(addrA, "disk", false);
      NbdBlockDevice legB = NbdBlockDevice.connect(addrB, "disk", false);
      NbdBlockDevice legB2 = null;
      NbdServer serverB2 = null;
      try {
        dm.registerDevice("legA", legA);
        dm.registerDevice("legB", legB);
        MappedDevice md =
            dm.create(
                "m", "0 " + SECTORS + " mirror core 2 64 nosync 2 legA 0 legB 0 1 handle_errors");
        MirrorTarget t = (MirrorTarget) md.liveTable().orElseThrow().target(0);
        t.flushWorker();
        int events = md.eventNr();

        AtomicLongArray acked = new AtomicLongArray(BLOCKS);
        AtomicInteger done = new AtomicInteger();
        int total = 3000;
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
                    while (done.get() < total) {
                      int block = rnd.nextInt(BLOCKS / WRITERS) * WRITERS + me;
                      fill(buf, block, ++version);
                      md.write(buf.clear(), (long) block * BLOCK);
                      acked.set(block, version);
                      done.incrementAndGet();
                    }
                    return null;
                  }));
        }
        while (done.get() < 800) {
          LockSupport.parkNanos(200_000);
        }
        serverB.close(); // the host of leg B goes away
        assertThat(md.awaitEvent(events, Duration.ofSeconds(30))).as(seed).isGreaterThan(events);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (t.heldWrites() == 0 && System.nanoTime() < deadline) {
          LockSupport.parkNanos(200_000);
        }
        assertThat(md.status()).as(seed).contains(" 1 AD 1 core");

        // leg B's host is back (its disk missed the writes since): a new connection, a new table
        serverB2 = NbdServer.create(NbdExports.of("disk", memB));
        legB2 = NbdBlockDevice.connect(serve(serverB2, tmp.resolve("b2.sock")), "disk", false);
        dm.registerDevice("legB2", legB2);
        md.suspend(SuspendMode.NOFLUSH);
        md.load("0 " + SECTORS + " mirror core 1 64 2 legA 0 legB2 0 1 handle_errors");
        md.resume();
        for (Future<?> f : work) {
          f.get(60, TimeUnit.SECONDS); // every write acknowledged, none failed
        }
        pool.shutdown();
        MirrorTarget t2 = (MirrorTarget) md.liveTable().orElseThrow().target(0);
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (t2.syncCount() != t2.regionCount() && System.nanoTime() < deadline) {
          LockSupport.parkNanos(200_000);
        }
        assertThat(md.status()).as(seed).endsWith(" 32/32 1 AA 1 core\n");

        ByteBuffer a = ByteBuffer.allocate(BLOCK);
        ByteBuffer b = ByteBuffer.allocate(BLOCK);
        ByteBuffer want = ByteBuffer.allocate(BLOCK);
        for (int block = 0; block < BLOCKS; block++) {
          memA.read(a.clear(), (long) block * BLOCK);
          memB.read(b.clear(), (long) block * BLOCK);
          assertThat(b.clear())
              .as("block %d equal on both legs, %s", block, seed)
              .isEqualTo(a.clear());
          long v = acked.get(block);
          if (v > 0) {
            fill(want, block, v);
            assertThat(a.clear())
                .as("block %d acknowledged, %s", block, seed)
                .isEqualTo(want.clear());
          }
        }
        dm.remove("m");
      } finally {
        dm.close();
        legA.close();
        legB.close();
        if (legB2 != null) {
          legB2.close();
        }
        if (serverB2 != null) {
          serverB2.close();
        }
        serverB.close();
      }
    }
  }
}
