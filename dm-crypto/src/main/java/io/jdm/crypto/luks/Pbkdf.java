package io.jdm.crypto.luks;

import java.io.IOException;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;

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
 * <p>Derivation is jdm's own ({@code Argon2}, {@code Pbkdf2} in this package): Argon2 fills its
 * lanes in parallel on {@code min(parallel, availableProcessors)} threads that end with the
 * derivation, and both stop within a millisecond or so when the calling thread is interrupted
 * ({@link java.io.InterruptedIOException}, interrupt flag set) or a time limit passes ({@link
 * LuksException}), so that a header asking for years of work cannot hold a thread or a CPU.
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
   * Derives {@code length} bytes from {@code passphrase} and {@code salt} as a keyslot with these
   * costs would, checking the costs first as for a stored keyslot. The derivation stops when the
   * calling thread is interrupted or when {@code timeLimit} has passed.
   *
   * @param timeLimit the longest the derivation may take; {@code null} for no limit
   * @throws LuksException if the costs are unreasonable (see the class comment), or if the time
   *     limit is reached first: {@code argon2id (time 4, memory 1048576 KiB, 4 threads) did not
   *     finish within 2 s}
   * @throws java.io.InterruptedIOException if the calling thread is interrupted; its interrupt flag
   *     stays set
   * @throws IllegalArgumentException if the salt is shorter than 8 bytes (Argon2) or {@code length}
   *     is out of range (Argon2: at least 4)
   */
  public byte[] derive(byte[] passphrase, byte[] salt, int length, Duration timeLimit)
      throws IOException {
    Objects.requireNonNull(passphrase, "passphrase");
    Objects.requireNonNull(salt, "salt");
    KdfLimit limit = KdfLimit.start(timeLimit);
    checkForUse("key derivation");
    return derive(passphrase, salt, length, limit, null);
  }

  /**
   * Derives {@code length} bytes, stopped only by the calling thread's interruption. Check the
   * costs first ({@link #checkForUse} or {@link #checkForNewKeyslot}).
   */
  byte[] derive(byte[] passphrase, byte[] salt, int length) throws IOException {
    return derive(passphrase, salt, length, KdfLimit.none(), null);
  }

  /**
   * Derives {@code length} bytes within {@code limit}. Check the costs first ({@link #checkForUse}
   * or {@link #checkForNewKeyslot}).
   *
   * @param where the keyslot or digest, for the time-limit message; {@code null} for none
   */
  byte[] derive(byte[] passphrase, byte[] salt, int length, KdfLimit limit, String where)
      throws IOException {
    String what = where == null ? toText() : where + ": " + toText();
    if (!isArgon2()) {
      return Pbkdf2.derive(hash, passphrase, salt, iterations, length, limit, what);
    }
    Argon2.Type t = type.equals("argon2id") ? Argon2.Type.ARGON2ID : Argon2.Type.ARGON2I;
    return Argon2.derive(t, iterations, memoryKiB, parallel, passphrase, salt, length, limit, what);
  }

  /**
   * The derivation and its costs as messages name them: {@code argon2id (time 4, memory 262144 KiB,
   * 4 threads)}, {@code pbkdf2-sha256 (iterations 1000)}.
   */
  String toText() {
    return isArgon2()
        ? type
            + " (time "
            + iterations
            + ", memory "
            + memoryKiB
            + " KiB, "
            + parallel
            + " threads)"
        : type + "-" + hash.toLowerCase(Locale.ROOT) + " (iterations " + iterations + ")";
  }
}
