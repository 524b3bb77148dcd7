package io.jdm.crypto.engine;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;

/**
 * dm-crypt's IV generators ({@code crypt_iv_*_gen}): the 16-byte IV of a crypto sector from its IV
 * sector number. {@code lmk}, {@code tcw}, {@code elephant} and {@code random} are not implemented.
 */
enum IvMode {
  /** No IV (ECB). */
  NONE,
  /** {@code le32(sector & 0xffffffff)}, zero padded. */
  PLAIN,
  /** {@code le64(sector)}, zero padded. */
  PLAIN64,
  /** {@code be64(sector)} in the last 8 bytes. */
  PLAIN64BE,
  /** {@code E_salt(le64(sector))}, salt = hash(key), the same cipher keyed by the salt. */
  ESSIV,
  /** {@code be64((sector << 5) + 1)} in the last 8 bytes: the 16-byte block count, from 1. */
  BENBI,
  /** All zeros. */
  NULL,
  /** {@code E_key(le64(sector * sectorSize))}: the byte offset encrypted with the data key. */
  EBOIV;

  private static final VarHandle BE64 =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

  /** The mode for a kernel ivmode name, or {@code null} if the kernel knows it and jdm does not. */
  static IvMode forName(String name) {
    switch (name) {
      case "plain":
        return PLAIN;
      case "plain64":
        return PLAIN64;
      case "plain64be":
        return PLAIN64BE;
      case "essiv":
        return ESSIV;
      case "benbi":
        return BENBI;
      case "null":
        return NULL;
      case "eboiv":
        return EBOIV;
      case "lmk":
      case "tcw":
      case "elephant":
      case "random":
        return null;
      default:
        throw new IllegalArgumentException("Invalid IV mode");
    }
  }

  /**
   * Writes the IV of {@code ivSector} into {@code iv[0..16)}. {@code ivCipher} encrypts one block
   * in place for {@link #ESSIV} (keyed by the salt) and {@link #EBOIV} (keyed by the data key).
   */
  void generate(long ivSector, int sectorSize, byte[] iv, BlockEngine ivCipher) {
    raw(ivSector, sectorSize, iv, 0);
    if (encrypted()) {
      ivCipher.encrypt(iv, 0, iv, 0, 16);
    }
  }

  /** Whether the IV is {@link #raw} encrypted by an IV cipher ({@link #ESSIV}, {@link #EBOIV}). */
  boolean encrypted() {
    return this == ESSIV || this == EBOIV;
  }

  /**
   * Writes the IV of {@code ivSector} into {@code iv[at..at+16)}, before the IV cipher's encryption
   * where the mode has one, so that a run of IVs can be encrypted in one call.
   */
  void raw(long ivSector, int sectorSize, byte[] iv, int at) {
    long lo;
    long hi;
    switch (this) {
      case PLAIN:
        lo = Long.reverseBytes(ivSector & 0xFFFF_FFFFL);
        hi = 0;
        break;
      case PLAIN64:
      case ESSIV:
        lo = Long.reverseBytes(ivSector);
        hi = 0;
        break;
      case PLAIN64BE:
        lo = 0;
        hi = ivSector;
        break;
      case BENBI:
        lo = 0;
        hi = (ivSector << 5) + 1;
        break;
      case EBOIV:
        lo = Long.reverseBytes(ivSector * sectorSize);
        hi = 0;
        break;
      case NULL:
      case NONE:
      default:
        lo = 0;
        hi = 0;
    }
    BE64.set(iv, at, lo);
    BE64.set(iv, at + 8, hi);
  }

  /**
   * The ESSIV IV cipher for the sub-key {@code key[off..off+len)}: {@code cipher} keyed by {@code
   * hash(sub-key)}, the salt wiped once used.
   */
  static BlockEngine essivEngine(String cipher, String hash, byte[] key, int off, int len) {
    byte[] salt = essivSalt(hash, key, off, len);
    try {
      if (!BlockEngine.validKeyLength(cipher, salt.length)) {
        throw new IllegalArgumentException("Error decoding and setting key");
      }
      return BlockEngine.create(cipher, salt, 0, salt.length);
    } finally {
      Arrays.fill(salt, (byte) 0);
    }
  }

  /** The ESSIV salt: {@code hash(key)} with the kernel's hash name ({@code sha256}...). */
  static byte[] essivSalt(String hash, byte[] key, int off, int len) {
    String jca;
    switch (hash) {
      case "sha1":
        jca = "SHA-1";
        break;
      case "sha224":
        jca = "SHA-224";
        break;
      case "sha256":
        jca = "SHA-256";
        break;
      case "sha384":
        jca = "SHA-384";
        break;
      case "sha512":
        jca = "SHA-512";
        break;
      case "md5":
        jca = "MD5";
        break;
      default:
        throw new IllegalArgumentException("Error allocating crypto tfm");
    }
    try {
      MessageDigest md = MessageDigest.getInstance(jca);
      md.update(key, off, len);
      return md.digest();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalArgumentException("Error allocating crypto tfm", e);
    }
  }
}
