package io.jdm.crypto.luks;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.Objects;

/**
 * The bound on the key derivations of one call ({@link Luks#open}, {@link Luks#format}...): the
 * interruption of the thread that made the call, and an optional time limit that all of that call's
 * derivations share. A hostile header can ask for PBKDF2 or Argon2 costs that take years; every
 * derivation polls {@link #reached()} at least once a millisecond or so of work and stops.
 *
 * <p>Thread model: immutable; {@link #reached()} may be called from any thread (the Argon2 lanes
 * poll it from their workers), {@link #stopped} only from the calling thread, after the workers
 * have stopped.
 */
final class KdfLimit {
  private final Thread caller;
  private final Duration limit;
  private final long deadline;

  private KdfLimit(Duration limit) {
    this.caller = Thread.currentThread();
    this.limit = limit;
    this.deadline = limit == null ? 0 : System.nanoTime() + saturatedNanos(limit);
  }

  /** Only the calling thread's interruption, no time limit. */
  static KdfLimit none() {
    return new KdfLimit(null);
  }

  /**
   * The calling thread's interruption and, unless {@code limit} is {@code null}, a time limit that
   * starts now.
   *
   * @throws IllegalArgumentException if {@code limit} is negative
   */
  static KdfLimit start(Duration limit) {
    if (limit != null && limit.isNegative()) {
      throw new IllegalArgumentException("KDF time limit " + limit + " (expected: >= 0)");
    }
    return new KdfLimit(limit);
  }

  private static long saturatedNanos(Duration d) {
    // Duration.toNanos throws beyond 292 years; a limit that long is no limit
    return d.compareTo(Duration.ofDays(100L * 365)) > 0 ? Long.MAX_VALUE / 2 : d.toNanos();
  }

  /** Whether derivation must stop: the calling thread is interrupted or the time is up. */
  boolean reached() {
    return caller.isInterrupted() || (limit != null && System.nanoTime() - deadline >= 0);
  }

  /**
   * The exception for a derivation that stopped because {@link #reached()}: an {@link
   * InterruptedIOException} if the calling thread is interrupted (its flag stays set), else a
   * {@link LuksException} naming {@code what} and the limit.
   *
   * @param what the derivation and its costs: {@code LUKS2 keyslot 0: argon2id (time 4, memory
   *     1048576 KiB, 4 threads)}
   */
  IOException stopped(String what) {
    Objects.requireNonNull(what, "what");
    if (caller.isInterrupted()) {
      return new InterruptedIOException("key derivation interrupted");
    }
    if (limit != null && System.nanoTime() - deadline >= 0) {
      return new Expired(what + " did not finish within " + text(limit));
    }
    throw new IllegalStateException(what + ": stopped before its limit was reached");
  }

  /**
   * The time limit was reached. A {@link LuksException} to callers; its own class so that trying
   * the next keyslot, which a keyslot that cannot be used allows, does not swallow it.
   */
  static final class Expired extends LuksException {
    private static final long serialVersionUID = 1L;

    Expired(String message) {
      super(message);
    }
  }

  /** {@code 30 s}, {@code 300 ms}, or the ISO-8601 text for other durations. */
  static String text(Duration d) {
    if (d.toNanosPart() == 0) {
      return d.getSeconds() + " s";
    }
    if (d.toNanosPart() % 1_000_000 == 0 && d.getSeconds() < 1_000_000) {
      return d.toMillis() + " ms";
    }
    return d.toString();
  }
}
