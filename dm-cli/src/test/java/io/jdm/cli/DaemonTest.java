package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon's life: one per folder, stale state, clean stops (in this JVM and as a process). */
class DaemonTest {
  @TempDir Path tmp;

  @Test
  void aSecondDaemonOnTheSameFolderIsRefused() throws Exception {
    RuntimeDir dir = new RuntimeDir(tmp.resolve("run"));
    try (Daemon d = Daemon.start(dir)) {
      assertThat(d.runtimeDir()).isEqualTo(dir);
      Cli.Result r = new Cli(dir).run("daemon").failed();
      assertThat(r.err())
          .isEqualTo(
              "jdmsetup: a daemon is already running on "
                  + dir
                  + " (pid "
                  + ProcessHandle.current().pid()
                  + ")\n");
      assertThat(new Cli(dir).run("ls").ok().out()).isEqualTo("No devices found\n");
    }
  }

  @Test
  void staleSocketsAndPidFileAreReplaced() throws Exception {
    RuntimeDir dir = new RuntimeDir(tmp.resolve("run"));
    Files.createDirectories(dir.path());
    // what a killed daemon leaves: socket files nobody listens on, a pid file nobody locks
    for (Path p : List.of(dir.controlSocket(), dir.nbdSocket())) {
      ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
      s.bind(UnixDomainSocketAddress.of(p));
      s.close();
      assertThat(p).exists();
    }
    Files.writeString(dir.pidFile(), "999999999\n");
    Cli cli = new Cli(dir);
    assertThat(cli.run("ls").failed().err())
        .isEqualTo("jdmsetup: no daemon at " + dir + " (start one with `jdmsetup daemon`)\n");
    try (Daemon d = Daemon.start(dir)) {
      cli.run("create", "v", "--table", "0 8 zero").ok();
      assertThat(d.deviceMapper().list()).hasSize(1);
      assertThat(Files.readString(dir.pidFile()).trim())
          .isEqualTo(Long.toString(ProcessHandle.current().pid()));
      assertThat(Files.readString(dir.logFile()))
          .contains("removed stale socket " + dir.controlSocket());
    }
    assertThat(dir.controlSocket()).doesNotExist();
    assertThat(dir.nbdSocket()).doesNotExist();
    assertThat(dir.pidFile()).doesNotExist();
  }

  @Test
  void stopRequestTearsDownBeforeAnswering() throws Exception {
    RuntimeDir dir = new RuntimeDir(tmp.resolve("run"));
    Daemon d = Daemon.start(dir);
    Cli cli = new Cli(dir);
    cli.run("create", "v", "--table", "0 8 zero").ok();
    assertThat(cli.run("daemon", "--stop").ok().out()).isEmpty();
    d.awaitTermination(); // returns: the stop request released it
    assertThat(d.deviceMapper().list()).isEmpty();
    assertThat(dir.controlSocket()).doesNotExist();
    assertThat(dir.nbdSocket()).doesNotExist();
    assertThat(dir.pidFile()).doesNotExist();
    assertThat(Files.readString(dir.logFile())).contains("stopped");
    d.close(); // idempotent
  }

  @Test
  void tooLongARuntimeFolderIsRefusedClearly() {
    RuntimeDir dir = new RuntimeDir(tmp.resolve("x".repeat(120)));
    assertThatThrownBy(() -> Daemon.start(dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("too long for a Unix socket");
    Cli.Result r = new Cli(dir).run("daemon");
    assertThat(r.failed().err()).contains("cannot start the daemon", "too long");
  }

  @Test
  void listenAlsoExportsOverTcp() throws Exception {
    RuntimeDir dir = new RuntimeDir(tmp.resolve("run"));
    try (Daemon d =
        Daemon.start(
            dir,
            Daemon.Options.builder()
                .listen(new java.net.InetSocketAddress("127.0.0.1", 0))
                .build())) {
      assertThat(d.nbdAddresses()).hasSize(2);
      assertThat(d.nbdAddresses().get(1)).isInstanceOf(java.net.InetSocketAddress.class);
    }
  }

  /** The real main in a new process: --background returns once it serves; SIGTERM stops it. */
  @Test
  void backgroundDaemonStopsOnStopAndOnSigterm() throws Exception {
    RuntimeDir dir = new RuntimeDir(tmp.resolve("run"));
    List<String> cmd = new ArrayList<>(Cli.javaCommand());
    cmd.addAll(List.of("daemon", "--background", "--runtime-dir", dir.toString()));
    Cli.Result started = Cli.exec(Map.of(), cmd.toArray(new String[0]));
    assertThat(started.exit()).as(started.out()).isZero();
    assertThat(started.out()).startsWith("jdmsetup: daemon ").contains("serving on " + dir);
    Cli cli = new Cli(dir);
    cli.run("create", "bg", "--table", "0 8 zero").ok();
    long pid = Long.parseLong(Files.readString(dir.pidFile()).trim());
    ProcessHandle child = ProcessHandle.of(pid).orElseThrow();

    Cli.Result again = Cli.exec(Map.of(), cmd.toArray(new String[0]));
    assertThat(again.exit()).isEqualTo(1);
    assertThat(again.out())
        .contains("a daemon is already running on " + dir + " (pid " + pid + ")");

    assertThat(cli.run("daemon", "--stop").ok().out()).isEmpty();
    assertThat(child.onExit().get(30, TimeUnit.SECONDS).isAlive()).isFalse();
    assertThat(dir.controlSocket()).doesNotExist();

    started = Cli.exec(Map.of(), cmd.toArray(new String[0]));
    assertThat(started.exit()).as(started.out()).isZero();
    cli.run("create", "bg2", "--table", "0 8 zero").ok();
    pid = Long.parseLong(Files.readString(dir.pidFile()).trim());
    child = ProcessHandle.of(pid).orElseThrow();
    assertThat(child.destroy()).isTrue(); // SIGTERM
    assertThat(child.onExit().get(30, TimeUnit.SECONDS).isAlive()).isFalse();
    assertThat(dir.controlSocket()).doesNotExist();
    assertThat(dir.pidFile()).doesNotExist();
    assertThat(cli.run("ls").failed().err()).startsWith("jdmsetup: no daemon at ");
  }
}
