package io.jdm.testkit.crash;

import java.util.Optional;

/** What a {@link CrashTester} run found: how many states it checked and the first that failed. */
public final class CrashReport {
  private final long states;
  private final int epochs;
  private final int entries;
  private final CrashState failed;
  private final Throwable cause;

  CrashReport(long states, int epochs, int entries, CrashState failed, Throwable cause) {
    this.states = states;
    this.epochs = epochs;
    this.entries = entries;
    this.failed = failed;
    this.cause = cause;
  }

  /** Crash states checked, the failing one included. */
  public long statesChecked() {
    return states;
  }

  /** Epochs of the log (stretches between flush or FUA points, and the tail). */
  public int epochs() {
    return epochs;
  }

  /** The first state whose check failed; the run stops there. Still usable (materialise it). */
  public Optional<CrashState> failedState() {
    return Optional.ofNullable(failed);
  }

  /** Why it failed. */
  public Optional<Throwable> failure() {
    return Optional.ofNullable(cause);
  }

  public boolean passed() {
    return failed == null;
  }

  /** Throws an {@link AssertionError} describing the failed state and its cause, if any. */
  public void assertPassed() {
    if (failed != null) {
      throw new AssertionError(toString(), cause);
    }
  }

  @Override
  public String toString() {
    String summary =
        "checked "
            + states
            + " crash states in "
            + epochs
            + " epochs of a log of "
            + entries
            + " entries";
    if (failed == null) {
      return summary + ": all passed";
    }
    return summary + "; failed at " + failed.description() + ": " + cause;
  }
}
