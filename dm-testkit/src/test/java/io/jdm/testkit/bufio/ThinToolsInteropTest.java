package io.jdm.testkit.bufio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.FileBlockDevice;
import io.jdm.core.bufio.BufioClient;
import io.jdm.core.bufio.ChecksumValidator;
import io.jdm.core.bufio.CorruptBlockException;
import io.jdm.core.bufio.HeldBlock;
import io.jdm.core.bufio.LittleEndian;
import io.jdm.testkit.ExternalTools;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link BufioClient} and {@link ChecksumValidator} against the real thin-provisioning-tools:
 * metadata made by {@code thin_restore} reads through a client with the kernel's superblock and
 * B-tree node validators, and after a superblock change written back through the client, {@code
 * thin_dump} shows the change and {@code thin_check} finds nothing wrong.
 */
class ThinToolsInteropTest {
  private static final int BS = 4096;
  private static final ChecksumValidator SUPERBLOCK = ChecksumValidator.of("superblock", 160774, 8);
  private static final ChecksumValidator BTREE_NODE = ChecksumValidator.of("btree_node", 121107, 8);
  private static final ChecksumValidator INDEX = ChecksumValidator.of("index", 160478, 8);
  // thin_disk_superblock fields
  private static final int TRANSACTION_ID = 48;
  private static final int DATA_MAPPING_ROOT = 320;
  // metadata_space_map_root (a disk_sm_root at 192): bitmap_root, the index block, at 192 + 16
  private static final int METADATA_SM_BITMAP_ROOT = 208;

  private static final String XML =
      """
      <superblock uuid="" time="1" transaction="7" flags="0" version="2" data_block_size="128" nr_data_blocks="1024">
        <device dev_id="1" mapped_blocks="3" transaction="0" creation_time="0" snap_time="1">
          <range_mapping origin_begin="0" data_begin="10" length="3" time="1"/>
        </device>
      </superblock>
      """;

  @BeforeAll
  static void tools() {
    ExternalTools.require("thin_restore", "thin-provisioning-tools");
    ExternalTools.require("thin_dump", "thin-provisioning-tools");
    ExternalTools.require("thin_check", "thin-provisioning-tools");
  }

  private static Path restore(Path dir) throws Exception {
    Path xml = Files.writeString(dir.resolve("meta.xml"), XML);
    Path meta = dir.resolve("meta.bin");
    try (FileChannel f =
        FileChannel.open(meta, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
      f.write(ByteBuffer.allocate(1), (4 << 20) - 1); // a sparse 4 MiB file
    }
    ExternalTools.ok("thin_restore", "-i", xml.toString(), "-o", meta.toString());
    return meta;
  }

  @Test
  void readsThinRestoreMetadataWithTheKernelsValidators(@TempDir Path dir) throws Exception {
    Path meta = restore(dir);
    try (FileBlockDevice dev = FileBlockDevice.open(meta);
        BufioClient c = BufioClient.builder(dev, BS).build()) {
      long index;
      try (HeldBlock sb = c.read(0, SUPERBLOCK);
          HeldBlock root = c.read(LittleEndian.getLong(sb.data(), DATA_MAPPING_ROOT), BTREE_NODE)) {
        assertThat(LittleEndian.getLong(sb.data(), TRANSACTION_ID)).isEqualTo(7);
        assertThat(LittleEndian.getInt(root.data(), 16)).as("nr_entries").isEqualTo(1);
        index = LittleEndian.getLong(sb.data(), METADATA_SM_BITMAP_ROOT);
      }
      // the space map's index block is no B-tree node: its checksum carries another XOR
      assertThatThrownBy(() -> c.read(index, BTREE_NODE))
          .isInstanceOf(CorruptBlockException.class)
          .hasMessageStartingWith(
              "btree_node block "
                  + index
                  + " on "
                  + meta
                  + " (sector "
                  + index * (BS / 512)
                  + "): checksum mismatch");
      c.read(index, INDEX).release();
    }
  }

  @Test
  void thinToolsAcceptASuperblockChangedThroughBufio(@TempDir Path dir) throws Exception {
    Path meta = restore(dir);
    try (FileBlockDevice dev = FileBlockDevice.open(meta);
        BufioClient c = BufioClient.builder(dev, BS).build()) {
      try (HeldBlock sb = c.readForWrite(0, SUPERBLOCK)) {
        LittleEndian.putLong(sb.data(), TRANSACTION_ID, 12345);
        sb.markDirty(TRANSACTION_ID, TRANSACTION_ID + 8); // the checksum changes too
      }
    }
    assertThat(ExternalTools.ok("thin_dump", meta.toString())).contains("transaction=\"12345\"");
    ExternalTools.ok("thin_check", meta.toString());
  }
}
