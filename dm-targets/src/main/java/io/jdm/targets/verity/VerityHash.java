package io.jdm.targets.verity;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Locale;

/**
 * The salted block digest of dm-verity: {@code H(salt ‖ block)} for hash format 1 and {@code
 * H(block ‖ salt)} for format 0 (the original Chrome OS format), as {@code verity_hash} in {@code
 * drivers/md/dm-verity-target.c} and {@code verify_hash_block} in cryptsetup's {@code
 * lib/verity/verity_hash.c}.
 *
 * <p>Algorithms are named as the kernel's crypto API names them ({@code sha256}, {@code sha1},
 * {@code sha512}, ...) and computed by the JDK's {@link MessageDigest} (SHA-256 and SHA-512 use the
 * CPU's SHA extensions where HotSpot has intrinsics for them).
 *
 * <p>Thread-safe: each thread hashes with its own {@link MessageDigest}.
 */
public final class VerityHash {
  private final String name;
  private final int version;
  private final byte[] salt;
  private final int digestSize;
  private final ThreadLocal<MessageDigest> digests;

  private VerityHash(String name, String jdkName, int version, byte[] salt) {
    this.name = name;
    this.version = version;
    this.salt = salt.clone();
    MessageDigest probe = newDigest(jdkName);
    this.digestSize = probe.getDigestLength();
    this.digests = ThreadLocal.withInitial(() -> newDigest(jdkName));
  }

  private static MessageDigest newDigest(String jdkName) {
    try {
      return MessageDigest.getInstance(jdkName);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(jdkName + " disappeared", e);
    }
  }

  /**
   * The digest {@code algorithm} (kernel name, case-insensitive) for hash format {@code version}
   * with {@code salt}.
   *
   * @throws IllegalArgumentException if the JDK has no such algorithm
   */
  public static VerityHash of(String algorithm, int version, byte[] salt) {
    String jdk = jdkName(algorithm);
    if (jdk == null) {
      throw new IllegalArgumentException("unknown hash algorithm " + algorithm);
    }
    return new VerityHash(algorithm, jdk, version, salt);
  }

  /** The JDK's name for a kernel crypto API hash name, or {@code null} if it has none. */
  static String jdkName(String algorithm) {
    String a = algorithm.toLowerCase(Locale.ROOT);
    String jdk;
    switch (a) {
      case "md5":
        jdk = "MD5";
        break;
      case "sha1":
        jdk = "SHA-1";
        break;
      case "sha224":
        jdk = "SHA-224";
        break;
      case "sha256":
        jdk = "SHA-256";
        break;
      case "sha384":
        jdk = "SHA-384";
        break;
      case "sha512":
        jdk = "SHA-512";
        break;
      case "sha3-224":
      case "sha3-256":
      case "sha3-384":
      case "sha3-512":
        jdk = a.toUpperCase(Locale.ROOT);
        break;
      default:
        return null;
    }
    try {
      MessageDigest.getInstance(jdk);
      return jdk;
    } catch (NoSuchAlgorithmException e) {
      return null;
    }
  }

  /** The algorithm as given (the table prints it back as it was written). */
  public String name() {
    return name;
  }

  public int version() {
    return version;
  }

  public int digestSize() {
    return digestSize;
  }

  /** A copy of the salt (empty for none). */
  public byte[] salt() {
    return salt.clone();
  }

  int saltSize() {
    return salt.length;
  }

  /**
   * Digests {@code length} bytes of {@code data} from absolute index {@code offset} into {@code
   * out[0 .. digestSize)}. Does not move {@code data}'s position.
   */
  public void digest(ByteBuffer data, int offset, int length, byte[] out) {
    MessageDigest md = digests.get();
    md.reset();
    if (version >= 1) {
      md.update(salt);
    }
    if (data.hasArray()) {
      md.update(data.array(), data.arrayOffset() + offset, length);
    } else {
      md.update(data.duplicate().limit(offset + length).position(offset));
    }
    if (version == 0) {
      md.update(salt);
    }
    try {
      md.digest(out, 0, digestSize);
    } catch (java.security.DigestException e) {
      throw new IllegalStateException(e);
    }
  }

  /** {@link #digest(ByteBuffer, int, int, byte[])} of a byte array. */
  public void digest(byte[] data, int offset, int length, byte[] out) {
    digest(ByteBuffer.wrap(data), offset, length, out);
  }
}
