package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.testkit.ManualClock;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jdmsetup} shows a multipath device's table and status and sends it the kernel's messages,
 * with dmsetup's error text for a refused one. The two paths are two names of one file (a file and
 * a hard link to it), so both reach the same storage. A daemon started with {@code --path-checker}
 * reinstates a failed path that answers by itself.
 */
class JdmsetupMultipathTest {
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

  @Test
  void statusTableAndMessages() throws IOException {
    Path a = tmp.resolve("lun");
    try (RandomAccessFile f = new RandomAccessFile(a.toFile(), "rw")) {
      f.setLength(128 * 512);
    }
    Path b = Files.createLink(tmp.resolve("lun-path2"), a);
    cli.run(
            "create",
            "mp",
            "--table",
            "0 128 multipath 1 queue_if_no_path 0 1 1 round-robin 0 2 1 " + a + " 1 " + b + " 1")
        .ok();
    String table = cli.run("table", "mp").ok().out();
    assertThat(table)
        .matches("0 128 multipath 1 queue_if_no_path 0 1 1 round-robin 0 2 1 7:\\d+ 1 7:\\d+ 1 \n");
    String dev = table.split(" ")[12];
    assertThat(cli.run("status", "mp").ok().out())
        .matches("0 128 multipath 2 1 0 0 1 1 E 0 2 0 7:\\d+ A 0 7:\\d+ A 0 \n");
    cli.run("message", "mp", "0", "fail_path", dev).ok();
    assertThat(cli.run("status", "mp").ok().out()).contains(" " + dev + " F 1 ");
    assertThat(cli.run("info", "mp").ok().out()).contains("Event number:      1\n");
    cli.run("message", "mp", "0", "reinstate_path", dev).ok();
    assertThat(cli.run("status", "mp").ok().out()).contains(" " + dev + " A 1 ");
    cli.run("message", "mp", "0", "fail_if_no_path").ok();
    assertThat(cli.run("table", "mp").ok().out()).startsWith("0 128 multipath 0 0 1 1 ");
    Cli.Result bad = cli.run("message", "mp", "0", "switch_group", "2").failed();
    assertThat(bad.err())
        .isEqualTo(
            "device-mapper: message ioctl on mp  failed: Invalid argument\n"
                + "device-mapper: ioctl: invalid PG number supplied to switch_pg_num\n"
                + "Command failed.\n");
    cli.run("remove", "mp").ok();
  }

  private Path lun() throws IOException {
    Path a = tmp.resolve("lun");
    try (RandomAccessFile f = new RandomAccessFile(a.toFile(), "rw")) {
      f.setLength(128 * 512);
    }
    return a;
  }

  @Test
  void thePathCheckerReinstatesAPathThatAnswers() throws IOException {
    Path a = lun();
    Path b = Files.createLink(tmp.resolve("lun-path2"), a);
    ManualClock clock = new ManualClock();
    RuntimeDir dir = new RuntimeDir(tmp.resolve("run-checked"));
    Daemon.Options o =
        Daemon.Options.builder().clock(clock).pathChecker(Duration.ofSeconds(5)).build();
    Daemon d = Daemon.start(dir, o);
    try {
      Cli c = new Cli(dir);
      c.run("create", "mp", "--table", "0 128 multipath 0 0 1 1 round-robin 0 2 0 " + a + " " + b)
          .ok();
      String dev = c.run("table", "mp").ok().out().split(" ")[11];
      c.run("message", "mp", "0", "fail_path", dev).ok();
      assertThat(c.run("status", "mp").ok().out()).contains(" " + dev + " F 1 ");
      clock.advance(Duration.ofMillis(4999));
      assertThat(c.run("status", "mp").ok().out()).contains(" " + dev + " F 1 ");
      clock.advance(Duration.ofMillis(1)); // the checker's round: the file answers
      long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
      while (!c.run("status", "mp").ok().out().contains(" " + dev + " A 1 ")) {
        assertThat(System.nanoTime()).as("the path reinstated").isLessThan(deadline);
        Thread.yield();
      }
      c.run("remove", "mp").ok();
    } finally {
      d.close();
    }
  }

  @Test
  void withoutThePathCheckerAFailedPathStaysFailed() throws IOException {
    Path a = lun();
    Path b = Files.createLink(tmp.resolve("lun-path2"), a);
    ManualClock clock = new ManualClock();
    RuntimeDir dir = new RuntimeDir(tmp.resolve("run-unchecked"));
    Daemon d = Daemon.start(dir, Daemon.Options.builder().clock(clock).build());
    try {
      Cli c = new Cli(dir);
      c.run("create", "mp", "--table", "0 128 multipath 0 0 1 1 round-robin 0 2 0 " + a + " " + b)
          .ok();
      String dev = c.run("table", "mp").ok().out().split(" ")[11];
      c.run("message", "mp", "0", "fail_path", dev).ok();
      clock.advance(Duration.ofMinutes(1));
      assertThat(c.run("status", "mp").ok().out()).contains(" " + dev + " F 1 ");
      c.run("remove", "mp").ok();
    } finally {
      d.close();
    }
  }

  @Test
  void aPathCheckerIntervalBelowASecondIsRefused() {
    Cli.Result r = cli.run("daemon", "--path-checker", "0").failed();
    assertThat(r.err()).isEqualTo("jdmsetup: --path-checker 0: expected seconds >= 1\n");
  }
}
