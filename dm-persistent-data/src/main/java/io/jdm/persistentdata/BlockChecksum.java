package io.jdm.persistentdata;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * {@code dm_bm_checksum}: the checksum every persistent-data block carries. The kernel computes
 * {@code crc32c(~0, data, len) ^ init_xor} with its raw CRC32C (no final inversion), which is the
 * bitwise complement of the standard CRC32C that {@link CRC32C} returns; each structure mixes in
 * its own constant so that a block of one kind never validates as another.
 */
public final class BlockChecksum {
  /** {@code SUPERBLOCK_CSUM_XOR} of {@code dm-thin-metadata.c}. */
  public static final int THIN_SUPERBLOCK_XOR = 160774;

  /** {@code BTREE_CSUM_XOR} of {@code dm-btree-spine.c}. */
  public static final int BTREE_NODE_XOR = 121107;

  /** {@code INDEX_CSUM_XOR} of {@code dm-space-map-common.c}. */
  public static final int SPACE_MAP_INDEX_XOR = 160478;

  /** {@code BITMAP_CSUM_XOR} of {@code dm-space-map-common.c}. */
  public static final int SPACE_MAP_BITMAP_XOR = 240779;

  /** {@code CSUM_XOR} of {@code dm-array.c}. */
  public static final int ARRAY_BLOCK_XOR = 595846735;

  private BlockChecksum() {}

  /**
   * The checksum of the bytes between {@code data}'s position and limit (which it does not move),
   * mixed with {@code xor}, as the kernel stores it (little-endian on disk).
   */
  public static int of(ByteBuffer data, int xor) {
    CRC32C crc = new CRC32C();
    crc.update(data.duplicate());
    return ~(int) crc.getValue() ^ xor;
  }
}
