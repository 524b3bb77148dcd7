package io.jdm.testkit;

import java.util.Optional;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * Prints the seed of a failed suite test so the failure can be replayed with {@code -Djdm.seed}.
 */
public final class SeedReporter implements TestWatcher {
  public SeedReporter() {}

  @Override
  public void testFailed(ExtensionContext context, Throwable cause) {
    Optional<Object> instance = context.getTestInstance();
    if (instance.isPresent() && instance.get() instanceof BaseBlockDeviceTestCase) {
      long seed = ((BaseBlockDeviceTestCase) instance.get()).seed();
      System.err.printf(
          java.util.Locale.ROOT,
          "%s.%s failed; reproduce with -D%s=%d%n",
          context.getRequiredTestClass().getName(),
          context.getRequiredTestMethod().getName(),
          BaseBlockDeviceTestCase.SEED_PROPERTY,
          seed);
    }
  }
}
