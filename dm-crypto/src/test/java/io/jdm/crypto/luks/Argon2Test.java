package io.jdm.crypto.luks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * jdm's Argon2 against RFC 9106's vectors and Bouncy Castle's {@link Argon2BytesGenerator} (the
 * reference it replaced; a test dependency only), on one thread and several; and stopping it by
 * interruption and by a time limit. {@link Argon2CryptsetupTest} checks it against cryptsetup's
 * libargon2.
 */
class Argon2Test {
  private static final HexFormat HEX = HexFormat.of();
  private static final byte[] NONE = new byte[0];

  private static byte[] filled(int n, int value) {
    byte[] b = new byte[n];
    Arrays.fill(b, (byte) value);
    return b;
  }

  private static byte[] jdm(
      Argon2.Type type,
      int time,
      int memoryKiB,
      int parallel,
      int threads,
      byte[] password,
      byte[] salt,
      byte[] secret,
      byte[] ad,
      int length)
      throws Exception {
    return Argon2.derive(
        type,
        time,
        memoryKiB,
        parallel,
        threads,
        password,
        salt,
        secret,
        ad,
        length,
        KdfLimit.none(),
        "test");
  }

  private static byte[] bc(
      Argon2.Type type,
      int time,
      int memoryKiB,
      int parallel,
      byte[] password,
      byte[] salt,
      byte[] secret,
      byte[] ad,
      int length) {
    Argon2Parameters p =
        new Argon2Parameters.Builder(type.id)
            .withVersion(Argon2Parameters.ARGON2_VERSION_13)
            .withIterations(time)
            .withMemoryAsKB(memoryKiB)
            .withParallelism(parallel)
            .withSalt(salt)
            .withSecret(secret)
            .withAdditional(ad)
            .build();
    Argon2BytesGenerator g = new Argon2BytesGenerator();
    g.init(p);
    byte[] out = new byte[length];
    g.generateBytes(password, out);
    return out;
  }

  /** RFC 9106 section 5: 32 KiB, 3 passes, 4 lanes, with a secret and associated data. */
  @Test
  void rfc9106Vectors() throws Exception {
    String[][] vectors = {
      {"ARGON2D", "512b391b6f1162975371d30919734294f868e3be3984f3c1a13a4db9fabe4acb"},
      {"ARGON2I", "c814d9d1dc7f37aa13f0d77f2494bda1c8de6b016dd388d29952a4c4672b6ce8"},
      {"ARGON2ID", "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"}
    };
    for (String[] v : vectors) {
      for (int threads = 1; threads <= 4; threads++) {
        byte[] tag =
            jdm(
                Argon2.Type.valueOf(v[0]),
                3,
                32,
                4,
                threads,
                filled(32, 1),
                filled(16, 2),
                filled(8, 3),
                filled(12, 4),
                32);
        assertThat(HEX.formatHex(tag)).as(v[0] + " on " + threads + " threads").isEqualTo(v[1]);
      }
    }
  }

  /**
   * Every time cost 1 to 5 and lane count 1 to 4, all three variants, memory from the minimum
   * {@code 8p} (and sizes that are not a multiple of {@code 4p} blocks) to 3 MiB, salts of 8 to 64
   * bytes, tags of 4 to 1100 bytes (H' with one output, several, and a partial last one).
   */
  @Test
  void matchesBouncyCastleOverASweep() throws Exception {
    long seed = Long.getLong("jdm.seed", new Random().nextLong());
    Random r = new Random(seed);
    int[] saltLengths = {8, 16, 32, 64};
    int[] lengths = {4, 32, 64, 65, 96, 100, 1024, 1100};
    int n = 0;
    for (Argon2.Type type : Argon2.Type.values()) {
      for (int time = 1; time <= 5; time++) {
        for (int p = 1; p <= 4; p++, n++) {
          int memory =
              switch (n % 4) {
                case 0 -> 8 * p;
                case 1 -> 8 * p + 4 * p - 1; // rounded down to 8p blocks
                case 2 -> 64 + r.nextInt(512);
                default -> 1024 + r.nextInt(2048);
              };
          byte[] password = new byte[r.nextInt(40)];
          r.nextBytes(password);
          byte[] salt = new byte[saltLengths[n % saltLengths.length]];
          r.nextBytes(salt);
          int length = lengths[n % lengths.length];
          int threads = 1 + r.nextInt(p);
          String what =
              String.format(
                  "%s t=%d m=%d p=%d threads=%d salt=%d out=%d (seed %d)",
                  type, time, memory, p, threads, salt.length, length, seed);
          assertThat(jdm(type, time, memory, p, threads, password, salt, NONE, NONE, length))
              .as(what)
              .isEqualTo(bc(type, time, memory, p, password, salt, NONE, NONE, length));
        }
      }
    }
  }

  /** Argon2id as LUKS2 uses it (32-byte salt, 64-byte key), through the LUKS entry point. */
  @Test
  void luksEntryPointMatchesBouncyCastle() throws Exception {
    byte[] salt = filled(32, 7);
    byte[] pass = "testpass".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    byte[] key =
        Argon2.derive(Argon2.Type.ARGON2ID, 4, 4096, 4, pass, salt, 64, KdfLimit.none(), "t");
    assertThat(key).isEqualTo(bc(Argon2.Type.ARGON2ID, 4, 4096, 4, pass, salt, NONE, NONE, 64));
  }

  @Test
  void badParametersNameTheValueAndTheRule() {
    byte[] salt = filled(16, 0);
    assertThatThrownBy(() -> jdm(Argon2.Type.ARGON2ID, 0, 64, 1, 1, NONE, salt, NONE, NONE, 32))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("argon2 time cost 0 (expected: 1 <= time <= 4294967295)");
    assertThatThrownBy(() -> jdm(Argon2.Type.ARGON2ID, 1, 31, 4, 1, NONE, salt, NONE, NONE, 32))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "argon2 memory cost 31 KiB (expected: 8 * parallel = 32 <= memory <= 4294967295)");
    assertThatThrownBy(() -> jdm(Argon2.Type.ARGON2ID, 1, 64, 2, 3, NONE, salt, NONE, NONE, 32))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("argon2 threads 3 (expected: 1 <= threads <= parallel = 2)");
    assertThatThrownBy(
            () -> jdm(Argon2.Type.ARGON2ID, 1, 64, 1, 1, NONE, filled(7, 0), NONE, NONE, 32))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("argon2 salt of 7 bytes (expected: at least 8)");
    assertThatThrownBy(() -> jdm(Argon2.Type.ARGON2ID, 1, 64, 1, 1, NONE, salt, NONE, NONE, 3))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("argon2 output of 3 bytes (expected: at least 4)");
  }

  /** 2^31-1 passes over 32 KiB: years of work, so only the interruption can end it. */
  private static void endless(int threads, KdfLimit limit) throws Exception {
    Argon2.derive(
        Argon2.Type.ARGON2ID,
        Integer.MAX_VALUE,
        32,
        4,
        threads,
        filled(8, 1),
        filled(32, 2),
        NONE,
        NONE,
        64,
        limit,
        "LUKS2 keyslot 0: argon2id (time 2147483647, memory 32 KiB, 4 threads)");
  }

  @Test
  @Timeout(60)
  void interruptionStopsEveryLaneAndLeavesNoThread() throws Exception {
    for (int threads : new int[] {1, 4}) {
      KdfThreads.Outcome o =
          KdfThreads.interruptWhileDeriving(() -> endless(threads, KdfLimit.none()));
      assertThat(o.thrown())
          .as("%d threads", threads)
          .isInstanceOf(InterruptedIOException.class)
          .hasMessage("key derivation interrupted");
      assertThat(o.interruptFlag()).as("interrupt flag restored").isTrue();
      assertThat(KdfThreads.argon2Workers()).as("Argon2 threads alive").isEmpty();
    }
  }

  @Test
  void anInterruptedCallerDoesNotStartAtAll() {
    Thread.currentThread().interrupt();
    try {
      assertThatThrownBy(() -> endless(4, KdfLimit.none()))
          .isInstanceOf(InterruptedIOException.class);
      assertThat(Thread.currentThread().isInterrupted()).isTrue();
    } finally {
      Thread.interrupted();
    }
    assertThat(KdfThreads.argon2Workers()).isEmpty();
  }

  /** Real time: the assertion is how it ends, not how fast; the timeout is only a safety net. */
  @Test
  @Timeout(60)
  void aTimeLimitEndsItWithTheCostsAndTheLimit() throws Exception {
    for (int threads : new int[] {1, 4}) {
      assertThatThrownBy(() -> endless(threads, KdfLimit.start(Duration.ofMillis(200))))
          .isInstanceOf(LuksException.class)
          .hasMessage(
              "LUKS2 keyslot 0: argon2id (time 2147483647, memory 32 KiB, 4 threads)"
                  + " did not finish within 200 ms");
      assertThat(Thread.currentThread().isInterrupted()).isFalse();
      assertThat(KdfThreads.argon2Workers()).isEmpty();
    }
  }
}
