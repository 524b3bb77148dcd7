package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The seed tutorial through jdmsetup, as the README shows it: {@code my_basic_target_device} over a
 * file, one sector written at sector 10 over NBD by qemu-io (or jdm's own client), the data in the
 * file at byte 5120, the target's log line in the daemon's log.
 */
class BasicTargetEndToEndTest {
  private static final String NAME = "my_basic_target_device";

  @TempDir Path tmp;

  private RuntimeDir dir;
  private Daemon daemon;
  private Cli cli;
  private Path disk;

  @BeforeEach
  void start() throws IOException {
    dir = new RuntimeDir(tmp.resolve("run"));
    daemon = Daemon.start(dir);
    cli = new Cli(dir);
    disk = tmp.resolve("disk1");
    try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
      f.setLength(20000L * 512);
    }
    cli.run("create", NAME, "--table", "0 20000 basic_target " + disk + " 0").ok();
  }

  @AfterEach
  void stop() {
    daemon.close();
  }

  private void assertSectorTenIs(byte pattern) throws IOException {
    byte[] all = Files.readAllBytes(disk);
    for (int i = 0; i < all.length; i++) {
      byte expected = i >= 5120 && i < 5632 ? pattern : 0;
      if (all[i] != expected) {
        throw new AssertionError("byte " + i + " of the disk file is " + all[i]);
      }
    }
    assertThat(Files.readString(dir.logFile()))
        .contains("INFO basic_target_ctr: 20000 sectors on " + disk + " from sector 0\n")
        .contains("INFO basic_target_map: write of 512 bytes at sector 10\n");
  }

  @Test
  void qemuIoWritesSectorTen() throws Exception {
    Cli.require("qemu-io", "qemu-utils");
    String uri = "nbd+unix:///" + NAME + "?socket=" + dir.nbdSocket();
    assertThat(uri).isEqualTo(dir.nbdUri(NAME));
    Cli.Result w = Cli.exec(Map.of(), "qemu-io", "-f", "raw", uri, "-c", "write -P 0x5a 5120 512");
    assertThat(w.exit()).as(w.out()).isZero();
    assertThat(w.out()).contains("wrote 512/512 bytes at offset 5120");
    assertSectorTenIs((byte) 0x5a);
    Cli.Result r = Cli.exec(Map.of(), "qemu-io", "-f", "raw", uri, "-c", "read -P 0x5a 5120 512");
    assertThat(r.exit()).as(r.out()).isZero();
    assertThat(r.out()).contains("read 512/512 bytes at offset 5120");
    assertThat(Files.readString(dir.logFile()))
        .contains("INFO basic_target_map: read of 512 bytes at sector 10\n");
    cli.run("remove", NAME).ok();
    assertThat(Files.readString(dir.logFile())).contains("basic_target_dtr: releasing");
  }

  @Test
  void jdmsNbdClientWritesSectorTen() throws Exception {
    Cli.Result w = cli.run("nbd-write", "--pattern", "0x33", dir.nbdUri(NAME), "5120", "512").ok();
    assertThat(w.out()).isEqualTo("wrote 512/512 bytes at offset 5120\n");
    assertSectorTenIs((byte) 0x33);
  }

  /** dm-cli/demo.sh, the README's first screen, with jdmsetup run from this build's classes. */
  @Test
  void demoScriptRunsTheTutorial() throws Exception {
    Cli.require("qemu-io", "qemu-utils");
    Path script = Path.of("demo.sh").toAbsolutePath();
    assertThat(script).isExecutable();
    List<String> java = new ArrayList<>(Cli.javaCommand());
    Cli.Result r =
        Cli.exec(
            Map.of("JDMSETUP", String.join(" ", java), "TMPDIR", tmp.toString()),
            script.toString());
    assertThat(r.exit()).as(r.out()).isZero();
    assertThat(r.out())
        .contains("$ jdmsetup create my_basic_target_device --table '0 20000 basic_target ")
        .contains("$ jdmsetup daemon --stop\n");
    Cli.assertDemoWroteSectorTen(r.out());
    if (!r.out().contains("$ dd if=/dev/zero")) {
      assertThat(r.out()).contains("wrote 512/512 bytes at offset 5120");
    }
    assertThat(Arrays.asList(tmp.toFile().list())).doesNotContain("jdm-demo");
  }
}
