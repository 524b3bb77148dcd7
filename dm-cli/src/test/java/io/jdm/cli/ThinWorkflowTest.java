package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jdm.core.DeviceMapper;
import io.jdm.core.Errno;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.TableException;
import io.jdm.nbd.NbdBlockDevice;
import io.jdm.targets.thin.PoolMetadataException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The thin provisioning sequence of the README through {@code jdmsetup} (what LVM and containerd's
 * devmapper snapshotter do): a pool, a thin device made by message, a snapshot of it taken while
 * suspended, a transaction id, deletes. Runs once the pool's persistent metadata is built (until
 * then {@code PersistentPoolMetadata.open} says it is not, and the test is skipped).
 */
class ThinWorkflowTest {
  private static final int POOL = 8192;
  private static final int THIN = 2048;

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

  /** Skips while the service-loaded thin-pool's metadata says it is not built yet. */
  private static void assumePersistentMetadata() throws IOException {
    try (DeviceMapper dm = DeviceMapper.create();
        MemoryBlockDevice m = MemoryBlockDevice.create("m", 8192);
        MemoryBlockDevice d = MemoryBlockDevice.create("d", 1024)) {
      dm.registerDevice("m", m);
      dm.registerDevice("d", d);
      dm.create("probe", "0 1024 thin-pool m d 128 0").remove();
    } catch (TableException e) {
      for (Throwable t = e; t != null; t = t.getCause()) {
        if (t instanceof PoolMetadataException pe) {
          assumeTrue(pe.errno() != Errno.EOPNOTSUPP, "persistent pool metadata: " + t.getMessage());
        }
      }
      throw e;
    }
  }

  private Path file(String name, long sectors) throws IOException {
    Path p = tmp.resolve(name);
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(sectors * 512);
    }
    return p;
  }

  private byte[] read(String dev) throws IOException {
    try (NbdBlockDevice d = NbdBlockDevice.open(dir.nbdUri(dev))) {
      byte[] b = new byte[THIN * 512];
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
  void poolThinSnapshotAndDeleteThroughJdmsetup() throws Exception {
    assumePersistentMetadata();
    Path meta = file("meta.img", 8192);
    Path data = file("data.img", POOL);
    cli.run("create", "pool", "--table", "0 " + POOL + " thin-pool " + meta + " " + data + " 128 8")
        .ok();
    cli.run("message", "pool", "0", "create_thin", "0").ok();
    cli.run("message", "pool", "0", "create_thin", "16777216").failed();
    cli.run("create", "thin0", "--table", "0 " + THIN + " thin pool 0").ok();
    byte[] a = new byte[64 * 512];
    Arrays.fill(a, (byte) 0xA1);
    write("thin0", 0, a);
    assertThat(cli.run("status", "thin0").ok().out()).isEqualTo("0 2048 thin 128 127\n");

    cli.run("suspend", "thin0").ok();
    cli.run("message", "pool", "0", "create_snap", "1", "0").ok();
    cli.run("resume", "thin0").ok();
    cli.run("create", "snap1", "--table", "0 " + THIN + " thin pool 1").ok();
    byte[] b = new byte[8 * 512];
    Arrays.fill(b, (byte) 0xB2);
    write("thin0", 0, b); // breaks sharing: the snapshot keeps a
    byte[] snapView = new byte[THIN * 512];
    System.arraycopy(a, 0, snapView, 0, a.length);
    assertThat(read("snap1")).isEqualTo(snapView);
    byte[] originView = snapView.clone();
    System.arraycopy(b, 0, originView, 0, b.length);
    assertThat(read("thin0")).isEqualTo(originView);

    cli.run("message", "pool", "0", "set_transaction_id", "0", "1").ok();
    assertThat(cli.run("status", "pool").ok().out())
        .matches(
            "0 8192 thin-pool 1 \\d+/\\d+ 2/64 - rw discard_passdown queue_if_no_space - \\d+ \n");

    cli.run("message", "pool", "0", "delete", "1").failed(); // still open
    cli.run("remove", "snap1").ok();
    cli.run("message", "pool", "0", "delete", "1").ok();
    cli.run("remove", "thin0").ok();
    cli.run("message", "pool", "0", "delete", "0").ok();
    assertThat(cli.run("status", "pool").ok().out()).contains(" 0/64 - rw ");
    cli.run("remove", "pool").ok();
    assertThat(cli.run("ls").ok().out()).isEqualTo("No devices found\n");
  }
}
