package io.jdm.crypto.luks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Random;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import org.bouncycastle.crypto.generators.PKCS5S2ParametersGenerator;
import org.bouncycastle.crypto.params.KeyParameter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * jdm's PBKDF2 against RFC 6070, the JDK's {@code PBKDF2WithHmacSHA*} and Bouncy Castle's {@link
 * PKCS5S2ParametersGenerator} (the reference it replaced) for every hash LUKS headers may name; and
 * stopping it by interruption and by a time limit.
 */
class PbkdfTest {
  private static final HexFormat HEX = HexFormat.of();

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  private static byte[] jdm(String hash, byte[] password, byte[] salt, long iterations, int length)
      throws Exception {
    return Pbkdf2.derive(hash, password, salt, iterations, length, KdfLimit.none(), "test");
  }

  private static byte[] bc(String hash, byte[] password, byte[] salt, int iterations, int length) {
    PKCS5S2ParametersGenerator g = new PKCS5S2ParametersGenerator(Hashes.require(hash));
    g.init(password, salt, iterations);
    return ((KeyParameter) g.generateDerivedMacParameters(length * 8)).getKey();
  }

  @Test
  void rfc6070Sha1() throws Exception {
    assertThat(HEX.formatHex(jdm("sha1", ascii("password"), ascii("salt"), 1, 20)))
        .isEqualTo("0c60c80f961f0e71f3a9b524af6012062fe037a6");
    assertThat(HEX.formatHex(jdm("sha1", ascii("password"), ascii("salt"), 2, 20)))
        .isEqualTo("ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
    assertThat(HEX.formatHex(jdm("sha1", ascii("password"), ascii("salt"), 4096, 20)))
        .isEqualTo("4b007901b765489abead49d926f721d065a429c1");
    assertThat(
            HEX.formatHex(
                jdm(
                    "sha1",
                    ascii("passwordPASSWORDpassword"),
                    ascii("saltSALTsaltSALTsaltSALTsaltSALTsalt"),
                    4096,
                    25)))
        .isEqualTo("3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038");
    assertThat(HEX.formatHex(jdm("sha1", ascii("pass\0word"), ascii("sa\0lt"), 4096, 16)))
        .isEqualTo("56fa6aa75548099dcc37d7f03425e0c3");
  }

  @Test
  void matchesTheJdk() throws Exception {
    long seed = new Random().nextLong();
    Random r = new Random(seed);
    for (String hash : new String[] {"sha1", "sha256", "sha512"}) {
      SecretKeyFactory f =
          SecretKeyFactory.getInstance("PBKDF2WithHmac" + hash.toUpperCase(java.util.Locale.ROOT));
      for (int iterations : new int[] {1, 2, 3, 1000, 1025, 2049}) {
        char[] password = new char[1 + r.nextInt(30)];
        for (int i = 0; i < password.length; i++) {
          password[i] = (char) (' ' + r.nextInt(95)); // ASCII: the JDK encodes it as UTF-8
        }
        byte[] salt = new byte[1 + r.nextInt(64)];
        r.nextBytes(salt);
        int length = 1 + r.nextInt(200);
        byte[] expected =
            f.generateSecret(new PBEKeySpec(password, salt, iterations, length * 8)).getEncoded();
        assertThat(jdm(hash, ascii(new String(password)), salt, iterations, length))
            .as("%s, %d iterations, %d bytes (seed %d)", hash, iterations, length, seed)
            .isEqualTo(expected);
      }
    }
  }

  /** Every hash, empty passwords (which the JDK's HMAC refuses) included. */
  @Test
  void matchesBouncyCastleForEveryHash() throws Exception {
    long seed = new Random().nextLong();
    Random r = new Random(seed);
    String[] hashes = {
      "sha1",
      "sha224",
      "sha256",
      "sha384",
      "sha512",
      "sha3-256",
      "sha3-384",
      "sha3-512",
      "ripemd160",
      "whirlpool",
      "SHA256"
    };
    for (String hash : hashes) {
      int[] iterationCounts = {1, 1025, 2, 300};
      int[] passwordLengths = {0, 1, 64, 200};
      for (int i = 0; i < passwordLengths.length; i++) {
        byte[] password = new byte[passwordLengths[i]];
        r.nextBytes(password);
        byte[] salt = new byte[32];
        r.nextBytes(salt);
        int iterations = iterationCounts[i];
        int length = 1 + r.nextInt(100);
        assertThat(jdm(hash, password, salt, iterations, length))
            .as("%s, password %d bytes (seed %d)", hash, password.length, seed)
            .isEqualTo(bc(hash, password, salt, iterations, length));
      }
    }
  }

  @Test
  void badParameters() {
    assertThatThrownBy(() -> jdm("sha256", ascii("p"), ascii("s"), 0, 32))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("PBKDF2 iterations 0 (expected: >= 1)");
    assertThatThrownBy(() -> jdm("md5", ascii("p"), ascii("s"), 1, 32))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("hash md5 is not supported");
  }

  private static void endless(KdfLimit limit) throws Exception {
    Pbkdf2.derive(
        "sha256",
        ascii("p"),
        ascii("salt"),
        0xFFFF_FFFFL,
        32,
        limit,
        "LUKS1 keyslot 0: pbkdf2-sha256 (iterations 4294967295)");
  }

  @Test
  @Timeout(60)
  void interruptionStopsIt() throws Exception {
    KdfThreads.Outcome o = KdfThreads.interruptWhileDeriving(() -> endless(KdfLimit.none()));
    assertThat(o.thrown())
        .isInstanceOf(InterruptedIOException.class)
        .hasMessage("key derivation interrupted");
    assertThat(o.interruptFlag()).isTrue();
  }

  /** Real time: the assertion is how it ends, not how fast; the timeout is only a safety net. */
  @Test
  @Timeout(60)
  void aTimeLimitEndsItWithTheCostsAndTheLimit() {
    assertThatThrownBy(() -> endless(KdfLimit.start(Duration.ofMillis(200))))
        .isInstanceOf(LuksException.class)
        .hasMessage(
            "LUKS1 keyslot 0: pbkdf2-sha256 (iterations 4294967295) did not finish within 200 ms");
    assertThat(Thread.currentThread().isInterrupted()).isFalse();
  }

  /** The public entry point: a keyslot's derivation, its costs checked, with a time limit. */
  @Test
  @Timeout(60)
  void publicDeriveChecksTheCostsAndHonoursTheLimit() throws Exception {
    byte[] salt = new byte[32];
    assertThat(Pbkdf.pbkdf2("sha256", 1000).derive(ascii("p"), salt, 32, Duration.ofSeconds(30)))
        .isEqualTo(bc("sha256", ascii("p"), salt, 1000, 32));
    assertThat(Pbkdf.argon2i(4, 64, 2).derive(ascii("p"), salt, 32, null))
        .isEqualTo(
            Argon2.derive(
                Argon2.Type.ARGON2I, 4, 64, 2, ascii("p"), salt, 32, KdfLimit.none(), "test"));
    assertThatThrownBy(
            () -> Pbkdf.argon2id(4, 8L << 20, 4).derive(ascii("p"), salt, 32, Duration.ZERO))
        .isInstanceOf(LuksException.class)
        .hasMessageStartingWith("key derivation: argon2id memory cost 8388608 KiB is unreasonable");
    assertThatThrownBy(
            () ->
                Pbkdf.argon2id(Integer.MAX_VALUE, 32, 4)
                    .derive(ascii("p"), salt, 32, Duration.ofMillis(200)))
        .isInstanceOf(LuksException.class)
        .hasMessage(
            "argon2id (time 2147483647, memory 32 KiB, 4 threads) did not finish within 200 ms");
  }
}
