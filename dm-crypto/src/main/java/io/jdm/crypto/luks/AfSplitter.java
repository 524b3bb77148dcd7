package io.jdm.crypto.luks;

import java.security.SecureRandom;
import java.util.Arrays;
import org.bouncycastle.crypto.Digest;

/**
 * The LUKS anti-forensic information splitter, as {@code lib/luks1/af.c} in cryptsetup: a key of
 * {@code n} bytes is spread over {@code stripes * n} bytes so that losing any part of them loses
 * the key. Used by LUKS1 and by LUKS2's {@code luks1} AF type alike.
 *
 * <p>{@code diffuse(x)} cuts {@code x} into digest-size pieces (the last may be short) and replaces
 * piece {@code i} by {@code H(be32(i) || piece)}, truncated to the piece's length. Split: {@code d
 * = 0}; for stripes {@code 0..n-2}: random {@code s_i}, {@code d = diffuse(d ^ s_i)}; the last
 * stripe is {@code d ^ key}. Merge runs the same loop over the stored stripes.
 */
final class AfSplitter {
  private AfSplitter() {}

  /** Bytes of split material for a key of {@code keySize} bytes, before sector rounding. */
  static long splitSize(int keySize, int stripes) {
    return (long) keySize * stripes;
  }

  /** {@link #splitSize} rounded up to whole 512-byte sectors, as cryptsetup stores it. */
  static int splitSectors(int keySize, int stripes) {
    return (int) ((splitSize(keySize, stripes) + 511) / 512);
  }

  /** Splits {@code key} into {@code stripes} stripes with random data from {@code random}. */
  static byte[] split(byte[] key, int stripes, String hash, SecureRandom random) {
    checkArgs(key.length, stripes);
    int n = key.length;
    byte[] out = new byte[n * stripes];
    byte[] d = new byte[n];
    byte[] stripe = new byte[n];
    for (int i = 0; i < stripes - 1; i++) {
      random.nextBytes(stripe);
      System.arraycopy(stripe, 0, out, i * n, n);
      xorInto(d, stripe);
      diffuse(d, hash);
    }
    for (int j = 0; j < n; j++) {
      out[(stripes - 1) * n + j] = (byte) (d[j] ^ key[j]);
    }
    Arrays.fill(d, (byte) 0);
    Arrays.fill(stripe, (byte) 0);
    return out;
  }

  /** Merges {@code stripes} stripes of {@code keySize} bytes at the start of {@code material}. */
  static byte[] merge(byte[] material, int keySize, int stripes, String hash) {
    checkArgs(keySize, stripes);
    if (material.length < splitSize(keySize, stripes)) {
      throw new IllegalArgumentException(
          "AF material of "
              + material.length
              + " bytes is shorter than "
              + keySize
              + " * "
              + stripes
              + " stripes");
    }
    byte[] d = new byte[keySize];
    for (int i = 0; i < stripes - 1; i++) {
      for (int j = 0; j < keySize; j++) {
        d[j] ^= material[i * keySize + j];
      }
      diffuse(d, hash);
    }
    for (int j = 0; j < keySize; j++) {
      d[j] ^= material[(stripes - 1) * keySize + j];
    }
    return d;
  }

  /** {@code diffuse} in place. */
  static void diffuse(byte[] buf, String hash) {
    Digest h = Hashes.require(hash);
    int ds = h.getDigestSize();
    byte[] out = new byte[ds];
    byte[] iv = new byte[4];
    for (int i = 0, pos = 0; pos < buf.length; i++, pos += ds) {
      int len = Math.min(ds, buf.length - pos);
      iv[0] = (byte) (i >>> 24);
      iv[1] = (byte) (i >>> 16);
      iv[2] = (byte) (i >>> 8);
      iv[3] = (byte) i;
      h.update(iv, 0, 4);
      h.update(buf, pos, len);
      h.doFinal(out, 0);
      System.arraycopy(out, 0, buf, pos, len);
    }
    Arrays.fill(out, (byte) 0);
  }

  private static void xorInto(byte[] d, byte[] s) {
    for (int j = 0; j < d.length; j++) {
      d[j] ^= s[j];
    }
  }

  private static void checkArgs(int keySize, int stripes) {
    if (keySize <= 0 || stripes <= 0 || (long) keySize * stripes > Integer.MAX_VALUE - 4096) {
      throw new IllegalArgumentException(
          "AF key size " + keySize + " and stripes " + stripes + " (expected: both > 0)");
    }
  }
}
