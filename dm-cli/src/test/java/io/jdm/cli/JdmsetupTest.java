package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.BlockDevice;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every {@code jdmsetup} command through the real picocli entry point, against a daemon running in
 * this JVM on a temporary runtime folder: output text, stderr and exit codes as dmsetup's.
 */
class JdmsetupTest {
  @TempDir Path tmp;

  private RuntimeDir dir;
  private Daemon daemon;
  private Cli cli;

  @BeforeEach
  void startDaemon() throws IOException {
    dir = new RuntimeDir(tmp.resolve("run"));
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
  void versionPrintsLibraryAndDriver() {
    Cli.Result r = cli.run("version").ok();
    assertThat(r.out())
        .matches("Library version:   \\S+ \\(jdmsetup\\)\nDriver version:    4\\.48\\.0\n");
  }

  @Test
  void targetsListsEveryShippedTargetNewestFirst() {
    String out = cli.run("targets").ok().out();
    assertThat(out)
        .contains(
            "linear           v1.4.0\n", "error            v1.7.0\n", "zero             v1.2.0\n")
        .contains("basic_target     v1.0.0\n", "crypt ", "flakey ", "dust ", "log-writes ");
    assertThat(out).endsWith("error            v1.7.0\n");
  }

  @Test
  void lsWithoutDevices() {
    assertThat(cli.run("ls").ok().out()).isEqualTo("No devices found\n");
    assertThat(cli.run("table").ok().out()).isEqualTo("No devices found\n");
    assertThat(cli.run("status").ok().out()).isEqualTo("No devices found\n");
    assertThat(cli.run("info").ok().out()).isEqualTo("No devices found\n");
  }

  @Test
  void createListTableStatusInfo() {
    assertThat(cli.run("create", "vol", "--table", "0 100 zero").ok().out()).isEmpty();
    cli.run("create", "two", "--table", "0 50 error;50 50 zero").ok();
    assertThat(cli.run("ls").ok().out()).isEqualTo("two\t(253:1)\nvol\t(253:0)\n");
    assertThat(cli.run("table", "vol").ok().out()).isEqualTo("0 100 zero \n");
    assertThat(cli.run("table").ok().out())
        .isEqualTo("two: 0 50 error \ntwo: 50 50 zero \nvol: 0 100 zero \n");
    assertThat(cli.run("status", "two").ok().out()).isEqualTo("0 50 error \n50 50 zero \n");
    assertThat(cli.run("info", "vol").ok().out())
        .isEqualTo(
            "Name:              vol\n"
                + "State:             ACTIVE\n"
                + "Read Ahead:        256\n"
                + "Tables present:    LIVE\n"
                + "Open count:        0\n"
                + "Event number:      0\n"
                + "Major, minor:      253, 0\n"
                + "Number of targets: 1\n"
                + "\n");
    assertThat(cli.run("info", "-c").ok().out())
        .isEqualTo(
            "Name             Maj Min Stat Open Targ Event  UUID"
                + " ".repeat(28)
                + "\ntwo              253   1 L--w    0    2      0 "
                + " ".repeat(32)
                + "\nvol              253   0 L--w    0    1      0 "
                + " ".repeat(32)
                + "\n");
  }

  @Test
  void createReadsTableFromFileAndFromStdin() throws IOException {
    Path table = tmp.resolve("t.table");
    Files.writeString(table, "# a comment\n0 10 zero\n10 10 error\n");
    cli.run("create", "fromfile", table.toString()).ok();
    assertThat(cli.run("table", "fromfile").ok().out()).isEqualTo("0 10 zero \n10 10 error \n");
    cli.runWithInput("0 30 zero\n", "create", "fromstdin").ok();
    assertThat(cli.run("table", "fromstdin").ok().out()).isEqualTo("0 30 zero \n");
    Cli.Result missing = cli.run("create", "x", tmp.resolve("nope").toString()).failed();
    assertThat(missing.err()).contains("nope: No such file or directory");
  }

  @Test
  void createReadOnlyWithUuidAndNoTable() throws IOException {
    Path d = disk("d", 100);
    cli.run("create", "ro", "-r", "-u", "JDM-ro-1", "--table", "0 100 linear " + d + " 0").ok();
    assertThat(cli.run("info", "ro").ok().out())
        .contains("State:             ACTIVE (READ-ONLY)\n")
        .contains("UUID: JDM-ro-1\n");
    cli.run("create", "empty", "--notable").ok();
    assertThat(cli.run("info", "empty").ok().out()).contains("Tables present:    None\n");
    assertThat(cli.run("table", "empty").ok().out()).isEqualTo("\n");
  }

  @Test
  void loadSuspendResumeClear() throws IOException {
    cli.run("create", "vol", "--table", "0 100 zero").ok();
    cli.runWithInput("0 200 error\n", "load", "vol").ok();
    assertThat(cli.run("info", "vol").ok().out()).contains("Tables present:    LIVE & INACTIVE\n");
    assertThat(cli.run("table", "--inactive", "vol").ok().out()).isEqualTo("0 200 error \n");
    cli.run("clear", "vol").ok();
    assertThat(cli.run("info", "vol").ok().out()).contains("Tables present:    LIVE\n");
    cli.run("reload", "vol", "--table", "0 300 zero").ok();
    cli.run("suspend", "vol").ok();
    assertThat(cli.run("info", "vol").ok().out()).contains("State:             SUSPENDED\n");
    assertThat(cli.run("info", "-c", "vol").ok().out()).contains(" LIsw ");
    cli.run("resume", "vol").ok();
    assertThat(cli.run("info", "vol").ok().out())
        .contains("State:             ACTIVE\n", "Tables present:    LIVE\n");
    assertThat(cli.run("table", "vol").ok().out()).isEqualTo("0 300 zero \n");
    cli.run("suspend", "--noflush", "vol").ok();
    assertThat(cli.run("info", "vol").ok().out()).contains("SUSPENDED");
    cli.run("resume", "vol").ok();
  }

  @Test
  void removeRefusesAnOpenDeviceUnlessDeferred() throws IOException {
    cli.run("create", "vol", "--table", "0 100 zero").ok();
    BlockDevice handle = daemon.deviceMapper().device("vol").open();
    Cli.Result busy = cli.run("remove", "vol").failed();
    assertThat(busy.err())
        .startsWith("device-mapper: remove ioctl on vol  failed: Device or resource busy\n")
        .endsWith("Command failed.\n");
    Cli.Result forced = cli.run("remove", "--force", "vol").failed();
    assertThat(forced.err()).contains("Device or resource busy");
    assertThat(cli.run("table", "vol").ok().out()).isEqualTo("0 100 error \n");
    cli.run("remove", "--deferred", "vol").ok();
    assertThat(cli.run("info", "vol").ok().out()).contains("(DEFERRED REMOVE)");
    handle.close();
    assertThat(cli.run("ls").ok().out()).isEqualTo("No devices found\n");
    cli.run("create", "a", "--table", "0 10 zero").ok();
    cli.run("create", "b", "--table", "0 10 zero").ok();
    cli.run("remove", "a", "b").ok();
    cli.run("create", "c", "--table", "0 10 zero").ok();
    cli.run("create", "d", "--table", "0 10 linear c 0").ok();
    cli.run("remove_all").ok();
    assertThat(cli.run("ls").ok().out()).isEqualTo("No devices found\n");
  }

  @Test
  void renameAndSetUuid() {
    cli.run("create", "old", "--table", "0 10 zero").ok();
    cli.run("create", "other", "--table", "0 10 zero").ok();
    cli.run("rename", "old", "new").ok();
    assertThat(cli.run("ls").ok().out()).isEqualTo("new\t(253:0)\nother\t(253:1)\n");
    assertThat(cli.run("info", "new").ok().out()).contains("Event number:      1\n");
    Cli.Result taken = cli.run("rename", "new", "other").failed();
    assertThat(taken.err())
        .isEqualTo(
            "device-mapper: rename ioctl on new  failed: Device or resource busy\n"
                + "device-mapper: ioctl: Unable to change name on mapped device new to one that"
                + " already exists: other\n"
                + "Command failed.\n");
    cli.run("rename", "new", "--setuuid", "U-1").ok();
    assertThat(cli.run("info", "new").ok().out()).contains("UUID: U-1\n");
    assertThat(cli.run("rename", "new").failed().err()).contains("give NEW_NAME or --setuuid");
  }

  @Test
  void lsTreeAndDeps() throws IOException {
    Path d = disk("d", 200);
    cli.run("create", "base", "--table", "0 200 linear " + d + " 0").ok();
    cli.run("create", "left", "--table", "0 100 linear base 0").ok();
    cli.run("create", "right", "--table", "0 100 linear base 100").ok();
    cli.run("create", "top", "--table", "0 100 linear left 0;100 100 linear right 0").ok();
    assertThat(cli.run("ls", "--tree").ok().out())
        .isEqualTo(
            "top (253:3)\n"
                + " \u251c\u2500left (253:1)\n"
                + " \u2502  \u2514\u2500base (253:0)\n"
                + " \u2502     \u2514\u2500 (7:0)\n"
                + " \u2514\u2500right (253:2)\n"
                + "    \u2514\u2500base (253:0)\n"
                + "       \u2514\u2500 (7:0)\n");
    assertThat(cli.run("deps", "top").ok().out())
        .isEqualTo("2 dependencies\t: (253, 1) (253, 2)\n");
    assertThat(cli.run("deps").ok().out())
        .contains("base: 1 dependencies\t: (7, 0)\n", "left: 1 dependencies\t: (253, 0)\n");
  }

  @Test
  void tableHidesCryptKeysUnlessShowkeys() throws IOException {
    Path d = disk("c", 64);
    String key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    cli.run("create", "secret", "--table", "0 64 crypt aes-xts-plain64 " + key + " 0 " + d + " 0")
        .ok();
    String hidden = cli.run("table", "secret").ok().out();
    assertThat(hidden)
        .isEqualTo("0 64 crypt aes-xts-plain64 " + "0".repeat(64) + " 0 7:0 0\n")
        .doesNotContain(key);
    assertThat(cli.run("table").ok().out()).doesNotContain(key);
    assertThat(cli.run("table", "--showkeys", "secret").ok().out())
        .isEqualTo("0 64 crypt aes-xts-plain64 " + key + " 0 7:0 0\n");
  }

  @Test
  void messageRepliesAndRefusals() throws IOException {
    Path d = disk("dust", 64);
    cli.run("create", "dusty", "--table", "0 64 dust " + d + " 0 512").ok();
    assertThat(cli.run("message", "dusty", "0", "countbadblocks").ok().out())
        .isEqualTo("countbadblocks: 0 badblock(s) found\n");
    cli.run("message", "dusty", "0", "addbadblock", "5").ok();
    assertThat(cli.run("message", "dusty", "0", "countbadblocks").ok().out())
        .isEqualTo("countbadblocks: 1 badblock(s) found\n");
    Cli.Result outside = cli.run("message", "dusty", "64", "countbadblocks").failed();
    assertThat(outside.err())
        .isEqualTo(
            "device-mapper: message ioctl on dusty  failed: Invalid argument\n"
                + "device-mapper: ioctl: Target message sector outside device.\n"
                + "Command failed.\n");
    cli.run("create", "z", "--table", "0 10 zero").ok();
    assertThat(cli.run("message", "z", "0", "hello").failed().err())
        .contains("failed: Invalid argument\n");
    assertThat(cli.run("message", "z", "x", "hello").failed().err()).contains("Invalid sector x");
  }

  @Test
  void waitReturnsOnceTheEventNumberChanges() throws Exception {
    cli.run("create", "w", "--table", "0 10 zero").ok();
    CompletableFuture<Cli.Result> waiting =
        CompletableFuture.supplyAsync(() -> cli.run("wait", "w", "0"));
    // raises the event and keeps the name, before or after wait starts
    cli.run("rename", "w", "--setuuid", "W-1").ok();
    assertThat(waiting.get(30, TimeUnit.SECONDS).exit()).isZero();
    cli.run("wait", "w").ok(); // event 1 differs from the default 0: returns at once
    assertThat(cli.run("wait", "nope").failed().err())
        .isEqualTo("Device does not exist.\nCommand failed.\n");
  }

  @Test
  void unknownDeviceIsReportedAsDmsetupDoes() {
    for (String cmd : new String[] {"info", "table", "status", "deps"}) {
      Cli.Result r = cli.run(cmd, "nope").failed();
      assertThat(r.err()).as(cmd).isEqualTo("Device does not exist.\nCommand failed.\n");
      assertThat(r.out()).as(cmd).isEmpty();
    }
    String[][] ioctls = {
      {"remove", "remove"},
      {"suspend", "suspend"},
      {"resume", "resume"},
      {"clear", "clear"},
      {"load", "reload"},
    };
    for (String[] c : ioctls) {
      Cli.Result r =
          c[0].equals("load")
              ? cli.run("load", "nope", "--table", "0 1 zero")
              : cli.run(c[0], "nope");
      assertThat(r.failed().err())
          .as(c[0])
          .isEqualTo(
              "device-mapper: "
                  + c[1]
                  + " ioctl on nope  failed: No such device or address\nCommand failed.\n");
    }
    assertThat(cli.run("message", "nope", "0", "x").failed().err())
        .startsWith("device-mapper: message ioctl on nope  failed: No such device or address\n");
    assertThat(cli.run("rename", "nope", "x").failed().err())
        .startsWith("device-mapper: rename ioctl on nope  failed: No such device or address\n");
  }

  @Test
  void badTablesGiveTheKernelsReasonAndLeaveNothingBehind() {
    Cli.Result r = cli.run("create", "bad", "--table", "0 100 linear /nonexistent/disk");
    assertThat(r.failed().err())
        .isEqualTo(
            "device-mapper: reload ioctl on bad  failed: Invalid argument\n"
                + "device-mapper: table: bad: line 1: linear: Invalid argument count\n"
                + "Command failed.\n");
    assertThat(cli.run("create", "bad", "--table", "0 100 frobnicate").failed().err())
        .contains("line 1: frobnicate: unknown target type");
    assertThat(cli.run("create", "bad", "--table", "0 100 zero;200 10 zero").failed().err())
        .contains("device-mapper: table: bad: line 2:");
    assertThat(cli.run("ls").ok().out()).isEqualTo("No devices found\n");
    cli.run("create", "good", "--table", "0 10 zero").ok();
    assertThat(cli.run("create", "good", "--table", "0 10 zero").failed().err())
        .isEqualTo(
            "device-mapper: create ioctl on good  failed: Device or resource busy\n"
                + "device-mapper: ioctl: device good already exists\n"
                + "Command failed.\n");
    assertThat(cli.run("load", "good", "--table", "0 10 linear").failed().err())
        .startsWith("device-mapper: reload ioctl on good  failed: Invalid argument\n");
    assertThat(cli.run("table", "good").ok().out()).isEqualTo("0 10 zero \n");
  }

  @Test
  void badUsageExitsOne() {
    Cli.Result r = cli.run("create");
    assertThat(r.failed().err()).contains("Missing required parameter", "Usage: jdmsetup create");
    assertThat(cli.run("frobnicate").failed().err()).contains("Unmatched argument");
    assertThat(cli.run("suspend").failed().err())
        .isEqualTo("No device specified.\nCommand failed.\n");
    assertThat(cli.run("--help").ok().out()).contains("create", "daemon", "ls", "message");
  }

  @Test
  void everyCommandWithoutADaemonSaysHowToStartOne() {
    daemon.close();
    String expected = "jdmsetup: no daemon at " + dir + " (start one with `jdmsetup daemon`)\n";
    String[][] cmds = {
      {"create", "x", "--table", "0 1 zero"},
      {"load", "x", "--table", "0 1 zero"},
      {"suspend", "x"},
      {"resume", "x"},
      {"remove", "x"},
      {"remove_all"},
      {"rename", "x", "y"},
      {"clear", "x"},
      {"ls"},
      {"ls", "--tree"},
      {"table"},
      {"status", "x"},
      {"info"},
      {"deps"},
      {"message", "x", "0", "m"},
      {"targets"},
      {"wait", "x"},
      {"daemon", "--stop"},
    };
    for (String[] c : cmds) {
      Cli.Result r = cli.run(c);
      assertThat(r.exit()).as(String.join(" ", c)).isEqualTo(1);
      assertThat(r.err()).as(String.join(" ", c)).isEqualTo(expected);
    }
    Cli.Result v = cli.run("version").failed();
    assertThat(v.out()).startsWith("Library version:");
    assertThat(v.err()).isEqualTo(expected);
  }

  @Test
  void runtimeDirFromTheEnvironment() {
    cli.run("create", "envdev", "--table", "0 1 zero").ok();
    Cli.Result r = Cli.runIn(Map.of(RuntimeDir.ENV, dir.toString()), "", "ls");
    assertThat(r.ok().out()).isEqualTo("envdev\t(253:0)\n");
    Cli.Result xdg = Cli.runIn(Map.of("XDG_RUNTIME_DIR", tmp.toString()), "", "ls");
    assertThat(xdg.failed().err()).startsWith("jdmsetup: no daemon at " + tmp.resolve("jdm") + " ");
  }

  @Test
  void runtimeDirPrecedence() {
    Map<String, String> env = Map.of(RuntimeDir.ENV, "/a", "XDG_RUNTIME_DIR", "/x");
    assertThat(RuntimeDir.resolve("/o", env).path()).isEqualTo(Path.of("/o"));
    assertThat(RuntimeDir.resolve(null, env).path()).isEqualTo(Path.of("/a"));
    assertThat(RuntimeDir.resolve(null, Map.of("XDG_RUNTIME_DIR", "/x")).path())
        .isEqualTo(Path.of("/x/jdm"));
    assertThat(RuntimeDir.resolve(null, Map.of()).path())
        .isEqualTo(
            Path.of(
                System.getProperty("java.io.tmpdir"), "jdm-" + System.getProperty("user.name")));
  }
}
