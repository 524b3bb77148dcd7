package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.testkit.ManualClock;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The regression corpus of what a hostile or careless client sent the daemon: lines without end,
 * more connections than it should hold, connections left idle or abandoned mid-wait, names that
 * forge output, character devices, TCP on every interface. Each case checks the answer and that the
 * daemon still serves afterwards.
 */
@Timeout(120) // a safety net: a hang fails this class instead of the whole run
class DaemonBadInputTest {
  @TempDir Path tmp;

  private RuntimeDir dir() {
    return new RuntimeDir(tmp.resolve("run"));
  }

  /** Waits, yielding, until {@code done} holds; fails after 30 s (a safety net, not a timing). */
  private static void await(String what, BooleanSupplier done) {
    long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("still not true after 30 s: " + what);
      }
      Thread.yield();
    }
  }

  private static CompletableFuture<Void> sendAsync(RawControl c, byte[] chunk, long total) {
    return CompletableFuture.runAsync(
        () -> {
          try {
            for (long sent = 0; sent < total; sent += chunk.length) {
              c.send(chunk);
            }
          } catch (IOException e) {
            // the daemon closed after answering; what was not sent does not matter
          }
        });
  }

  private static void assertServes(RuntimeDir dir) throws IOException {
    try (RawControl c = new RawControl(dir)) {
      assertThat(c.send("version\n").answer()).isEqualTo("OK\nDriver version:    4.48.0\n.\n");
    }
  }

  @Test
  void aHundredMegabyteLineWithoutLineFeedIsAnsweredAndDropped() throws Exception {
    try (Daemon d = Daemon.start(dir())) {
      byte[] mib = new byte[1 << 20];
      Arrays.fill(mib, (byte) 'x');
      try (RawControl c = new RawControl(dir())) {
        CompletableFuture<Void> sender = sendAsync(c, mib, 100L << 20);
        assertThat(c.answer()).isEqualTo("ERR - E2BIG request line over 16777216 bytes\n.\n");
        sender.get();
      }
      await("the connection ends", () -> d.connectionCount() == 0);
      assertThat(d.requestMemoryInUse()).isZero();
      assertServes(dir());
      assertThat(Files.readString(dir().logFile()))
          .contains("control connection 1 (user ")
          .contains("request line over 16777216 bytes; closing it");
    }
  }

  @Test
  void allConnectionsShareOneBudgetForRequestBuffers() throws Exception {
    Daemon.Options o =
        Daemon.Options.builder().maxRequestLine(1 << 20).requestMemory(1536 << 10).build();
    try (Daemon d = Daemon.start(dir(), o)) {
      byte[] part = new byte[900 << 10];
      Arrays.fill(part, (byte) 'x');
      try (RawControl a = new RawControl(dir());
          RawControl b = new RawControl(dir())) {
        CompletableFuture<Void> sa = sendAsync(a, part, part.length);
        await("a holds its line", () -> d.requestMemoryInUse() >= (1 << 20) + (8 << 10));
        sa.get();
        sendAsync(b, part, part.length);
        assertThat(b.answer())
            .isEqualTo(
                "ERR - ENOMEM the daemon's memory for requests (1572864 bytes) is held by other"
                    + " connections; try again\n.\n");
        // a finishes its line and is answered as any bad request, then serves on
        assertThat(a.send("\n").answer())
            .isEqualTo("ERR - EINVAL unknown request \"" + "x".repeat(64) + "...\"\n.\n");
        assertThat(a.send("version\n").answer()).startsWith("OK\n");
        await("a's buffer shrinks back", () -> d.requestMemoryInUse() == 8 << 10);
      }
      assertServes(dir());
    }
  }

  @Test
  void connectionsBeyondTheLimitAreRefusedWithAnAnswer() throws Exception {
    try (Daemon d = Daemon.start(dir(), Daemon.Options.builder().maxConnections(2).build());
        RawControl a = new RawControl(dir());
        RawControl b = new RawControl(dir())) {
      assertThat(a.send("version\n").answer()).startsWith("OK\n");
      assertThat(b.send("version\n").answer()).startsWith("OK\n");
      try (RawControl c = new RawControl(dir())) {
        assertThat(c.answer())
            .isEqualTo("ERR - EBUSY too many control connections (at most 2)\n.\n");
        assertThat(c.closedByDaemon()).isTrue();
      }
      assertThat(d.connectionCount()).isEqualTo(2);
    }
  }

  @Test
  void idleConnectionsAreClosedOnTheDaemonsClockButNotWhileWaiting() throws Exception {
    ManualClock clock = new ManualClock();
    Daemon.Options o =
        Daemon.Options.builder().clock(clock).idleTimeout(Duration.ofSeconds(60)).build();
    try (Daemon d = Daemon.start(dir(), o);
        RawControl idle = new RawControl(dir());
        RawControl waiting = new RawControl(dir())) {
      d.deviceMapper().create("v", "0 8 zero");
      assertThat(idle.send("version\n").answer()).startsWith("OK\n");
      waiting.send("wait name=v event=0\n");
      await("the wait waits", DaemonBadInputTest::aWaitIsWaiting);
      clock.advance(Duration.ofSeconds(59));
      assertThat(idle.send("version\n").answer()).startsWith("OK\n"); // activity at t=59
      clock.advance(Duration.ofSeconds(59));
      assertThat(isOpen(idle)).isTrue();
      clock.advance(Duration.ofSeconds(2)); // 61 s after the last activity
      assertThat(idle.closedByDaemon()).isTrue();
      clock.advance(Duration.ofMinutes(30));
      assertThat(isOpen(waiting)).as("a connection waiting for an event is not idle").isTrue();
      d.deviceMapper().rename("v", "w"); // an event
      assertThat(waiting.answer()).isEqualTo("OK\n.\n");
    }
  }

  private static boolean isOpen(RawControl c) throws IOException {
    c.ch.configureBlocking(false);
    try {
      return c.ch.read(ByteBuffer.allocate(1)) == 0;
    } finally {
      c.ch.configureBlocking(true);
    }
  }

  /** Whether a request thread is inside {@code MappedDevice.awaitEvent}. */
  private static boolean aWaitIsWaiting() {
    return Thread.getAllStackTraces().entrySet().stream()
        .anyMatch(
            e ->
                e.getKey().getName().startsWith("jdmsetup-request-")
                    && Arrays.stream(e.getValue())
                        .anyMatch(f -> f.getMethodName().equals("awaitEvent")));
  }

  private static long threads(String prefix) {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.isAlive() && t.getName().startsWith(prefix))
        .count();
  }

  private static long openFds() throws IOException {
    try (var s = Files.list(Path.of("/proc/self/fd"))) {
      return s.count();
    }
  }

  @Test
  void abandonedWaitsLeaveNoThreadAndNoSocket() throws Exception {
    try (Daemon d = Daemon.start(dir())) {
      d.deviceMapper().create("v", "0 8 zero");
      assertServes(dir());
      await("the first connection is gone", () -> d.connectionCount() == 0);
      long threadsBefore = threads("jdmsetup-");
      long fdsBefore = openFds();
      List<RawControl> waits = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        waits.add(new RawControl(dir()).send("wait name=v\n"));
      }
      await("200 waits run", () -> threads("jdmsetup-request-") == 200);
      assertThat(d.connectionCount()).isEqualTo(200);
      for (RawControl w : waits) {
        w.close();
      }
      await("every abandoned wait has ended", () -> d.connectionCount() == 0);
      await("their threads are gone", () -> threads("jdmsetup-") == threadsBefore);
      assertThat(openFds()).isLessThanOrEqualTo(fdsBefore);
      assertServes(dir());
    }
  }

  @Test
  void namesThatForgeOutputAndInvalidUtf8AreRefused() throws Exception {
    try (Daemon d = Daemon.start(dir());
        RawControl c = new RawControl(dir())) {
      assertThat(c.send("create name=a%0Ab table=0%208%20zero\n").answer())
          .isEqualTo(
              "ERR create EINVAL device name \"a\\x0ab\" contains the control character 0x0a at 1"
                  + " (names and uuids are printable UTF-8)\n.\n");
      assertThat(c.send("create name=%00\n").answer()).contains("control character 0x00");
      assertThat(c.send("create name=%FF%FE\n").answer())
          .isEqualTo("ERR - EINVAL bad request: not valid UTF-8\n.\n");
      byte[] raw = "create name=\u00ff\n".getBytes(StandardCharsets.ISO_8859_1);
      assertThat(c.send(raw).answer()).isEqualTo("ERR - EINVAL bad request: not valid UTF-8\n.\n");
      assertThat(c.send("create name=v uuid=u%09x\n").answer())
          .contains("uuid \"u\\x09x\" contains the control character 0x09");
      assertThat(d.deviceMapper().list()).isEmpty();
      Cli.Result r = new Cli(dir()).run("create", "a\tb", "--table", "0 8 zero").failed();
      assertThat(r.err())
          .isEqualTo(
              "device-mapper: create ioctl on a\tb  failed: Invalid argument\n"
                  + "device-mapper: ioctl: device name \"a\\x09b\" contains the control character"
                  + " 0x09 at 1 (names and uuids are printable UTF-8)\n"
                  + "Command failed.\n");
      assertThat(new Cli(dir()).run("ls").ok().out()).isEqualTo("No devices found\n");
    }
  }

  @Test
  void aCharacterDeviceIsRefusedAndNothingIsLeft() throws Exception {
    try (Daemon d = Daemon.start(dir())) {
      Cli.Result r = new Cli(dir()).run("create", "null", "--table", "0 100 linear /dev/null 0");
      assertThat(r.failed().err())
          .isEqualTo(
              "device-mapper: reload ioctl on null  failed: Block device required\n"
                  + "device-mapper: table: null: line 1: linear: Device lookup failed: /dev/null:"
                  + " not a block device or regular file (a character device)\n"
                  + "Command failed.\n");
      assertThat(d.deviceMapper().list()).isEmpty();
    }
  }

  @Test
  void tcpOnAnyAddressButLoopbackNeedsAllowRemote() {
    Cli cli = new Cli(dir());
    for (String listen : List.of(":10809", "0.0.0.0:0", "[::]:0", "192.0.2.1:10809")) {
      Cli.Result r = cli.run("daemon", "--listen", listen).failed();
      assertThat(r.err())
          .startsWith("jdmsetup: refusing to export every device over NBD on ")
          .endsWith(
              " without --allow-remote: anyone who reaches this address can read and write every"
                  + " device, unlocked LUKS volumes included (listen on 127.0.0.1 or [::1], or"
                  + " give --allow-remote)\n");
    }
    assertThat(cli.run("daemon", "--listen", ":10809").err()).contains(" on 0.0.0.0:10809 ");
    assertThat(Files.exists(dir().path())).as("nothing was started").isFalse();
    assertThatThrownBy(
            () -> Daemon.Options.builder().listen(new InetSocketAddress("0.0.0.0", 0)).build())
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(
            Daemon.Options.builder()
                .listen(new InetSocketAddress("0.0.0.0", 0))
                .allowRemote(true)
                .build()
                .allowRemote())
        .isTrue();
    Daemon.Options.builder().listen(new InetSocketAddress("127.0.0.1", 0)).build();
    Daemon.Options.builder().listen(new InetSocketAddress("::1", 0)).build();
  }

  @Test
  void everyCommandTakesHelp() {
    Cli.Result r = new Cli(dir()).run("daemon", "--help");
    assertThat(r.exit()).isZero();
    assertThat(r.out()).startsWith("Usage: jdmsetup daemon").contains("--allow-remote");
    assertThat(new Cli(dir()).run("create", "--help").out()).startsWith("Usage: jdmsetup create");
  }
}
