package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.MappedDevice;
import io.jdm.nbd.NbdBlockDevice;
import io.jdm.testkit.ExternalTools;
import java.io.File;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A mirror whose legs live on other hosts: two NBD exports, each served by its own {@code nbdkit}
 * process (memory plugin), mirrored by the jdm daemon and exported again on its NBD socket, where
 * {@code fio --verify=crc32c} writes and then verifies. One leg's server is killed (SIGKILL) while
 * fio writes: the event wakes {@code jdmsetup wait}, status shows the leg {@code D}, the writes are
 * held ({@code handle_errors}) and fio keeps waiting; a new server comes up in its place (empty: a
 * memory plugin keeps nothing), the table is reloaded over it with a {@code --noflush} suspend (the
 * held writes are reissued), the mirror resynchronises from the surviving leg, fio finishes and
 * verifies, and the two exports compare equal.
 */
class MirrorOverNbdkitTest {
  private static final long BYTES = 32L << 20;
  private static final long SECTORS = BYTES / 512;
  private static final int REGIONS = (int) (SECTORS / 64);

  @TempDir Path tmp;

  private Daemon daemon;
  private Cli cli;
  private Process fio;
  private final Process[] servers = new Process[3];

  @BeforeEach
  void start() throws IOException {
    ExternalTools.require("nbdkit", "nbdkit");
    ExternalTools.require("fio", "fio");
    RuntimeDir dir = new RuntimeDir(tmp.resolve("run"));
    daemon = Daemon.start(dir);
    cli = new Cli(dir);
  }

  @AfterEach
  void stop() {
    if (fio != null) {
      fio.destroyForcibly();
    }
    daemon.close();
    for (Process p : servers) {
      if (p != null) {
        p.destroyForcibly();
      }
    }
  }

  /** {@code nbdkit -f -U SOCKET memory 32M}, once its socket is there. */
  private Process nbdkit(Path socket) throws IOException {
    Process p =
        new ProcessBuilder("nbdkit", "-f", "-U", socket.toString(), "memory", "size=" + BYTES)
            .redirectErrorStream(true)
            .redirectOutput(tmp.resolve(socket.getFileName() + ".log").toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .start();
    await(() -> Files.exists(socket) || !p.isAlive(), "nbdkit on " + socket);
    assertThat(p.isAlive()).as("nbdkit on %s started", socket).isTrue();
    return p;
  }

  private static String uri(Path socket) {
    return "nbd+unix:///?socket=" + socket;
  }

  /** Waits (at most a minute; nothing about time is asserted) until {@code cond} holds. */
  private static void await(BooleanSupplier cond, String what) {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
    while (!cond.getAsBoolean()) {
      assertThat(System.nanoTime()).as("waiting for " + what).isLessThan(deadline);
      Thread.onSpinWait();
      Thread.yield();
    }
  }

  @Test
  void aLegServerDiesUnderFioComesBackAndResyncs() throws Exception {
    Path sa = tmp.resolve("a.sock");
    Path sb = tmp.resolve("b.sock");
    Path sa2 = tmp.resolve("a2.sock");
    servers[0] = nbdkit(sa);
    servers[1] = nbdkit(sb);
    cli.run(
            "create",
            "m",
            "--table",
            "0 "
                + SECTORS
                + " mirror core 2 64 nosync 2 "
                + uri(sa)
                + " 0 "
                + uri(sb)
                + " 0 1 handle_errors")
        .ok();
    MappedDevice md = daemon.deviceMapper().device("m");
    int event = md.eventNr();
    CompletableFuture<Cli.Result> waiting =
        CompletableFuture.supplyAsync(() -> cli.run("wait", "m", Integer.toString(event)));

    Path fioLog = tmp.resolve("fio.log");
    fio =
        new ProcessBuilder(
                "fio",
                "--name=mirror",
                "--ioengine=nbd",
                "--uri=" + daemon.runtimeDir().nbdUri("m"),
                "--rw=randwrite",
                "--bs=4k",
                "--size=" + (BYTES / 2),
                "--iodepth=8",
                "--verify=crc32c",
                "--verify_fatal=1",
                "--do_verify=1",
                "--randseed=11")
            .directory(tmp.toFile()) // fio leaves its verify state file in the working folder
            .redirectErrorStream(true)
            .redirectOutput(fioLog.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .start();
    await(() -> md.stats().writeIos() >= 200 || !fio.isAlive(), "fio writing");
    assertThat(fio.isAlive()).as("fio still writing").isTrue();

    servers[0].destroyForcibly(); // leg A's host goes away under load
    servers[0].waitFor();
    Cli.Result woke = waiting.get(30, TimeUnit.SECONDS);
    assertThat(woke.exit()).as(woke.err()).isZero();
    await(() -> cli.run("status", "m").ok().out().contains(" 1 DA 1 core"), "leg A shown D");
    assertThat(fio.isAlive()).as("fio waits for its held writes").isTrue();

    // leg A's host comes back, empty; the surviving leg B leads the new table and A is copied
    servers[2] = nbdkit(sa2);
    cli.run(
            "load",
            "m",
            "--table",
            "0 "
                + SECTORS
                + " mirror core 1 64 2 "
                + uri(sb)
                + " 0 "
                + uri(sa2)
                + " 0 1 handle_errors")
        .ok();
    cli.run("suspend", "--noflush", "m").ok();
    cli.run("resume", "m").ok();

    assertThat(fio.waitFor(2, TimeUnit.MINUTES)).as("fio finished").isTrue();
    String out = Files.readString(fioLog, StandardCharsets.UTF_8);
    assertThat(fio.exitValue()).as(out).isZero();
    assertThat(out).contains("Run status group 0").doesNotContain("verify: bad");
    String done = " " + REGIONS + "/" + REGIONS + " 1 AA 1 core";
    await(() -> cli.run("status", "m").ok().out().contains(done), "resync");

    try (NbdBlockDevice b = NbdBlockDevice.connect(UnixDomainSocketAddress.of(sb), "", true);
        NbdBlockDevice a = NbdBlockDevice.connect(UnixDomainSocketAddress.of(sa2), "", true)) {
      ByteBuffer x = ByteBuffer.allocate(1 << 20);
      ByteBuffer y = ByteBuffer.allocate(1 << 20);
      for (long pos = 0; pos < BYTES; pos += x.capacity()) {
        b.read(x.clear(), pos);
        a.read(y.clear(), pos);
        assertThat(y.flip()).as("legs equal at byte %d", pos).isEqualTo(x.flip());
      }
    }
    cli.run("remove", "m").ok();
  }
}
