package io.jdm.crypto.luks;

import java.util.Locale;
import org.bouncycastle.crypto.Digest;
import org.bouncycastle.crypto.digests.RIPEMD160Digest;
import org.bouncycastle.crypto.digests.SHA1Digest;
import org.bouncycastle.crypto.digests.SHA224Digest;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.digests.SHA384Digest;
import org.bouncycastle.crypto.digests.SHA3Digest;
import org.bouncycastle.crypto.digests.SHA512Digest;
import org.bouncycastle.crypto.digests.WhirlpoolDigest;

/**
 * The hashes cryptsetup names in LUKS headers ({@code hash_spec}, {@code af.hash}, {@code
 * kdf.hash}, {@code csum_alg}), by their cryptsetup names, as Bouncy Castle digests.
 */
final class Hashes {
  private Hashes() {}

  /** Whether {@code name} is a hash jdm knows. */
  static boolean known(String name) {
    return create(name) != null;
  }

  /**
   * A new digest for {@code name} ({@code sha256}, case-insensitive), or {@code null} if unknown.
   */
  static Digest create(String name) {
    if (name == null) {
      return null;
    }
    return switch (name.toLowerCase(Locale.ROOT)) {
      case "sha1" -> new SHA1Digest();
      case "sha224" -> new SHA224Digest();
      case "sha256" -> new SHA256Digest();
      case "sha384" -> new SHA384Digest();
      case "sha512" -> new SHA512Digest();
      case "sha3-256" -> new SHA3Digest(256);
      case "sha3-384" -> new SHA3Digest(384);
      case "sha3-512" -> new SHA3Digest(512);
      case "ripemd160" -> new RIPEMD160Digest();
      case "whirlpool" -> new WhirlpoolDigest();
      default -> null;
    };
  }

  /** A new digest for {@code name}; {@link IllegalArgumentException} if unknown. */
  static Digest require(String name) {
    Digest d = create(name);
    if (d == null) {
      throw new IllegalArgumentException(
          "hash "
              + name
              + " is not supported (expected: sha1, sha224, sha256, sha384, sha512,"
              + " sha3-256, sha3-384, sha3-512, ripemd160, whirlpool)");
    }
    return d;
  }

  /** {@code name}'s digest of {@code parts}, concatenated. */
  static byte[] digest(String name, byte[]... parts) {
    Digest d = require(name);
    for (byte[] p : parts) {
      d.update(p, 0, p.length);
    }
    byte[] out = new byte[d.getDigestSize()];
    d.doFinal(out, 0);
    return out;
  }
}
