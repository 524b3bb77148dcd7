package io.jdm.targets.verity;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.UUID;

/**
 * cryptsetup's verity superblock ({@code struct verity_sb} in {@code lib/verity/verity.c}): 512
 * little-endian bytes at the hash offset of the hash device, which {@code veritysetup} reads and
 * writes and the kernel never looks at.
 *
 * <pre>
 *   0  u8[8]   "verity\0\0"          80  u16      salt size (at most 256)
 *   8  u32     superblock version 1   82  u8[6]    zero
 *  12  u32     hash type (0 or 1)     88  u8[256]  salt
 *  16  u8[16]  uuid                  344  u8[168]  zero
 *  32  u8[32]  algorithm, NUL padded
 *  64  u32     data block size
 *  68  u32     hash block size
 *  72  u64     data blocks
 * </pre>
 *
 * @param hashType 1, or 0 for the Chrome OS format
 * @param uuid the hash device's uuid
 * @param algorithm the hash name, lower case as the kernel's crypto API spells it
 * @param salt at most 256 bytes
 */
public record VeritySuperblock(
    int hashType,
    UUID uuid,
    String algorithm,
    int dataBlockSize,
    int hashBlockSize,
    long dataBlocks,
    byte[] salt) {

  /** Bytes on disk. */
  public static final int SIZE = 512;

  static final byte[] SIGNATURE = {'v', 'e', 'r', 'i', 't', 'y', 0, 0};

  public VeritySuperblock {
    salt = salt.clone();
    if (salt.length > 256) {
      throw new IllegalArgumentException("salt of " + salt.length + " bytes (expected: <= 256)");
    }
    if (algorithm.getBytes(StandardCharsets.US_ASCII).length > 32) {
      throw new IllegalArgumentException("algorithm name " + algorithm + " is over 32 bytes");
    }
  }

  @Override
  public byte[] salt() {
    return salt.clone();
  }

  /** The 512 bytes veritysetup writes. */
  public byte[] encode() {
    ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
    b.put(0, SIGNATURE);
    b.putInt(8, 1);
    b.putInt(12, hashType);
    ByteBuffer u = ByteBuffer.allocate(16);
    u.putLong(uuid.getMostSignificantBits()).putLong(uuid.getLeastSignificantBits());
    b.put(16, u.array());
    b.put(32, algorithm.getBytes(StandardCharsets.US_ASCII));
    b.putInt(64, dataBlockSize);
    b.putInt(68, hashBlockSize);
    b.putLong(72, dataBlocks);
    b.putShort(80, (short) salt.length);
    b.put(88, salt);
    return b.array();
  }

  /**
   * Reads a superblock with cryptsetup's checks and messages ({@code VERITY_read_sb}).
   *
   * @param device named in the message for a missing signature
   * @throws IllegalArgumentException with cryptsetup's text: {@code "Device X is not a valid VERITY
   *     device."}, {@code "Unsupported VERITY version N."}, {@code "Unsupported VERITY hash type
   *     N."}, {@code "Unsupported VERITY block size."}, {@code "Hash algorithm X not supported."},
   *     {@code "VERITY header corrupted."}
   */
  public static VeritySuperblock decode(byte[] bytes, String device) {
    if (bytes.length < SIZE) {
      throw new IllegalArgumentException("Device " + device + " is not a valid VERITY device.");
    }
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    if (!Arrays.equals(bytes, 0, 8, SIGNATURE, 0, 8)) {
      throw new IllegalArgumentException("Device " + device + " is not a valid VERITY device.");
    }
    int version = b.getInt(8);
    if (version != 1) {
      throw new IllegalArgumentException("Unsupported VERITY version " + version + ".");
    }
    int hashType = b.getInt(12);
    if (hashType < 0 || hashType > 1) {
      throw new IllegalArgumentException("Unsupported VERITY hash type " + hashType + ".");
    }
    int dbs = b.getInt(64);
    int hbs = b.getInt(68);
    if (!blockSizeOk(dbs) || !blockSizeOk(hbs)) {
      throw new IllegalArgumentException("Unsupported VERITY block size.");
    }
    long dataBlocks = b.getLong(72);
    int n = 0;
    while (n < 32 && bytes[32 + n] != 0) {
      n++;
    }
    String alg = new String(bytes, 32, n, StandardCharsets.US_ASCII);
    if (VerityHash.jdkName(alg) == null) {
      throw new IllegalArgumentException("Hash algorithm " + alg + " not supported.");
    }
    int saltSize = b.getShort(80) & 0xffff;
    if (saltSize > 256) {
      throw new IllegalArgumentException("VERITY header corrupted.");
    }
    ByteBuffer u = ByteBuffer.wrap(bytes, 16, 16).order(ByteOrder.BIG_ENDIAN);
    UUID uuid = new UUID(u.getLong(16), u.getLong(24));
    return new VeritySuperblock(
        hashType, uuid, alg, dbs, hbs, dataBlocks, Arrays.copyOfRange(bytes, 88, 88 + saltSize));
  }

  /** {@code VERITY_BLOCK_SIZE_OK}: a power of two from 512 bytes to 512 KiB. */
  static boolean blockSizeOk(int size) {
    return size % 512 == 0 && size >= 512 && size <= 512 * 1024 && (size & (size - 1)) == 0;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof VeritySuperblock
        && ((VeritySuperblock) o).hashType == hashType
        && ((VeritySuperblock) o).uuid.equals(uuid)
        && ((VeritySuperblock) o).algorithm.equals(algorithm)
        && ((VeritySuperblock) o).dataBlockSize == dataBlockSize
        && ((VeritySuperblock) o).hashBlockSize == hashBlockSize
        && ((VeritySuperblock) o).dataBlocks == dataBlocks
        && Arrays.equals(((VeritySuperblock) o).salt, salt);
  }

  @Override
  public int hashCode() {
    return uuid.hashCode() * 31 + Arrays.hashCode(salt);
  }

  @Override
  public String toString() {
    return "VeritySuperblock[hashType="
        + hashType
        + ", uuid="
        + uuid
        + ", algorithm="
        + algorithm
        + ", dataBlockSize="
        + dataBlockSize
        + ", hashBlockSize="
        + hashBlockSize
        + ", dataBlocks="
        + dataBlocks
        + ", salt="
        + java.util.HexFormat.of().formatHex(salt)
        + "]";
  }
}
