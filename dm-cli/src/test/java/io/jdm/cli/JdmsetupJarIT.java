package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipped artefacts as a user runs them, after {@code package}: the {@code dm-cli/jdmsetup}
 * launcher over {@code target/jdmsetup.jar} (every target inside, found by the ServiceLoader), and
 * {@code dm-cli/demo.sh}, the README's first screen, unmodified.
 */
class JdmsetupJarIT {
  @TempDir Path tmp;

  private static final Path LAUNCHER = Path.of("jdmsetup").toAbsolutePath();

  @Test
  void theJarCarriesEveryTarget() throws Exception {
    assertThat(Path.of(System.getProperty("jdmsetup.jar"))).exists();
    Map<String, String> env = Map.of("JDM_RUNTIME_DIR", tmp.resolve("run").toString());
    Cli.Result v = Cli.exec(env, LAUNCHER.toString(), "--version");
    assertThat(v.exit()).as(v.out()).isZero();
    assertThat(v.out()).startsWith("jdmsetup ");
    Cli.Result none = Cli.exec(env, LAUNCHER.toString(), "targets");
    assertThat(none.exit()).isEqualTo(1);
    assertThat(none.out())
        .isEqualTo(
            "jdmsetup: no daemon at "
                + tmp.resolve("run")
                + " (start one with `jdmsetup daemon`)\n");
    assertThat(Cli.exec(env, LAUNCHER.toString(), "daemon", "--background").exit()).isZero();
    try {
      Cli.Result t = Cli.exec(env, LAUNCHER.toString(), "targets");
      assertThat(t.exit()).as(t.out()).isZero();
      assertThat(t.out())
          .contains("basic_target ", "crypt ", "flakey ", "dust ", "log-writes ", "delay ")
          .contains("linear           v1.4.0\n");
    } finally {
      assertThat(Cli.exec(env, LAUNCHER.toString(), "daemon", "--stop").exit()).isZero();
    }
  }

  @Test
  void demoScriptAsShipped() throws Exception {
    Cli.require("qemu-io", "qemu-utils");
    Cli.Result r =
        Cli.exec(Map.of("TMPDIR", tmp.toString()), Path.of("demo.sh").toAbsolutePath().toString());
    assertThat(r.exit()).as(r.out()).isZero();
    Cli.assertDemoWroteSectorTen(r.out());
  }

  /**
   * A dmsetup/cryptsetup session through the launcher, one process per command: outputs, stderr and
   * exit codes as a user sees them (stderr is merged into the output here).
   */
  @Test
  void aSessionOfCommandsAsProcesses() throws Exception {
    Map<String, String> env = Map.of("JDM_RUNTIME_DIR", tmp.resolve("run").toString());
    Path disk = tmp.resolve("disk.img");
    Path key = tmp.resolve("key");
    java.nio.file.Files.write(
        key, "correct horse".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    Path wrong = tmp.resolve("wrong");
    java.nio.file.Files.write(wrong, "battery".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(disk.toFile(), "rw")) {
      f.setLength(20L << 20);
    }
    String j = LAUNCHER.toString();
    assertThat(Cli.exec(env, j, "daemon", "--background").exit()).isZero();
    try {
      Cli.Result r = Cli.exec(env, j, "create", "vol", "--table", "0 100 linear " + disk);
      assertThat(r.exit()).as(r.out()).isEqualTo(1);
      assertThat(r.out())
          .isEqualTo(
              "device-mapper: reload ioctl on vol  failed: Invalid argument\n"
                  + "device-mapper: table: vol: line 1: linear: Invalid argument count\n"
                  + "Command failed.\n");
      r = Cli.exec(env, j, "status", "nosuch");
      assertThat(r.exit()).isEqualTo(1);
      assertThat(r.out()).isEqualTo("Device does not exist.\nCommand failed.\n");
      r =
          Cli.exec(
              env,
              j,
              "luksFormat",
              "-q",
              "--pbkdf",
              "pbkdf2",
              "-i",
              "1000",
              "--key-file",
              key.toString(),
              disk.toString());
      assertThat(r.exit()).as(r.out()).isZero();
      r = Cli.exec(env, j, "open", "--key-file", wrong.toString(), disk.toString(), "secret");
      assertThat(r.exit()).isEqualTo(2);
      assertThat(r.out()).isEqualTo("No key available with this passphrase.\n");
      r = Cli.exec(env, j, "open", "--key-file", key.toString(), disk.toString(), "secret");
      assertThat(r.exit()).as(r.out()).isZero();
      r = Cli.exec(env, j, "ls");
      assertThat(r.out()).isEqualTo("secret\t(253:0)\n");
      r = Cli.exec(env, j, "close", "secret");
      assertThat(r.exit()).as(r.out()).isZero();
    } finally {
      assertThat(Cli.exec(env, j, "daemon", "--stop").exit()).isZero();
    }
  }
}
