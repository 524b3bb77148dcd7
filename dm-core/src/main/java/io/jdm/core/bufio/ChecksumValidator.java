package io.jdm.core.bufio;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * The validator of the header that persistent-data's blocks share: an {@code __le32} checksum at
 * byte 0, {@link BlockChecksum#dmBmChecksum} of the rest of the block with the structure's XOR
 * seed, and the block's own number as an {@code __le64} at a fixed offset. This is the kernel's
 * {@code sb_validator} ({@code dm-thin-metadata.c}: XOR 160774, number at 8), {@code
 * btree_node_validator} ({@code dm-btree-spine.c}: 121107, at 8), {@code dm_sm_bitmap_validator}
 * and the index validator ({@code dm-space-map-common.c}: 240779 and 160478, at 8) and {@code
 * array_validator} ({@code dm-array.c}: 595846735, at 16). Checks beyond the header (magic,
 * version, entry counts) belong to the structure's own code.
 *
 * <p>As in the kernel, the block number is checked first, then the checksum: "block number mismatch
 * (says 17)", "checksum mismatch (stored 0x1a2b3c4d, computed 0x5e6f7a8b)".
 *
 * <p>Immutable and thread-safe.
 */
public final class ChecksumValidator implements BlockValidator {
  /** Bytes of the checksum field at the start of the block, which the checksum does not cover. */
  public static final int CSUM_SIZE = 4;

  private final String name;
  private final int xor;
  private final int blockNrOffset;

  private ChecksumValidator(String name, int xor, int blockNrOffset) {
    this.name = Objects.requireNonNull(name, "name");
    if (blockNrOffset < CSUM_SIZE) {
      throw new IllegalArgumentException(
          "block number offset " + blockNrOffset + " overlaps the checksum (expected: >= 4)");
    }
    this.xor = xor;
    this.blockNrOffset = blockNrOffset;
  }

  /**
   * A validator for structure {@code name} whose checksum is XORed with {@code xor} and whose block
   * number is at byte {@code blockNrOffset}.
   */
  public static ChecksumValidator of(String name, int xor, int blockNrOffset) {
    return new ChecksumValidator(name, xor, blockNrOffset);
  }

  @Override
  public String name() {
    return name;
  }

  public int xor() {
    return xor;
  }

  public int blockNrOffset() {
    return blockNrOffset;
  }

  /** The checksum the block should carry at byte 0. */
  public int checksum(ByteBuffer block) {
    int size = checkSize(block);
    return BlockChecksum.dmBmChecksum(block, CSUM_SIZE, size - CSUM_SIZE, xor);
  }

  @Override
  public void prepareForWrite(ByteBuffer block, long blockNr) {
    checkSize(block);
    LittleEndian.putLong(block, blockNrOffset, blockNr);
    LittleEndian.putInt(block, 0, checksum(block));
  }

  @Override
  public void check(ByteBuffer block, long blockNr) throws CorruptBlockException {
    checkSize(block);
    long says = LittleEndian.getLong(block, blockNrOffset);
    if (says != blockNr) {
      throw new CorruptBlockException(
          name, blockNr, "block number mismatch (says " + Long.toUnsignedString(says) + ")");
    }
    int stored = LittleEndian.getInt(block, 0);
    int computed = checksum(block);
    if (stored != computed) {
      throw new CorruptBlockException(
          name,
          blockNr,
          String.format(
              java.util.Locale.ROOT,
              "checksum mismatch (stored 0x%08x, computed 0x%08x)",
              stored,
              computed));
    }
  }

  private int checkSize(ByteBuffer block) {
    int size = block.limit();
    if (blockNrOffset + 8 > size) {
      throw new IllegalArgumentException(
          name
              + ": block of "
              + size
              + " bytes has no room for the block number at "
              + blockNrOffset
              + " (expected: size >= "
              + (blockNrOffset + 8)
              + ")");
    }
    return size;
  }

  @Override
  public String toString() {
    return "ChecksumValidator[" + name + ", xor=" + xor + ", blocknr@" + blockNrOffset + "]";
  }
}
