package io.jdm.testkit.crash;

/**
 * A recovery check run on every crash state: open the storage on {@link CrashState#device()},
 * recover it, and assert its invariants (throw on a violation; {@link AssertionError}s and
 * exceptions alike fail the state).
 */
@FunctionalInterface
public interface CrashCheck {
  void check(CrashState state) throws Exception;
}
