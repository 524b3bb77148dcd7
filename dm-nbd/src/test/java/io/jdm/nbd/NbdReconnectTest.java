package io.jdm.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.BioTracker;
import io.jdm.testkit.ManualClock;
import io.jdm.testkit.TlsCertificates;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link NbdBlockDevice} reconnecting: the in-JVM server stops and starts again on the same socket,
 * the backoff runs on a {@link ManualClock} (the attempts themselves run on the device's reconnect
 * thread, so the test waits for their outcome, asserting nothing about time).
 */
@Timeout(120)
class NbdReconnectTest {
  private static final int SECTORS = 2048;
  private static final NbdReconnect BACKOFF =
      new NbdReconnect(Duration.ofSeconds(1), Duration.ofSeconds(4));

  private Path dir;
  private UnixDomainSocketAddress address;
  private final ManualClock clock = new ManualClock();
  private final BioTracker bios = new BioTracker();

  @BeforeEach
  void start() throws Exception {
    dir = Tools.tempDir();
    address = UnixDomainSocketAddress.of(dir.resolve("s"));
  }

  @AfterEach
  void stop() throws Exception {
    Tools.deleteTree(dir);
  }

  private NbdServer serve(BlockDevice dev) throws Exception {
    NbdServer s =
        NbdServer.builder(NbdExports.of("disk", dev)).shutdownTimeout(Duration.ZERO).build();
    s.listen(address);
    return s;
  }

  private static ByteBuffer pattern(int seed) {
    byte[] b = new byte[4096];
    Arrays.fill(b, (byte) seed);
    return ByteBuffer.wrap(b);
  }

  private BlockStatus write(BlockDevice d, long sector, int seed) {
    BioTracker.Completion c = bios.completion();
    d.submit(Bio.write(sector, pattern(seed), c));
    return c.await();
  }

  private byte[] read(BlockDevice d, long sector) {
    ByteBuffer b = ByteBuffer.allocate(4096);
    BioTracker.Completion c = bios.completion();
    d.submit(Bio.read(sector, b, c));
    assertThat(c.await()).isEqualTo(BlockStatus.OK);
    return b.array();
  }

  /** Waits (at most a minute; nothing about time is asserted) until {@code cond} holds. */
  private static void await(BooleanSupplier cond, String what) {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
    while (!cond.getAsBoolean()) {
      assertThat(System.nanoTime()).as("waiting for " + what).isLessThan(deadline);
      Thread.yield();
    }
  }

  private static boolean threadsAlive(String prefix) {
    return Thread.getAllStackTraces().keySet().stream()
        .anyMatch(t -> t.isAlive() && t.getName().startsWith(prefix));
  }

  @Test
  void theServerRestartsAndTheDeviceWorksAgain() throws Exception {
    try (MemoryBlockDevice mem = MemoryBlockDevice.create("mem", SECTORS)) {
      NbdServer server = serve(mem);
      NbdBlockDevice d = NbdBlockDevice.connect(address, "disk", false, BACKOFF, clock);
      try {
        assertThat(write(d, 8, 1)).isEqualTo(BlockStatus.OK);

        // (requests in flight then fail with TRANSPORT: NbdClientHostileServerTest)
        server.close();
        await(d::isBroken, "the connection lost");

        // later ones fail at once, before any attempt
        BioTracker.Completion later = bios.completion();
        d.submit(Bio.write(16, pattern(2), later));
        assertThat(later.isDone()).isTrue();
        assertThat(later.status()).isEqualTo(BlockStatus.TRANSPORT);
        await(() -> clock.pendingTasks() == 1, "the first attempt scheduled");
        assertThat(d.attempts()).isZero();

        // the first attempt, 1 s on, finds no server: the next comes 2 s later
        clock.advance(Duration.ofSeconds(1));
        await(() -> d.attempts() == 1, "the first attempt");
        assertThat(d.reconnectFailure()).contains("cannot connect to");
        assertThat(d.isBroken()).isTrue();
        clock.advance(Duration.ofMillis(1999));
        assertThat(d.attempts()).isEqualTo(1);

        server = serve(mem);
        clock.advance(Duration.ofMillis(1));
        await(() -> d.attempts() == 2, "the second attempt");
        assertThat(d.isBroken()).isFalse();
        assertThat(d.reconnects()).isEqualTo(1);
        assertThat(d.reconnectFailure()).isNull();
        assertThat(clock.pendingTasks()).isZero();

        // the device works again, on the same storage
        assertThat(read(d, 8)).isEqualTo(pattern(1).array());
        assertThat(write(d, 16, 3)).isEqualTo(BlockStatus.OK);
        assertThat(read(d, 16)).isEqualTo(pattern(3).array());

        // and again after a second loss, the backoff starting over at 1 s
        server.close();
        await(d::isBroken, "the second loss");
        await(() -> clock.pendingTasks() == 1, "an attempt scheduled");
        server = serve(mem);
        clock.advance(Duration.ofSeconds(1));
        await(() -> d.reconnects() == 2, "the second reconnection");
        assertThat(read(d, 16)).isEqualTo(pattern(3).array());
      } finally {
        d.close();
        server.close();
      }
      await(() -> !threadsAlive(d.threadName()), "the device's threads to end"); // exit after close
      bios.assertAllCompletedOnce();
    }
  }

  @Test
  void theBackoffDoublesUpToItsMaximum() throws Exception {
    try (MemoryBlockDevice mem = MemoryBlockDevice.create("mem", SECTORS)) {
      NbdServer server = serve(mem);
      NbdBlockDevice d = NbdBlockDevice.connect(address, "disk", false, BACKOFF, clock);
      try {
        server.close();
        await(() -> clock.pendingTasks() == 1, "the first attempt scheduled");
        long[] waits = {1000, 2000, 4000, 4000, 4000};
        for (int i = 0; i < waits.length; i++) {
          clock.advance(Duration.ofMillis(waits[i] - 1));
          assertThat(d.attempts()).as("attempt %d not yet", i + 1).isEqualTo(i);
          clock.advance(Duration.ofMillis(1));
          int n = i + 1;
          await(() -> d.attempts() == n, "attempt " + n);
        }
      } finally {
        d.close();
      }
      assertThat(clock.pendingTasks()).isZero();
    }
  }

  @Test
  void aChangedExportSizeIsRefused() throws Exception {
    try (MemoryBlockDevice mem = MemoryBlockDevice.create("mem", SECTORS);
        MemoryBlockDevice bigger = MemoryBlockDevice.create("bigger", 2 * SECTORS)) {
      NbdServer server = serve(mem);
      NbdBlockDevice d = NbdBlockDevice.connect(address, "disk", false, BACKOFF, clock);
      try {
        server.close();
        await(() -> clock.pendingTasks() == 1, "the first attempt scheduled");
        server = serve(bigger);
        clock.advance(Duration.ofSeconds(1));
        await(() -> d.attempts() == 1, "the first attempt");
        assertThat(d.isBroken()).isTrue();
        assertThat(d.reconnects()).isZero();
        assertThat(d.reconnectFailure())
            .contains("the export's size changed from 1048576 to 2097152 bytes");
        BioTracker.Completion c = bios.completion();
        d.submit(Bio.read(0, ByteBuffer.allocate(4096), c));
        assertThat(c.await()).isEqualTo(BlockStatus.TRANSPORT);

        // the right size again: the next attempt takes it
        server.close();
        server = serve(mem);
        clock.advance(Duration.ofSeconds(2));
        await(() -> d.attempts() == 2, "the second attempt");
        assertThat(d.isBroken()).isFalse();
        assertThat(d.sectors()).isEqualTo(SECTORS);
      } finally {
        d.close();
        server.close();
      }
    }
  }

  @Test
  void closeDuringTheBackoffStopsTheReconnectThread() throws Exception {
    try (MemoryBlockDevice mem = MemoryBlockDevice.create("mem", SECTORS)) {
      NbdServer server = serve(mem);
      NbdBlockDevice d = NbdBlockDevice.connect(address, "disk", false, BACKOFF, clock);
      server.close();
      await(() -> clock.pendingTasks() == 1, "the first attempt scheduled");
      clock.advance(Duration.ofSeconds(1));
      await(() -> d.attempts() == 1, "a failed attempt");
      assertThat(threadsAlive(d.threadName() + "-reconnect")).isTrue(); // idle, waiting for work
      assertThat(clock.pendingTasks()).isEqualTo(1);

      d.close();
      assertThat(clock.pendingTasks()).isZero();
      await(() -> !threadsAlive(d.threadName()), "the device's threads to end"); // exit after close
      server = serve(mem);
      clock.advance(Duration.ofMinutes(1));
      assertThat(d.attempts()).isEqualTo(1);
      assertThat(server.connectionCount()).isZero();
      server.close();
    }
  }

  @Test
  void closeAbortsAnAttemptStuckInTheHandshake() throws Exception {
    try (MemoryBlockDevice mem = MemoryBlockDevice.create("mem", SECTORS)) {
      NbdServer server = serve(mem);
      NbdBlockDevice d = NbdBlockDevice.connect(address, "disk", false, BACKOFF, clock);
      server.close();
      await(() -> clock.pendingTasks() == 1, "the first attempt scheduled");
      // something listens on the socket and never says a word
      try (ServerSocketChannel mute = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
        mute.bind(address);
        clock.advance(Duration.ofSeconds(1));
        d.close(); // whether the attempt is dialling, waiting for the greeting or not yet started
        await(
            () -> !threadsAlive(d.threadName()), "the device's threads to end"); // exit after close
        assertThat(clock.pendingTasks()).isZero();
        assertThat(d.reconnects()).isZero();
      }
    }
  }

  @Test
  void reconnectionRedoesTheTlsHandshake() throws Exception {
    TlsCertificates certs = TlsCertificates.shared();
    try (MemoryBlockDevice mem = MemoryBlockDevice.create("mem", SECTORS)) {
      NbdServer.Builder b =
          NbdServer.builder(NbdExports.of("disk", mem))
              .tls(NbdTls.serverContext(certs.server()), NbdServer.TlsMode.REQUIRE)
              .needClientAuth(true);
      NbdServer server = b.build();
      server.listen(address);
      NbdUri uri =
          NbdUri.unix(dir.resolve("s"), "disk").withTls(certs.client()).withReconnect(BACKOFF);
      NbdBlockDevice d = NbdBlockDevice.open(uri, false, clock);
      try {
        assertThat(write(d, 0, 7)).isEqualTo(BlockStatus.OK);
        server.close();
        await(d::isBroken, "the connection lost");
        await(() -> clock.pendingTasks() == 1, "the first attempt scheduled");
        // a server in the clear is not used: TLS is required again
        server = serve(mem);
        clock.advance(Duration.ofSeconds(1));
        await(() -> d.attempts() == 1, "the attempt in the clear");
        assertThat(d.isBroken()).isTrue();
        assertThat(d.reconnectFailure()).contains("refused TLS");
        server.close();
        server = b.build();
        server.listen(address);
        clock.advance(Duration.ofSeconds(2));
        await(() -> d.attempts() == 2, "the attempt over TLS");
        assertThat(d.isBroken()).isFalse();
        assertThat(read(d, 0)).isEqualTo(pattern(7).array());
      } finally {
        d.close();
        server.close();
      }
    }
  }

  @Test
  void uriParameters() {
    NbdUri u = NbdUri.parse("nbd+unix:///disk?socket=/tmp/s&reconnect=1");
    assertThat(u.reconnect()).isEqualTo(NbdReconnect.DEFAULT);
    assertThat(u.toString()).isEqualTo("nbd+unix:///disk?socket=/tmp/s&reconnect=1");
    assertThat(NbdUri.parse("nbd://h/x?reconnect-delay=0").reconnect())
        .isEqualTo(NbdReconnect.DEFAULT);
    assertThat(NbdUri.parse("nbd://h/x?reconnect=0").reconnect()).isNull();
    assertThat(NbdUri.parse("nbd://h/x").reconnect()).isNull();
    NbdUri v = NbdUri.parse("nbd://h/x?reconnect-interval=0.25&reconnect-max-interval=8");
    assertThat(v.reconnect())
        .isEqualTo(new NbdReconnect(Duration.ofMillis(250), Duration.ofSeconds(8)));
    assertThat(NbdUri.parse(v.toString())).isEqualTo(v);
    assertThat(v.toString()).endsWith("?reconnect-interval=0.25&reconnect-max-interval=8");
    assertThat(NbdUri.parse("nbd://h/x?reconnect-interval=30").reconnect())
        .isEqualTo(new NbdReconnect(Duration.ofSeconds(30), Duration.ofSeconds(30)));
    assertThatThrownBy(() -> NbdUri.parse("nbd://h/x?reconnect-delay=5"))
        .hasMessageContaining("jdm never pauses requests while it reconnects");
    assertThatThrownBy(() -> NbdUri.parse("nbd://h/x?reconnect-interval=-1"))
        .hasMessageContaining("reconnect-interval=-1: expected seconds > 0");
    assertThatThrownBy(() -> NbdUri.parse("nbd://h/x?reconnect-interval=x"))
        .hasMessageContaining("reconnect-interval=x: not a number of seconds");
    assertThatThrownBy(
            () -> NbdUri.parse("nbd://h/x?reconnect-interval=4&reconnect-max-interval=2"))
        .hasMessageContaining("shorter than the interval");
    assertThatThrownBy(() -> NbdUri.parse("nbd://h/x?reconnect=yes"))
        .hasMessageContaining("reconnect=yes (expected 1 or 0)");
  }

  @Test
  void theResolverUsesItsClockAndDefault() throws Exception {
    try (MemoryBlockDevice mem = MemoryBlockDevice.create("mem", SECTORS)) {
      NbdServer server = serve(mem);
      NbdDeviceResolver r = new NbdDeviceResolver(clock, BACKOFF);
      String path = NbdUri.unix(dir.resolve("s"), "disk").toString();
      NbdBlockDevice d = (NbdBlockDevice) r.open(path, false);
      try {
        assertThat(d.reconnect()).isEqualTo(BACKOFF);
        server.close();
        await(() -> clock.pendingTasks() == 1, "an attempt scheduled on the resolver's clock");
        server = serve(mem);
        clock.advance(Duration.ofSeconds(1));
        await(() -> d.reconnects() == 1, "the reconnection");
        try (NbdBlockDevice plain = (NbdBlockDevice) new NbdDeviceResolver().open(path, false)) {
          assertThat(plain.reconnect()).isNull();
        }
      } finally {
        d.close();
        server.close();
      }
    }
  }
}
