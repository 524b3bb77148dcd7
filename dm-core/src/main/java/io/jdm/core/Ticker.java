package io.jdm.core;

/**
 * A source of monotonic nanoseconds. Targets that depend on time (delay, flakey) and I/O statistics
 * read it through {@link TargetContext#ticker()}, so tests can drive time by hand.
 */
@FunctionalInterface
public interface Ticker {
  long nanoTime();

  /** {@link System#nanoTime()}. */
  static Ticker system() {
    return System::nanoTime;
  }
}
