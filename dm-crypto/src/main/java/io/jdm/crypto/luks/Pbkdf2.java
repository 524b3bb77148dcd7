package io.jdm.crypto.luks;

import java.io.IOException;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.Locale;
import javax.crypto.Mac;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.crypto.macs.HMac;
import org.bouncycastle.crypto.params.KeyParameter;

/**
 * PBKDF2 (RFC 8018 section 5.2) with HMAC over the hashes {@link Hashes} names, in its own loop so
 * that it can stop: it polls {@link KdfLimit#reached()} every {@value #POLL_ITERATIONS} iterations
 * (a millisecond or less) and then throws {@link KdfLimit#stopped}'s exception.
 *
 * <p>HMAC with SHA-1 and SHA-2 is the JDK's (SHA intrinsics make it two to three times Bouncy
 * Castle's on x86), the other hashes Bouncy Castle's {@link HMac}; so is an empty password, which
 * {@link SecretKeySpec} refuses. Both give the same bytes.
 *
 * <p>Thread model: static, no shared state.
 */
final class Pbkdf2 {
  /** Iterations between two polls of the limit. */
  static final int POLL_ITERATIONS = 1024;

  private Pbkdf2() {}

  /**
   * Derives {@code length} bytes.
   *
   * @param hash a name {@link Hashes} knows ({@code sha256})
   * @param iterations at least 1
   * @param what the derivation and its costs, for the time-limit message
   * @throws IllegalArgumentException for an unknown hash, fewer than 1 iteration or a negative
   *     length
   * @throws java.io.InterruptedIOException if the calling thread is interrupted (its flag stays
   *     set)
   * @throws LuksException if the time limit is reached first
   */
  static byte[] derive(
      String hash,
      byte[] password,
      byte[] salt,
      long iterations,
      int length,
      KdfLimit limit,
      String what)
      throws IOException {
    if (iterations < 1) {
      throw new IllegalArgumentException("PBKDF2 iterations " + iterations + " (expected: >= 1)");
    }
    if (length < 0) {
      throw new IllegalArgumentException("PBKDF2 output of " + length + " bytes (expected: >= 0)");
    }
    Prf prf = prf(hash, password);
    if (limit.reached()) {
      throw limit.stopped(what);
    }
    int h = prf.size();
    byte[] out = new byte[length];
    byte[] u = new byte[h];
    byte[] t = new byte[h];
    byte[] index = new byte[4];
    try {
      for (int block = 1, done = 0; done < length; block++, done += h) {
        index[0] = (byte) (block >>> 24);
        index[1] = (byte) (block >>> 16);
        index[2] = (byte) (block >>> 8);
        index[3] = (byte) block;
        prf.update(salt);
        prf.update(index);
        prf.doFinal(u);
        System.arraycopy(u, 0, t, 0, h);
        for (long i = 1; i < iterations; i++) {
          if (i % POLL_ITERATIONS == 0 && limit.reached()) {
            throw limit.stopped(what);
          }
          prf.update(u);
          prf.doFinal(u);
          for (int k = 0; k < h; k++) {
            t[k] ^= u[k];
          }
        }
        System.arraycopy(t, 0, out, done, Math.min(h, length - done));
      }
      return out;
    } catch (IOException | RuntimeException e) {
      Arrays.fill(out, (byte) 0);
      throw e;
    } finally {
      Arrays.fill(u, (byte) 0);
      Arrays.fill(t, (byte) 0);
    }
  }

  /** HMAC keyed with a password. */
  private interface Prf {
    int size();

    void update(byte[] b);

    /** Writes the MAC into {@code out} and resets to the keyed state. */
    void doFinal(byte[] out);
  }

  private static Prf prf(String hash, byte[] password) {
    String jdk =
        switch (hash.toLowerCase(Locale.ROOT)) {
          case "sha1" -> "HmacSHA1";
          case "sha224" -> "HmacSHA224";
          case "sha256" -> "HmacSHA256";
          case "sha384" -> "HmacSHA384";
          case "sha512" -> "HmacSHA512";
          default -> null;
        };
    if (jdk != null && password.length > 0) {
      try {
        Mac mac = Mac.getInstance(jdk);
        mac.init(new SecretKeySpec(password, jdk));
        return new JdkPrf(mac);
      } catch (GeneralSecurityException e) {
        // a JDK without this HMAC (a restricted provider set): Bouncy Castle's gives the same bytes
      }
    }
    HMac mac = new HMac(Hashes.require(hash));
    mac.init(new KeyParameter(password));
    return new BcPrf(mac);
  }

  private record JdkPrf(Mac mac) implements Prf {
    @Override
    public int size() {
      return mac.getMacLength();
    }

    @Override
    public void update(byte[] b) {
      mac.update(b);
    }

    @Override
    public void doFinal(byte[] out) {
      try {
        mac.doFinal(out, 0);
      } catch (ShortBufferException e) {
        throw new IllegalStateException("HMAC output of " + out.length + " bytes", e);
      }
    }
  }

  private record BcPrf(HMac mac) implements Prf {
    @Override
    public int size() {
      return mac.getMacSize();
    }

    @Override
    public void update(byte[] b) {
      mac.update(b, 0, b.length);
    }

    @Override
    public void doFinal(byte[] out) {
      mac.doFinal(out, 0);
    }
  }
}
