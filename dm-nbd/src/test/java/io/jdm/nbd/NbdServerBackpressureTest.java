package io.jdm.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A client that pipelines requests and does not read the replies (or a device that is slow) must
 * not make the server read requests, and allocate their buffers, without bound.
 */
@Timeout(60)
class NbdServerBackpressureTest {
  private Path dir;
  private HoldingBlockDevice holding;
  private NbdServer server;
  private SocketAddress address;

  @BeforeEach
  void start() throws Exception {
    dir = Tools.tempDir();
    holding = new HoldingBlockDevice(4L << 21); // 4 GiB, nothing behind it
    server =
        NbdServer.builder(NbdExports.of("holding", holding))
            .shutdownTimeout(Duration.ofSeconds(10))
            .build();
    address = server.listen(UnixDomainSocketAddress.of(dir.resolve("s")));
  }

  @AfterEach
  void stop() throws Exception {
    try {
      server.close();
    } finally {
      Tools.deleteTree(dir);
    }
  }

  /** The connection's reader thread, once it waits (not blocked in a socket read) for room. */
  private static Thread readerWaitingForRoom() {
    while (true) {
      for (Thread t : Thread.getAllStackTraces().keySet()) {
        if (t.getName().startsWith("jdm-nbd-conn-") && t.getState() == Thread.State.WAITING) {
          for (StackTraceElement e : t.getStackTrace()) {
            if (e.getMethodName().equals("awaitRoom")) {
              return t;
            }
          }
        }
      }
      if (Thread.interrupted()) {
        throw new AssertionError("interrupted");
      }
      Thread.onSpinWait();
    }
  }

  @Test
  void pipelinedReadsOfThirtyTwoMegabytesAreAdmittedWithinTheByteBudget() throws Exception {
    int len = Nbd.MAX_PAYLOAD;
    int n = 8;
    long admitted = NbdServerConnection.MAX_IN_FLIGHT_BYTES / len; // 2
    try (RawNbdClient c = new RawNbdClient(address)) {
      c.hello(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
      c.go("holding", false);
      for (int i = 0; i < n; i++) {
        c.request(0, Nbd.CMD_READ, i, (long) i * len, len, null);
      }
      // without a bound the reader takes all 8 (256 MiB of buffers) and blocks reading the socket
      readerWaitingForRoom();
      List<Bio> held = new ArrayList<>();
      for (int i = 0; i < admitted; i++) {
        held.add(holding.take());
      }
      assertThat(holding.heldCount()).as("bios beyond the byte budget").isZero();
      // every reply that is written lets the next request in, until all are answered
      for (int i = 0; i < n; i++) {
        Bio b = held.remove(0);
        // completed elsewhere: the connection's writer sends the 32 MiB reply this thread reads
        CompletableFuture<Void> done =
            CompletableFuture.runAsync(() -> HoldingBlockDevice.complete(b, BlockStatus.OK));
        RawNbdClient.Reply r = c.simpleReply(len);
        assertThat(r.error()).isZero();
        assertThat(r.cookie()).isEqualTo(i);
        done.get(10, TimeUnit.SECONDS);
        if (i + admitted < n) {
          held.add(holding.take());
        }
      }
      assertThat(held).isEmpty();
    }
  }

  /**
   * A device completes on its own threads (here: this test's thread). Writing the reply there would
   * block that thread as soon as a client stops reading, and with it every other user of the
   * device; the connection's writer takes the write instead.
   */
  @Test
  void aClientThatStopsReadingDoesNotBlockTheThreadsCompletingItsBios() throws Exception {
    int len = 1 << 20;
    int n = 16; // 16 MiB of replies: far more than the socket buffers hold
    try (RawNbdClient c = new RawNbdClient(address)) {
      c.hello(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
      c.go("holding", false);
      for (int i = 0; i < n; i++) {
        c.request(0, Nbd.CMD_READ, i, (long) i * len, len, null);
      }
      for (int i = 0; i < n; i++) {
        // returns at once; before the hand-off this thread blocked in the socket write
        HoldingBlockDevice.complete(holding.take(), BlockStatus.OK);
      }
      for (int i = 0; i < n; i++) {
        RawNbdClient.Reply r = c.simpleReply(len);
        assertThat(r.error()).isZero();
        assertThat(r.cookie()).isEqualTo(i);
      }
    }
  }
}
