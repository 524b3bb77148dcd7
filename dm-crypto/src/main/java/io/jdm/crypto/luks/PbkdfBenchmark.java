package io.jdm.crypto.luks;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Objects;

/**
 * Chooses PBKDF costs that take a given time on this machine, as cryptsetup's {@code --iter-time}
 * does ({@code lib/crypto_backend/pbkdf_check.c}).
 *
 * <ul>
 *   <li>PBKDF2: derive with 2^15 iterations, multiplying them (by 16, 8, 4 or 2 as the last run was
 *       under 62, 125, 250 or 500 ms) until one run takes over 500 ms; the rate found gives the
 *       iterations for the target time (at least {@link Pbkdf#PBKDF2_MIN_ITERATIONS}).
 *   <li>Argon2: start at time cost 4 and a small memory cost; after each run scale the costs toward
 *       the target as cryptsetup's {@code next_argon2_params} does (too fast: more memory up to the
 *       maximum, then more time; too slow: less time down to 4, then less memory); stop when a run
 *       changes nothing or lands within 5% of the target, after 20 runs at most.
 * </ul>
 *
 * <p>The runs measure real derivations through a {@link Runner}; tests give one with a cost model
 * instead, so nothing here depends on the machine. Thread-safe (no state).
 */
public final class PbkdfBenchmark {
  /** cryptsetup's default {@code --iter-time}: 2000 ms. */
  public static final long DEFAULT_ITER_TIME_MS = 2000;

  /** cryptsetup's default upper bound for Argon2 memory: 1 GiB. */
  public static final long DEFAULT_MAX_MEMORY_KIB = 1024 * 1024;

  private static final int MAX_ARGON2_RUNS = 20;

  private PbkdfBenchmark() {}

  /** Runs one derivation with the given costs and says how long it took. */
  @FunctionalInterface
  public interface Runner {
    /** Milliseconds one derivation with {@code p} takes. */
    long millis(Pbkdf p);
  }

  /** A runner that derives 32 bytes from a fixed passphrase and salt and times it. */
  public static Runner system() {
    byte[] pass = "jdm pbkdf benchmark".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    byte[] salt = new byte[32];
    return p -> {
      long t0 = System.nanoTime();
      try {
        p.derive(pass, salt, 32);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return Math.max(1, (System.nanoTime() - t0) / 1_000_000);
    };
  }

  /** PBKDF2 with {@code hash}, iterations chosen to take {@code iterTimeMs}. */
  public static Pbkdf pbkdf2(String hash, long iterTimeMs, Runner runner) {
    Objects.requireNonNull(runner, "runner");
    checkTime(iterTimeMs);
    long iterations = 1 << 15;
    long ms;
    while (true) {
      ms = Math.max(1, runner.millis(Pbkdf.pbkdf2(hash, iterations)));
      if (ms > 500) {
        break;
      }
      int shift = ms <= 62 ? 4 : ms <= 125 ? 3 : ms <= 250 ? 2 : 1;
      iterations <<= shift;
      if (iterations > 0xffff_ffffL) {
        iterations = 0xffff_ffffL;
        ms = Math.max(1, runner.millis(Pbkdf.pbkdf2(hash, iterations)));
        break;
      }
    }
    double perMs = (double) iterations / ms;
    long chosen = (long) Math.min(0xffff_ffffL, perMs * iterTimeMs);
    return Pbkdf.pbkdf2(hash, Math.max(Pbkdf.PBKDF2_MIN_ITERATIONS, chosen));
  }

  /**
   * Argon2id ({@code id}) or Argon2i with {@code parallel} lanes, time and memory chosen to take
   * {@code iterTimeMs}, memory at most {@code maxMemoryKiB}.
   */
  public static Pbkdf argon2(
      boolean id, long iterTimeMs, long maxMemoryKiB, int parallel, Runner runner) {
    Objects.requireNonNull(runner, "runner");
    checkTime(iterTimeMs);
    long minM = Math.max(Pbkdf.ARGON2_MIN_MEMORY_KIB, 8L * parallel);
    long maxM = Math.max(minM, Math.min(maxMemoryKiB, Pbkdf.ARGON2_MAX_MEMORY_KIB));
    long minT = Pbkdf.ARGON2_MIN_TIME;
    long t = minT;
    long m = Math.min(maxM, Math.max(minM, 32 * 1024));
    for (int i = 0; i < MAX_ARGON2_RUNS; i++) {
      Pbkdf p = id ? Pbkdf.argon2id(t, m, parallel) : Pbkdf.argon2i(t, m, parallel);
      long ms = Math.max(1, runner.millis(p));
      if (Math.abs(ms - iterTimeMs) * 20 <= iterTimeMs) {
        break; // within 5%
      }
      long oldT = t;
      long oldM = m;
      if (ms > iterTimeMs) { // too slow: less time, then less memory
        long nt = t * iterTimeMs / ms;
        if (nt < minT) {
          m = Math.max(minM, t * m * iterTimeMs / (minT * ms));
          t = minT;
        } else {
          t = nt;
        }
      } else { // too fast: more memory, then more time
        long nm = m * iterTimeMs / ms;
        if (nm > maxM) {
          t = Math.max(minT, Math.min(0xffff_ffffL, t * m * iterTimeMs / (maxM * ms)));
          m = maxM;
        } else {
          m = Math.max(minM, nm);
        }
      }
      if (t == oldT && m == oldM) {
        break;
      }
    }
    return id ? Pbkdf.argon2id(t, m, parallel) : Pbkdf.argon2i(t, m, parallel);
  }

  private static void checkTime(long iterTimeMs) {
    if (iterTimeMs < 1) {
      throw new IllegalArgumentException("iteration time " + iterTimeMs + " ms (expected: >= 1)");
    }
  }
}
