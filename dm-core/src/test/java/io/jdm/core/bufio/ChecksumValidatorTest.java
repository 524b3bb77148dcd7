package io.jdm.core.bufio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.MemoryBlockDevice;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link ChecksumValidator} on blocks it prepares itself and on metadata written by the real
 * thin-provisioning-tools: {@code thin-restore-metadata.bin} is the first 8 blocks that {@code
 * thin_restore} 0.9.0 made from {@code thin-restore-metadata.xml} (superblock at 0, device-details
 * tree root at 6, mapping tree root at 7).
 */
class ChecksumValidatorTest {
  private static final long SEED = Long.getLong("jdm.seed", System.nanoTime());
  private static final int BS = 4096;
  static final ChecksumValidator SUPERBLOCK = ChecksumValidator.of("superblock", 160774, 8);
  static final ChecksumValidator BTREE_NODE = ChecksumValidator.of("btree_node", 121107, 8);

  static byte[] fixture() throws IOException {
    try (InputStream in =
        ChecksumValidatorTest.class.getResourceAsStream("thin-restore-metadata.bin")) {
      return in.readAllBytes();
    }
  }

  private static ByteBuffer block(byte[] image, int nr) {
    return ByteBuffer.wrap(image, nr * BS, BS).slice().order(ByteOrder.LITTLE_ENDIAN);
  }

  @Test
  void acceptsTheBlocksThinRestoreWrote() throws Exception {
    byte[] image = fixture();
    assertThat(image).hasSize(8 * BS);
    ByteBuffer sb = block(image, 0);
    assertThat(LittleEndian.getLong(sb, 32)).as("thin superblock magic").isEqualTo(27022010);
    assertThat(LittleEndian.getInt(sb, 0)).isEqualTo(0xb3bbc4fd);
    assertThat(SUPERBLOCK.checksum(sb)).isEqualTo(0xb3bbc4fd);
    SUPERBLOCK.check(sb.asReadOnlyBuffer(), 0);
    assertThat(LittleEndian.getLong(sb, 320)).as("mapping root").isEqualTo(7);
    assertThat(LittleEndian.getLong(sb, 328)).as("details root").isEqualTo(6);
    BTREE_NODE.check(block(image, 6), 6);
    BTREE_NODE.check(block(image, 7), 7);
    assertThat(LittleEndian.getInt(block(image, 7), 0)).isEqualTo(0x9a90935a);
    // a node is not a superblock: its checksum carries another XOR
    assertThatThrownBy(() -> SUPERBLOCK.check(block(image, 7), 7))
        .isInstanceOf(CorruptBlockException.class)
        .hasMessage(
            String.format(
                "superblock block 7: checksum mismatch (stored 0x9a90935a, computed 0x%08x)",
                0x9a90935a ^ 121107 ^ 160774));
  }

  @Test
  void prepareReproducesWhatThinRestoreWrote() throws Exception {
    byte[] image = fixture();
    ByteBuffer sb = block(image, 0);
    LittleEndian.putInt(sb, 0, 0);
    LittleEndian.putLong(sb, 8, 99);
    SUPERBLOCK.prepareForWrite(sb, 0);
    assertThat(sb.array()).isEqualTo(fixture());
  }

  @Test
  void readsThinRestoreMetadataThroughABufioClient() throws Exception {
    MemoryBlockDevice disk = MemoryBlockDevice.create("tmeta", 8 * BS / 512);
    disk.write(ByteBuffer.wrap(fixture()), 0);
    try (BufioClient c = BufioClient.builder(disk, BS).build()) {
      try (HeldBlock sb = c.read(0, SUPERBLOCK);
          HeldBlock root = c.read(LittleEndian.getLong(sb.data(), 320), BTREE_NODE)) {
        assertThat(LittleEndian.getLong(sb.data(), 48)).as("transaction id").isEqualTo(7);
        assertThat(root.number()).isEqualTo(7);
        // node_header: flags at 4 (LEAF_NODE = 2), nr_entries at 16 (one thin device)
        assertThat(LittleEndian.getInt(root.data(), 4)).isEqualTo(2);
        assertThat(LittleEndian.getInt(root.data(), 16)).isEqualTo(1);
      }
    }
  }

  @Test
  void aPreparedBlockPassesAndAnyFlippedByteFails() {
    Random rnd = new Random(SEED);
    for (int round = 0; round < 50; round++) {
      ByteBuffer b = ByteBuffer.allocate(512 << rnd.nextInt(4)).order(ByteOrder.LITTLE_ENDIAN);
      rnd.nextBytes(b.array());
      long nr = rnd.nextLong() >>> 1;
      BTREE_NODE.prepareForWrite(b, nr);
      assertThatCode(b, nr).doesNotThrowAnyException();
      int at = rnd.nextInt(b.capacity());
      if (at >= 8 && at < 16) {
        continue; // the block number: a different message, tested below
      }
      b.put(at, (byte) (b.get(at) ^ (1 << rnd.nextInt(8))));
      assertThatThrownBy(() -> BTREE_NODE.check(b, nr))
          .as("seed %d round %d byte %d", SEED, round, at)
          .isInstanceOf(CorruptBlockException.class)
          .hasMessageContaining("checksum mismatch");
    }
  }

  private static org.assertj.core.api.AbstractThrowableAssert<?, ? extends Throwable>
      assertThatCode(ByteBuffer b, long nr) {
    return org.assertj.core.api.Assertions.assertThatCode(() -> BTREE_NODE.check(b, nr));
  }

  @Test
  void theBlockNumberIsCheckedFirst() {
    ByteBuffer b = ByteBuffer.allocate(BS).order(ByteOrder.LITTLE_ENDIAN);
    BTREE_NODE.prepareForWrite(b, 3);
    b.put(100, (byte) 1); // also a bad checksum
    assertThatThrownBy(() -> BTREE_NODE.check(b, 17))
        .isInstanceOf(CorruptBlockException.class)
        .hasMessage("btree_node block 17: block number mismatch (says 3)")
        .satisfies(
            e -> {
              CorruptBlockException c = (CorruptBlockException) e;
              assertThat(c.device()).isNull();
              assertThat(c.sector()).isEqualTo(-1);
              assertThat(c.problem()).isEqualTo("block number mismatch (says 3)");
            });
    LittleEndian.putLong(b, 8, -1);
    assertThatThrownBy(() -> BTREE_NODE.check(b, 3))
        .hasMessageContaining("(says 18446744073709551615)");
  }

  @Test
  void anArrayBlockKeepsItsNumberAt16() {
    ChecksumValidator array = ChecksumValidator.of("array", 595846735, 16);
    ByteBuffer b = ByteBuffer.allocate(BS).order(ByteOrder.LITTLE_ENDIAN);
    array.prepareForWrite(b, 42);
    assertThat(LittleEndian.getLong(b, 16)).isEqualTo(42);
    assertThat(LittleEndian.getLong(b, 8)).isZero();
    assertThat(LittleEndian.getInt(b, 0))
        .isEqualTo(BlockChecksumTest.kernelCrc32c(b.array(), 4, BS - 4) ^ 595846735);
  }

  @Test
  void offsetsAndSizesThatCannotWorkAreRefused() {
    assertThatThrownBy(() -> ChecksumValidator.of("x", 0, 2))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("block number offset 2 overlaps the checksum (expected: >= 4)");
    ChecksumValidator v = ChecksumValidator.of("x", 0, 16);
    assertThatThrownBy(() -> v.prepareForWrite(ByteBuffer.allocate(20), 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "x: block of 20 bytes has no room for the block number at 16 (expected: size >= 24)");
  }
}
