package io.jdm.crypto.engine;

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
    switch (this) {
      case PLAIN:
        Arrays.fill(iv, 0, 16, (byte) 0);
        putLe64(iv, 0, ivSector & 0xFFFF_FFFFL);
        break;
      case PLAIN64:
        Arrays.fill(iv, 8, 16, (byte) 0);
        putLe64(iv, 0, ivSector);
        break;
      case PLAIN64BE:
        Arrays.fill(iv, 0, 8, (byte) 0);
        putBe64(iv, 8, ivSector);
        break;
      case ESSIV:
        Arrays.fill(iv, 8, 16, (byte) 0);
        putLe64(iv, 0, ivSector);
        ivCipher.encrypt(iv, 0, iv, 0, 16);
        break;
      case BENBI:
        Arrays.fill(iv, 0, 8, (byte) 0);
        putBe64(iv, 8, (ivSector << 5) + 1);
        break;
      case EBOIV:
        Arrays.fill(iv, 8, 16, (byte) 0);
        putLe64(iv, 0, ivSector * sectorSize);
        ivCipher.encrypt(iv, 0, iv, 0, 16);
        break;
      case NULL:
      case NONE:
      default:
        Arrays.fill(iv, 0, 16, (byte) 0);
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

  static void putLe64(byte[] b, int at, long v) {
    for (int i = 0; i < 8; i++) {
      b[at + i] = (byte) (v >>> (8 * i));
    }
  }

  static void putBe64(byte[] b, int at, long v) {
    for (int i = 0; i < 8; i++) {
      b[at + i] = (byte) (v >>> (56 - 8 * i));
    }
  }
}
