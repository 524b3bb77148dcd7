package io.jdm.targets.snapshot;

import java.util.Random;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * Seeds for the snapshot tests that are not suite tests: {@code -Djdm.seed=N} fixes the seed, and a
 * failed test prints the one it ran with (register with {@code @ExtendWith(Seeds.class)} and take
 * the seed from {@link #next()} in a {@code @BeforeEach}).
 */
final class Seeds implements TestWatcher {
  private static final ThreadLocal<Long> CURRENT = new ThreadLocal<>();

  Seeds() {}

  /** A seed for the test about to run, remembered for the failure report. */
  static long next() {
    Long fixed = Long.getLong("jdm.seed");
    long seed = fixed != null ? fixed : new Random().nextLong();
    CURRENT.set(seed);
    return seed;
  }

  @Override
  public void testFailed(ExtensionContext context, Throwable cause) {
    Long seed = CURRENT.get();
    if (seed != null) {
      System.err.println(
          context.getRequiredTestClass().getName()
              + "."
              + context.getRequiredTestMethod().getName()
              + " failed; reproduce with -Djdm.seed="
              + seed);
    }
  }
}
