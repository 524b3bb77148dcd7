package io.jdm.crypto.luks;

import java.util.Locale;
import java.util.Objects;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.generators.PKCS5S2ParametersGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;
import org.bouncycastle.crypto.params.KeyParameter;

/**
 * A password-based key derivation and its costs, as a LUKS keyslot stores them: PBKDF2-HMAC with a
 * hash and an iteration count, or Argon2i/Argon2id (version 0x13, no secret, no associated data)
 * with a time cost, a memory cost in KiB and a parallel cost, as cryptsetup's {@code
 * lib/crypto_backend/argon2_generic.c} calls it.
 *
 * <p>Two sets of limits apply. New keyslots ({@link Luks#format}, {@link Luks#addKeyslot}) take
 * cryptsetup's own limits for what it writes ({@code verify_pbkdf_params}): PBKDF2 at least 1000
 * iterations; Argon2 time at least 4, memory 32 KiB to 4 GiB, 1 to 4 threads. Keyslots being opened
 * may use any costs cryptsetup could have stored, but a memory cost over 4 GiB, or more than this
 * JVM can allocate, is refused with a {@link LuksException} before anything is allocated.
 *
 * @param type {@code pbkdf2}, {@code argon2i} or {@code argon2id}
 * @param hash the PBKDF2 HMAC hash ({@code sha256}); {@code null} for Argon2
 * @param iterations PBKDF2 iterations, or the Argon2 time cost
 * @param memoryKiB the Argon2 memory cost in KiB; 0 for PBKDF2
 * @param parallel the Argon2 lanes and threads; 0 for PBKDF2
 */
public record Pbkdf(String type, String hash, long iterations, long memoryKiB, int parallel) {
  /** PBKDF2 iterations cryptsetup requires at least (also the LUKS digest minimum). */
  public static final int PBKDF2_MIN_ITERATIONS = 1000;

  /** Argon2 time cost cryptsetup requires at least. */
  public static final int ARGON2_MIN_TIME = 4;

  /** Argon2 memory cost bounds in KiB (cryptsetup's, 32 KiB to 4 GiB). */
  public static final long ARGON2_MIN_MEMORY_KIB = 32;

  /** Argon2 memory cost bounds in KiB (cryptsetup's, 32 KiB to 4 GiB). */
  public static final long ARGON2_MAX_MEMORY_KIB = 4L * 1024 * 1024;

  /** Argon2 threads cryptsetup uses at most. */
  public static final int ARGON2_MAX_PARALLEL = 4;

  private static final long U32_MAX = 0xFFFF_FFFFL;

  /** Checks the shape (not the limits): a known type, a hash for PBKDF2. */
  public Pbkdf {
    Objects.requireNonNull(type, "type");
    type = type.toLowerCase(Locale.ROOT);
    switch (type) {
      case "pbkdf2" -> {
        Objects.requireNonNull(hash, "hash");
        Hashes.require(hash);
      }
      case "argon2i", "argon2id" -> hash = null;
      default ->
          throw new IllegalArgumentException(
              "PBKDF " + type + " is not supported (expected: pbkdf2, argon2i, argon2id)");
    }
  }

  /** PBKDF2-HMAC-{@code hash} with {@code iterations}. */
  public static Pbkdf pbkdf2(String hash, long iterations) {
    return new Pbkdf("pbkdf2", hash, iterations, 0, 0);
  }

  /** Argon2id with time cost {@code time}, {@code memoryKiB} and {@code parallel} threads. */
  public static Pbkdf argon2id(long time, long memoryKiB, int parallel) {
    return new Pbkdf("argon2id", null, time, memoryKiB, parallel);
  }

  /** Argon2i with time cost {@code time}, {@code memoryKiB} and {@code parallel} threads. */
  public static Pbkdf argon2i(long time, long memoryKiB, int parallel) {
    return new Pbkdf("argon2i", null, time, memoryKiB, parallel);
  }

  /** Whether this is Argon2i or Argon2id. */
  public boolean isArgon2() {
    return !type.equals("pbkdf2");
  }

  /**
   * Checks cryptsetup's limits for a keyslot it would write.
   *
   * @throws IllegalArgumentException naming the value and the limit
   */
  void checkForNewKeyslot() {
    if (!isArgon2()) {
      if (iterations < PBKDF2_MIN_ITERATIONS || iterations > U32_MAX) {
        throw new IllegalArgumentException(
            "PBKDF2 iterations "
                + iterations
                + " (expected: "
                + PBKDF2_MIN_ITERATIONS
                + " <= iterations <= "
                + U32_MAX
                + ", cryptsetup's limits)");
      }
      return;
    }
    if (iterations < ARGON2_MIN_TIME || iterations > U32_MAX) {
      throw new IllegalArgumentException(
          type
              + " time cost "
              + iterations
              + " (expected: "
              + ARGON2_MIN_TIME
              + " <= time <= "
              + U32_MAX
              + ", cryptsetup's limits)");
    }
    if (memoryKiB < ARGON2_MIN_MEMORY_KIB || memoryKiB > ARGON2_MAX_MEMORY_KIB) {
      throw new IllegalArgumentException(
          type
              + " memory cost "
              + memoryKiB
              + " KiB (expected: "
              + ARGON2_MIN_MEMORY_KIB
              + " <= memory <= "
              + ARGON2_MAX_MEMORY_KIB
              + " KiB, cryptsetup's limits)");
    }
    if (parallel < 1 || parallel > ARGON2_MAX_PARALLEL) {
      throw new IllegalArgumentException(
          type
              + " parallel cost "
              + parallel
              + " (expected: 1 <= parallel <= "
              + ARGON2_MAX_PARALLEL
              + ", cryptsetup's limits)");
    }
    checkHeap("new keyslot");
  }

  /**
   * Checks that a stored keyslot's costs are usable before deriving anything.
   *
   * @param where the keyslot, for the message
   */
  void checkForUse(String where) throws LuksException {
    if (iterations < 1 || iterations > U32_MAX) {
      throw new LuksException(
          where
              + ": "
              + type
              + (isArgon2() ? " time cost " : " iterations ")
              + iterations
              + " (expected: 1 <= n <= "
              + U32_MAX
              + ")");
    }
    if (!isArgon2()) {
      return;
    }
    if (parallel < 1 || parallel > 0xFF_FFFF) {
      throw new LuksException(
          where
              + ": "
              + type
              + " parallel cost "
              + parallel
              + " (expected: 1 <= cpus <= 16777215)");
    }
    long min = Math.max(ARGON2_MIN_MEMORY_KIB, 8L * parallel);
    if (memoryKiB < min || memoryKiB > ARGON2_MAX_MEMORY_KIB) {
      throw new LuksException(
          where
              + ": "
              + type
              + " memory cost "
              + memoryKiB
              + " KiB is unreasonable (expected: "
              + min
              + " <= memory <= "
              + ARGON2_MAX_MEMORY_KIB
              + " KiB)");
    }
    try {
      checkHeap(where);
    } catch (IllegalArgumentException e) {
      throw new LuksException(e.getMessage());
    }
  }

  private void checkHeap(String where) {
    Runtime rt = Runtime.getRuntime();
    long free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
    long need = memoryKiB * 1024;
    if (need > free) {
      throw new IllegalArgumentException(
          where
              + ": "
              + type
              + " memory cost "
              + memoryKiB
              + " KiB is more than this JVM can allocate ("
              + free / 1024
              + " KiB free of -Xmx "
              + rt.maxMemory() / 1024
              + " KiB)");
    }
  }

  /**
   * Derives {@code length} bytes from {@code passphrase} and {@code salt}. Check the costs first
   * ({@link #checkForUse} or {@link #checkForNewKeyslot}).
   */
  byte[] derive(byte[] passphrase, byte[] salt, int length) {
    if (!isArgon2()) {
      // BC counts iterations in an int; cryptsetup's u32 values above 2^31-1 would take days
      if (iterations > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(
            "PBKDF2 iterations " + iterations + " (expected: <= " + Integer.MAX_VALUE + ")");
      }
      PKCS5S2ParametersGenerator g = new PKCS5S2ParametersGenerator(Hashes.require(hash));
      g.init(passphrase, salt, (int) iterations);
      return ((KeyParameter) g.generateDerivedMacParameters(length * 8)).getKey();
    }
    if (iterations > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          type + " time cost " + iterations + " (expected: <= " + Integer.MAX_VALUE + ")");
    }
    Argon2Parameters params =
        new Argon2Parameters.Builder(
                type.equals("argon2id") ? Argon2Parameters.ARGON2_id : Argon2Parameters.ARGON2_i)
            .withVersion(Argon2Parameters.ARGON2_VERSION_13)
            .withIterations((int) iterations)
            .withMemoryAsKB((int) memoryKiB)
            .withParallelism(parallel)
            .withSalt(salt)
            .build();
    Argon2BytesGenerator g = new Argon2BytesGenerator();
    g.init(params);
    byte[] out = new byte[length];
    g.generateBytes(passphrase, out);
    return out;
  }
}
