package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jdmsetup} creates, shows, waits on and messages a {@code mirror} as dmsetup does. */
class JdmsetupMirrorTest {
  @TempDir Path tmp;

  private Daemon daemon;
  private Cli cli;

  @BeforeEach
  void startDaemon() throws IOException {
    RuntimeDir dir = new RuntimeDir(tmp.resolve("run"));
    daemon = Daemon.start(dir);
    cli = new Cli(dir);
  }

  @AfterEach
  void stopDaemon() {
    daemon.close();
  }

  private Path disk(String name, long sectors) throws IOException {
    Path p = tmp.resolve(name);
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(sectors * 512);
    }
    return p;
  }

  @Test
  void mirrorTableStatusWaitAndNoMessages() throws Exception {
    Path a = disk("a", 2048);
    Path b = disk("b", 2048);
    cli.run("create", "la", "--table", "0 2048 linear " + a + " 0").ok();
    cli.run("create", "lb", "--table", "0 2048 linear " + b + " 0").ok();
    // a new mirror resynchronises, and raises an event once it is in sync
    CompletableFuture<Cli.Result> waiting =
        CompletableFuture.supplyAsync(() -> cli.run("wait", "m", "0"));
    cli.run(
            "create",
            "m",
            "--table",
            "0 2048 mirror core 1 1024 2 /dev/mapper/la 0 /dev/mapper/lb 0 1 handle_errors")
        .ok();
    Cli.Result woke = waiting.get(30, TimeUnit.SECONDS);
    if (woke.exit() != 0) {
      cli.run("wait", "m", "0").ok(); // the wait started before the device existed
    }
    assertThat(cli.run("table", "m").ok().out())
        .isEqualTo("0 2048 mirror core 1 1024 2 253:0 0 253:1 0 1 handle_errors\n");
    assertThat(cli.run("status", "m").ok().out())
        .isEqualTo("0 2048 mirror 2 253:0 253:1 2/2 1 AA 1 core\n");
    assertThat(cli.run("message", "m", "0", "sync").failed().err())
        .contains("failed: Invalid argument\n");
    assertThat(cli.run("targets").ok().out()).contains("mirror           v1.14.0\n");
    assertThat(
            cli.run("create", "bad", "--table", "0 2048 mirror core 1 1024 1 /dev/mapper/la 0")
                .failed()
                .err())
        .contains("Invalid number of mirrors");
    cli.run("remove", "m").ok();
  }
}
