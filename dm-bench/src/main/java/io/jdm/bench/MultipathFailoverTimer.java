package io.jdm.bench;

import io.jdm.core.BlockDevice;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.nbd.NbdBlockDevice;
import io.jdm.nbd.NbdExports;
import io.jdm.nbd.NbdReconnect;
import io.jdm.nbd.NbdServer;
import io.jdm.nbd.NbdUri;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Multipath failover over real NBD, in wall time: a {@code multipath} device (round-robin) whose
 * two paths are NBD connections to two jdm NBD servers exporting one memory device, a reader doing
 * 4 KiB reads one at a time, and {@code N} failures (default 100): each stops one server (its
 * sockets close under the client), and measures the time from the stop to the path's failure event
 * and to the first read that completes after that event (on the other path); then the server
 * restarts, the client reconnects, and {@code reinstate_path} brings the path back before the next
 * failure, which takes the other server. Prints the median and worst of both times. The stop is the
 * server's graceful one ({@link NbdServer#close}: what is in flight completes, then the connections
 * close), so the first time includes that shutdown.
 *
 * <p>Usage: {@code java -cp dm-bench.jar io.jdm.bench.MultipathFailoverTimer [N]}. Not a JMH
 * benchmark: each sample is one event, and the distribution (median, worst) is what counts.
 */
public final class MultipathFailoverTimer {
  private MultipathFailoverTimer() {}

  private static final NbdReconnect RECONNECT =
      new NbdReconnect(Duration.ofMillis(10), Duration.ofMillis(50));

  public static void main(String[] args) throws Exception {
    int failures = args.length > 0 ? Integer.parseInt(args[0]) : 100;
    // every failure logs the broken connection and each reconnection attempt: keep the output to
    // the figures
    java.util.logging.Logger.getLogger("").setLevel(java.util.logging.Level.SEVERE);
    for (java.util.logging.Handler h : java.util.logging.Logger.getLogger("").getHandlers()) {
      h.setLevel(java.util.logging.Level.SEVERE);
    }
    Path dir = Files.createTempDirectory("jdm-failover");
    long sectors = 8192;
    long[] detect = new long[failures];
    long[] serve = new long[failures];
    try (MemoryBlockDevice lun = MemoryBlockDevice.create("lun", sectors);
        DeviceMapper dm = DeviceMapper.create()) {
      Path[] sockets = {dir.resolve("s0"), dir.resolve("s1")};
      NbdServer[] servers = new NbdServer[2];
      NbdBlockDevice[] paths = new NbdBlockDevice[2];
      for (int i = 0; i < 2; i++) {
        servers[i] = start(lun, sockets[i]);
        paths[i] =
            NbdBlockDevice.open(
                NbdUri.unix(sockets[i], "lun").withReconnect(RECONNECT), false, dm.clock());
        dm.registerDevice("p" + i, paths[i]);
      }
      MappedDevice mp =
          dm.create("mp", "0 " + sectors + " multipath 0 0 1 1 round-robin 0 2 0 p0 p1");
      String[] numbers = pathNumbers(mp.status());
      AtomicLong completions = new AtomicLong();
      AtomicLong lastDone = new AtomicLong();
      AtomicLong errors = new AtomicLong();
      Thread reader = new Thread(() -> read(mp, sectors, completions, lastDone, errors), "reader");
      reader.setDaemon(true);
      reader.start();
      try {
        for (int f = 0; f < failures; f++) {
          int victim = f % 2;
          awaitCompletions(completions, 4);
          int ev = mp.eventNr();
          long t0 = System.nanoTime();
          servers[victim].close();
          if (mp.awaitEvent(ev, Duration.ofSeconds(30)) == ev) {
            throw new IllegalStateException("no failure event after stopping server " + victim);
          }
          long tFail = System.nanoTime();
          long served;
          long deadline0 = tFail + TimeUnit.SECONDS.toNanos(30);
          while ((served = lastDone.get()) <= tFail) {
            if (System.nanoTime() > deadline0) {
              throw new IllegalStateException("no read served after the failure");
            }
            Thread.onSpinWait();
          }
          detect[f] = tFail - t0;
          serve[f] = served - t0;
          int reconnects = paths[victim].reconnects();
          servers[victim] = start(lun, sockets[victim]);
          long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
          while (paths[victim].reconnects() == reconnects) {
            if (System.nanoTime() > deadline) {
              throw new IllegalStateException("path " + victim + " did not reconnect");
            }
            Thread.sleep(1);
          }
          mp.message(0, "reinstate_path", numbers[victim]);
        }
      } finally {
        reader.interrupt();
        reader.join(10_000);
        for (NbdServer s : servers) {
          s.close();
        }
      }
      if (errors.get() != 0) {
        System.out.println("reads failed: " + errors.get() + " (none should)");
      }
      System.out.println(
          String.format(
              Locale.ROOT,
              "%d failures over NBD (Unix sockets), round-robin, QD1 4 KiB reads; %d reads done",
              failures,
              completions.get()));
      report("stop -> path failed (event)", detect);
      report("stop -> next read served", serve);
    } finally {
      try (var s = Files.list(dir)) {
        s.forEach(p -> p.toFile().delete());
      }
      Files.deleteIfExists(dir);
    }
  }

  private static NbdServer start(BlockDevice lun, Path socket) throws IOException {
    Files.deleteIfExists(socket);
    NbdServer s = NbdServer.create(NbdExports.of("lun", lun));
    s.listen(UnixDomainSocketAddress.of(socket));
    return s;
  }

  /** The paths' device numbers in table order, from the status ("... 43:0 A 0 43:1 A 0 "). */
  private static String[] pathNumbers(String status) {
    Matcher m = Pattern.compile(" (\\d+:\\d+) [AF] ").matcher(status);
    String[] out = new String[2];
    for (int i = 0; i < 2; i++) {
      if (!m.find()) {
        throw new IllegalStateException("no path " + i + " in " + status);
      }
      out[i] = m.group(1);
    }
    return out;
  }

  private static void read(
      MappedDevice mp, long sectors, AtomicLong done, AtomicLong lastDone, AtomicLong errors) {
    ByteBuffer buf = ByteBuffer.allocateDirect(4096);
    long next = 0;
    while (!Thread.currentThread().isInterrupted()) {
      try {
        mp.read(buf.clear(), (next++ % (sectors / 8)) * 4096);
        lastDone.set(System.nanoTime());
        done.incrementAndGet();
      } catch (IOException e) {
        errors.incrementAndGet();
      }
    }
  }

  private static void awaitCompletions(AtomicLong completions, long more)
      throws InterruptedException {
    long target = completions.get() + more;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (completions.get() < target) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("reads stopped");
      }
      Thread.onSpinWait();
    }
  }

  private static void report(String what, long[] nanos) {
    long[] s = nanos.clone();
    Arrays.sort(s);
    System.out.println(
        String.format(
            Locale.ROOT,
            "%-32s median %8.3f ms   worst %8.3f ms",
            what,
            s[s.length / 2] / 1e6,
            s[s.length - 1] / 1e6));
  }
}
