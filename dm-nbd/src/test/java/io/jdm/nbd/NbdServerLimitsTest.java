package io.jdm.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.ManualClock;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link NbdServer.Builder#maxConnections} (a connection beyond the limit is closed at once) and
 * {@link NbdServer.Builder#handshakeTimeout} (on a clock the test drives).
 */
@Timeout(60)
class NbdServerLimitsTest {
  private Path dir;
  private NbdServer server;
  private UnixDomainSocketAddress address;

  @BeforeEach
  void start() throws Exception {
    dir = Tools.tempDir();
    MemoryBlockDevice disk = MemoryBlockDevice.create("disk", 2048);
    server = NbdServer.builder(NbdExports.of(Map.of("disk", disk))).maxConnections(1).build();
    address = UnixDomainSocketAddress.of(dir.resolve("s"));
    server.listen(address);
  }

  @AfterEach
  void stop() throws Exception {
    server.close();
    Tools.deleteTree(dir);
  }

  /** Whether the server greets a new connection (it sends the 18-byte hello first). */
  private boolean greeted() throws Exception {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(address);
      ByteBuffer hello = ByteBuffer.allocate(8);
      while (hello.hasRemaining()) {
        if (ch.read(hello) < 0) {
          return false;
        }
      }
      return hello.flip().getLong() == Nbd.INIT_PASSWD;
    }
  }

  @Test
  void aConnectionBeyondTheLimitIsClosedAndTheFirstKeepsWorking() throws Exception {
    try (NbdBlockDevice first = NbdBlockDevice.connect(address, "disk", false)) {
      assertThat(greeted()).isFalse();
      first.write(ByteBuffer.allocate(512), 0); // the first one is unaffected
    }
    // once the first has gone, a new one is served (its connection ends on the server's side
    // after the client's disconnect: retry until then)
    long deadline = System.nanoTime() + 30_000_000_000L;
    boolean served = false;
    while (!served && System.nanoTime() < deadline) {
      served = greeted();
    }
    assertThat(served).isTrue();
  }

  @Test
  void theLimitMustBePositive() {
    assertThatThrownBy(() -> NbdServer.builder(NbdExports.of(Map.of())).maxConnections(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxConnections 0");
  }

  @Test
  void aConnectionThatDoesNotFinishItsHandshakeInTimeIsClosed() throws Exception {
    ManualClock clock = new ManualClock();
    MemoryBlockDevice disk = MemoryBlockDevice.create("disk", 2048);
    UnixDomainSocketAddress a = UnixDomainSocketAddress.of(dir.resolve("t"));
    try (NbdServer timed =
        NbdServer.builder(NbdExports.of(Map.of("disk", disk)))
            .handshakeTimeout(Duration.ofSeconds(10), clock)
            .build()) {
      timed.listen(a);
      try (SocketChannel idle = SocketChannel.open(StandardProtocolFamily.UNIX);
          NbdBlockDevice quick = NbdBlockDevice.connect(a, "disk", false)) {
        idle.connect(a);
        ByteBuffer hello = ByteBuffer.allocate(18);
        while (hello.hasRemaining()) {
          assertThat(idle.read(hello)).isNotNegative();
        }
        idle.configureBlocking(false);
        clock.advance(Duration.ofSeconds(9));
        assertThat(idle.read(ByteBuffer.allocate(1))).as("open, nothing to read").isZero();
        clock.advance(Duration.ofSeconds(1));
        // the timer closed it on the server's side: the client sees the end of the stream (a
        // blocking read: without the timeout it would wait for ever and the test time out)
        idle.configureBlocking(true);
        int n;
        try {
          n = idle.read(ByteBuffer.allocate(1));
        } catch (java.io.IOException e) {
          n = -1; // or a reset
        }
        assertThat(n).isEqualTo(-1);
        // a connection that finished its handshake in time is not affected
        quick.write(ByteBuffer.allocate(512), 0);
        assertThat(clock.pendingTasks()).isZero();
      }
    }
  }

  @Test
  void theHandshakeTimeoutMustBePositive() {
    assertThatThrownBy(
            () ->
                NbdServer.builder(NbdExports.of(Map.of()))
                    .handshakeTimeout(Duration.ZERO, new ManualClock()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("handshake timeout");
  }
}
