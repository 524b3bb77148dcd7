package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.nbd.NbdBlockDevice;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The LVM snapshot workflow of the README through {@code jdmsetup} and NBD: a snapshot of a device
 * in use (suspend, the origin under its name, the snapshot, resume), read and written, merged back,
 * removed.
 */
class SnapshotWorkflowTest {
  private static final int SECTORS = 8192;

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

  private Path disk(String name) throws IOException {
    Path p = tmp.resolve(name);
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(SECTORS * 512L);
    }
    return p;
  }

  private byte[] read(String dev) throws IOException {
    try (NbdBlockDevice d = NbdBlockDevice.open(dir.nbdUri(dev))) {
      byte[] b = new byte[SECTORS * 512];
      d.read(ByteBuffer.wrap(b), 0);
      return b;
    }
  }

  private void write(String dev, long offset, byte[] data) throws IOException {
    try (NbdBlockDevice d = NbdBlockDevice.open(dir.nbdUri(dev))) {
      d.write(ByteBuffer.wrap(data), offset);
      d.flush();
    }
  }

  @Test
  void snapshotOfADeviceInUseReadWrittenMergedAndRemoved() throws IOException {
    Path pv = disk("pv.img");
    Path cow = disk("cow.img");
    byte[] a = new byte[SECTORS * 512];
    new Random(42).nextBytes(a);
    Files.write(pv, a);
    String linear = "0 " + SECTORS + " linear " + pv + " 0";
    cli.run("create", "vg-lv", "--table", linear).ok();

    // lvcreate -s: the origin moves under vg-lv-real, vg-lv becomes snapshot-origin
    cli.run("create", "vg-lv-real", "--table", linear).ok();
    cli.run("suspend", "vg-lv").ok();
    cli.run("create", "vg-snap", "--table", "0 " + SECTORS + " snapshot vg-lv-real " + cow + " P 8")
        .ok();
    cli.run("reload", "vg-lv", "--table", "0 " + SECTORS + " snapshot-origin vg-lv-real").ok();
    cli.run("resume", "vg-lv").ok();
    assertThat(cli.run("table", "vg-snap").ok().out())
        .matches("0 8192 snapshot 253:1 \\d+:\\d+ P 8\n");
    assertThat(cli.run("table", "vg-lv").ok().out()).isEqualTo("0 8192 snapshot-origin 253:1\n");
    assertThat(cli.run("status", "vg-snap").ok().out()).isEqualTo("0 8192 snapshot 16/8192 16\n");

    byte[] b = new byte[64 * 512];
    Arrays.fill(b, (byte) 0xB1);
    write("vg-lv", 100 * 512, b); // the origin changes; the snapshot keeps what was
    byte[] c = new byte[8 * 512];
    Arrays.fill(c, (byte) 0xC2);
    write("vg-snap", 4000 * 512, c); // the snapshot's own write
    byte[] snapView = a.clone();
    System.arraycopy(c, 0, snapView, 4000 * 512, c.length);
    assertThat(read("vg-snap")).isEqualTo(snapView);
    byte[] originView = a.clone();
    System.arraycopy(b, 0, originView, 100 * 512, b.length);
    assertThat(read("vg-lv")).isEqualTo(originView);

    // lvconvert --merge: the merge table in place of the origin takes the snapshot's exceptions
    cli.run("suspend", "vg-lv").ok();
    cli.run("suspend", "vg-snap").ok();
    cli.run(
            "reload",
            "vg-lv",
            "--table",
            "0 " + SECTORS + " snapshot-merge vg-lv-real " + cow + " P 8")
        .ok();
    cli.run("resume", "vg-lv").ok();
    cli.run("remove", "vg-snap").ok();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!cli.run("status", "vg-lv").ok().out().equals("0 8192 snapshot-merge 16/8192 16\n")) {
      assertThat(System.nanoTime()).as("merge finishes").isLessThan(deadline);
      Thread.onSpinWait();
    }
    assertThat(read("vg-lv")).isEqualTo(snapView);

    // merged: vg-lv is a plain linear device again, the snapshot's COW unused
    cli.run("reload", "vg-lv", "--table", linear).ok();
    cli.run("resume", "vg-lv").ok();
    cli.run("remove", "vg-lv-real").ok();
    assertThat(read("vg-lv")).isEqualTo(snapView);
    assertThat(Files.readAllBytes(pv)).isEqualTo(snapView);
    cli.run("remove", "vg-lv").ok();
    assertThat(cli.run("ls").ok().out()).isEqualTo("No devices found\n");
  }
}
