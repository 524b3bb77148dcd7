package io.jdm.core.bufio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jdm.core.FileBlockDevice;
import io.jdm.core.MemoryBlockDevice;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link BufioClient} with {@link ChecksumValidator} on thin-pool metadata of the real
 * thin-provisioning-tools: the checked-in blocks that {@code thin_restore} wrote always, and, where
 * {@code thin_restore}, {@code thin_dump} and {@code thin_check} are installed (Debian's {@code
 * thin-provisioning-tools}), fresh metadata changed through a client and judged by the tools.
 */
class ThinToolsInteropTest {
  private static final int BS = 4096;
  private static final int TRANSACTION_ID = 48; // thin_disk_superblock.trans_id

  @Test
  void readsThinRestoreMetadataThroughABufioClient() throws Exception {
    MemoryBlockDevice disk = MemoryBlockDevice.create("tmeta", 8 * BS / 512);
    disk.write(ByteBuffer.wrap(ChecksumValidatorTest.fixture()), 0);
    try (BufioClient c = BufioClient.builder(disk, BS).build()) {
      try (HeldBlock sb = c.read(0, ChecksumValidatorTest.SUPERBLOCK);
          HeldBlock root =
              c.read(LittleEndian.getLong(sb.data(), 320), ChecksumValidatorTest.BTREE_NODE)) {
        assertThat(LittleEndian.getLong(sb.data(), TRANSACTION_ID)).isEqualTo(7);
        assertThat(root.number()).isEqualTo(7);
        // node_header: flags at 4 (LEAF_NODE = 2), nr_entries at 16 (one thin device)
        assertThat(LittleEndian.getInt(root.data(), 4)).isEqualTo(2);
        assertThat(LittleEndian.getInt(root.data(), 16)).isEqualTo(1);
      }
    }
  }

  @Test
  void thinToolsAcceptASuperblockChangedThroughBufio(@TempDir Path dir) throws Exception {
    assumeTrue(
        installed("thin_restore") && installed("thin_dump") && installed("thin_check"),
        "thin-provisioning-tools are not installed");
    Path xml = dir.resolve("meta.xml");
    try (InputStream in = getClass().getResourceAsStream("thin-restore-metadata.xml")) {
      Files.write(xml, in.readAllBytes());
    }
    Path meta = dir.resolve("meta.bin");
    Files.write(meta, new byte[0]);
    try (var f = java.nio.channels.FileChannel.open(meta, java.nio.file.StandardOpenOption.WRITE)) {
      f.truncate(0).write(ByteBuffer.allocate(1), (4 << 20) - 1);
    }
    assertThat(run("thin_restore", "-i", xml.toString(), "-o", meta.toString())).isEmpty();

    try (FileBlockDevice dev = FileBlockDevice.open(meta);
        BufioClient c = BufioClient.builder(dev, BS).build()) {
      try (HeldBlock sb = c.readForWrite(0, ChecksumValidatorTest.SUPERBLOCK)) {
        assertThat(LittleEndian.getLong(sb.data(), TRANSACTION_ID)).isEqualTo(7);
        LittleEndian.putLong(sb.data(), TRANSACTION_ID, 12345);
        sb.markDirty(TRANSACTION_ID, TRANSACTION_ID + 8); // the checksum changes too
      }
    }
    assertThat(run("thin_dump", meta.toString())).contains("transaction=\"12345\"");
    run("thin_check", meta.toString());
  }

  private static boolean installed(String tool) {
    try {
      Process p = new ProcessBuilder(tool, "-V").redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(1, TimeUnit.MINUTES) && p.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Runs a tool and returns its output; a non-zero exit fails the test with that output. */
  private static String run(String... command) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(command));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(1, TimeUnit.MINUTES)).as("%s finished", cmd).isTrue();
    assertThat(p.exitValue()).as("%s said: %s", cmd, out).isZero();
    return out;
  }
}
