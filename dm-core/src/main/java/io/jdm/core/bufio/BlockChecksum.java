package io.jdm.core.bufio;

import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.zip.CRC32C;

/**
 * The checksum of persistent-data metadata blocks: the kernel's {@code dm_bm_checksum} ({@code
 * drivers/md/persistent-data/dm-block-manager.c}), {@code crc32c(~(u32) 0, data, len) ^ xor}.
 *
 * <p>The kernel's library {@code crc32c(seed, ...)} is the bare reflected Castagnoli register:
 * seeded with all ones and, unlike the standard CRC-32C, not inverted at the end. {@link CRC32C}
 * computes the standard one (final inversion included), so the kernel's value is its complement.
 * The per-structure {@code xor} (160774 for the thin superblock, 121107 for a B-tree node, ...)
 * keeps a block of one kind from passing as another. thin-provisioning-tools computes the same
 * value as {@code crc32c(data) ^ 0xffffffff ^ xor}.
 *
 * <p>Thread-safe (no state).
 */
public final class BlockChecksum {
  private BlockChecksum() {}

  /**
   * {@code dm_bm_checksum} of {@code length} bytes of {@code data} from index {@code offset}
   * (absolute; the buffer's position and limit are not used or changed).
   */
  public static int dmBmChecksum(ByteBuffer data, int offset, int length, int xor) {
    Objects.checkFromIndexSize(offset, length, data.capacity());
    CRC32C crc = new CRC32C();
    crc.update(data.duplicate().limit(offset + length).position(offset));
    return ~(int) crc.getValue() ^ xor;
  }

  /** {@code dm_bm_checksum} of {@code length} bytes of {@code data} from {@code offset}. */
  public static int dmBmChecksum(byte[] data, int offset, int length, int xor) {
    Objects.checkFromIndexSize(offset, length, data.length);
    CRC32C crc = new CRC32C();
    crc.update(data, offset, length);
    return ~(int) crc.getValue() ^ xor;
  }
}
