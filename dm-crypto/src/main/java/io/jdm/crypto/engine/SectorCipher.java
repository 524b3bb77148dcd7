package io.jdm.crypto.engine;

import java.nio.ByteBuffer;

/**
 * A chain mode with its IV generator and keys: what dm-crypt applies to each crypto sector (its
 * {@code tfms} and {@code iv_gen_ops}). Thread-safe; {@link #close()} wipes the keys.
 *
 * <p>Sectors are addressed by their {@code cc_sector}: the position of the crypto sector in
 * 512-byte units plus the IV offset, as the kernel counts it. The IV sector is {@code cc_sector},
 * or {@code cc_sector >> log2(sectorSize / 512)} with {@code iv_large_sectors}; the sub-key (with a
 * key count above 1) is {@code cc_sector & (keyCount - 1)}.
 */
public interface SectorCipher extends AutoCloseable {
  /** Bytes in a crypto sector: 512 to 4096. */
  int sectorSize();

  /**
   * Encrypts {@code count} sectors in place, from {@code buf}'s absolute index {@code offset}; the
   * first has {@code cc_sector} {@code ccSector}, the next {@code ccSector + sectorSize / 512}, and
   * so on. Works on heap and direct buffers; ignores their position and limit.
   */
  void encrypt(ByteBuffer buf, int offset, int count, long ccSector);

  /** Decrypts, as {@link #encrypt}. */
  void decrypt(ByteBuffer buf, int offset, int count, long ccSector);

  /** Wipes the keys; the cipher fails afterwards. */
  @Override
  void close();
}
