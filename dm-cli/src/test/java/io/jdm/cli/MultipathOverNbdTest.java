package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.IoLimits;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.nbd.NbdBlockDevice;
import io.jdm.nbd.NbdExports;
import io.jdm.nbd.NbdServer;
import io.jdm.testkit.BioTracker;
import java.io.IOException;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A multipath device whose two paths are NBD connections to two jdm NBD servers exporting the same
 * storage. A server stops under load: no error reaches the writers and the path shows {@code F};
 * the server comes back, the path is dialled again and {@code reinstate_path} puts it back in use.
 * With both servers gone and {@code queue_if_no_path}, I/O waits until one is back; {@code
 * fail_if_no_path} fails what waits.
 */
class MultipathOverNbdTest {
  @TempDir Path tmp;

  /**
   * One path: an NBD connection to {@code address}. The NBD client does not reconnect by itself:
   * once its server is gone every bio fails with TRANSPORT, which is what multipath needs to see;
   * {@link #redial()} opens a new connection (what a path checker would do before reinstating).
   */
  private static final class NbdPath implements BlockDevice {
    private final SocketAddress address;
    private volatile NbdBlockDevice nbd;
    final AtomicInteger submitted = new AtomicInteger();

    NbdPath(SocketAddress address) throws IOException {
      this.address = address;
      this.nbd = NbdBlockDevice.connect(address, "lun", false);
    }

    void redial() throws IOException {
      NbdBlockDevice old = nbd;
      nbd = NbdBlockDevice.connect(address, "lun", false);
      old.close();
    }

    boolean broken() {
      return nbd.isBroken();
    }

    @Override
    public String name() {
      return address.toString();
    }

    @Override
    public long sectors() {
      return nbd.sectors();
    }

    @Override
    public IoLimits limits() {
      return nbd.limits();
    }

    @Override
    public boolean isReadOnly() {
      return false;
    }

    @Override
    public void submit(Bio bio) {
      submitted.incrementAndGet();
      nbd.submit(bio);
    }

    @Override
    public void close() throws IOException {
      nbd.close();
    }
  }

  private static NbdServer serve(BlockDevice lun, SocketAddress at) throws IOException {
    NbdServer s = NbdServer.create(NbdExports.of("lun", lun));
    s.listen(at);
    return s;
  }

  private static ByteBuffer block(long sector, int generation) {
    byte[] d = new byte[4096];
    Arrays.fill(d, (byte) (sector * 31 + generation));
    return ByteBuffer.wrap(d);
  }

  private static String status(MappedDevice md) {
    return md.status();
  }

  /** Waits (at most a minute; nothing about time is asserted) until {@code cond} holds. */
  private static void await(java.util.function.BooleanSupplier cond, String what) {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
    while (!cond.getAsBoolean()) {
      assertThat(System.nanoTime()).as("waiting for " + what).isLessThan(deadline);
      Thread.yield();
    }
  }

  @Test
  void serversStopAndComeBack() throws Exception {
    long seed = Long.getLong("jdm.seed", new Random().nextLong());
    BioTracker bios = new BioTracker();
    SocketAddress at1 = UnixDomainSocketAddress.of(tmp.resolve("s1"));
    SocketAddress at2 = UnixDomainSocketAddress.of(tmp.resolve("s2"));
    try (MemoryBlockDevice lun = MemoryBlockDevice.create("lun", 4096);
        DeviceMapper dm = DeviceMapper.create()) {
      NbdServer s1 = serve(lun, at1);
      NbdServer s2 = serve(lun, at2);
      NbdPath p1 = new NbdPath(at1);
      NbdPath p2 = new NbdPath(at2);
      try {
        dm.registerDevice("nbd1", p1);
        dm.registerDevice("nbd2", p2);
        MappedDevice mp =
            dm.create(
                "mp", "0 4096 multipath 1 queue_if_no_path 0 1 1 round-robin 0 2 0 nbd1 nbd2");

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
        await(() -> p1.submitted.get() >= 100, "I/O on path 1");
        s1.close(); // the first server goes away under load
        await(() -> status(mp).contains(" 240:0 F "), "path 1 failed");
        int onPath2 = p2.submitted.get();
        await(() -> p2.submitted.get() >= onPath2 + 100, "I/O on path 2 alone");
        s1 = serve(lun, at1); // back
        p1.redial();
        mp.message(0, "reinstate_path", "nbd1");
        assertThat(status(mp)).contains(" 240:0 A 1 ");
        int onPath1 = p1.submitted.get();
        await(() -> p1.submitted.get() >= onPath1 + 100, "I/O on path 1 again");
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
        s1.close();
        s2.close();
        BioTracker.Completion waiting = bios.completion();
        mp.submit(Bio.write(0, block(0, 100), waiting));
        await(
            () -> status(mp).contains(" 240:1 F ") && status(mp).contains(" 240:0 F "),
            "both paths failed");
        assertThat(waiting.isDone()).isFalse();
        s2 = serve(lun, at2);
        p2.redial();
        mp.message(0, "reinstate_path", "240:1");
        assertThat(waiting.await()).isEqualTo(BlockStatus.OK);
        ByteBuffer got = ByteBuffer.allocate(4096);
        lun.read(got, 0);
        assertThat(got.array()).isEqualTo(block(0, 100).array());

        // Gone again: fail_if_no_path releases the waiting write with EIO.
        s2.close();
        BioTracker.Completion released = bios.completion();
        mp.submit(Bio.write(8, block(8, 100), released));
        await(() -> status(mp).contains(" 240:1 F 2 "), "path 2 failed again");
        assertThat(released.isDone()).isFalse();
        mp.message(0, "fail_if_no_path");
        assertThat(released.await()).isEqualTo(BlockStatus.IOERR);
        bios.assertAllCompletedOnce();
        dm.remove("mp");
      } finally {
        s1.close();
        s2.close();
        p1.close();
        p2.close();
      }
    }
  }
}
