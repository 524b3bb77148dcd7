package io.jdm.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * A JUnit 5 extension that gives each test a fresh {@link DeviceMapper} on a {@link ManualClock},
 * seeded from the test's seed, and checks after the test that it leaked nothing.
 *
 * <pre>{@code
 * @ExtendWith(DeviceMapperExtension.class)
 * class MyStoreTest {
 *   @Test
 *   void survivesAFailingWrite(DeviceMapper dm, ManualClock clock, Seed seed) { ... }
 * }
 * }</pre>
 *
 * <p>Test and lifecycle methods may take any of {@link DeviceMapper}, {@link ManualClock}, {@link
 * Seed} and {@link Random} (a {@code Random} from the seed); within one test they are the same
 * objects. The seed is {@code -Djdm.seed=N} if set, otherwise random, and a failed test prints it
 * ({@code reproduce with -Djdm.seed=N}) on standard error.
 *
 * <p>After a test that passed, the extension fails it if a mapped device is left in the device
 * mapper, if an underlying device is still held open, or if a {@code jdm-} worker thread outlives
 * the closed device mapper. After a failed test it only closes the device mapper, so the first
 * failure is the one reported.
 */
public final class DeviceMapperExtension implements ParameterResolver, AfterEachCallback {
  private static final ExtensionContext.Namespace NS =
      ExtensionContext.Namespace.create(DeviceMapperExtension.class);

  /** The test's seed, as a parameter type of its own (a bare {@code long} would be ambiguous). */
  public record Seed(long value) {
    /** A {@link Random} from this seed. */
    public Random random() {
      return new Random(value);
    }
  }

  public DeviceMapperExtension() {}

  /** Per-test state, created when a test first asks for a parameter. */
  private static final class State {
    final Seed seed;
    final ManualClock clock = new ManualClock();
    final Random random;
    final DeviceMapper dm;

    State(long seed) {
      this.seed = new Seed(seed);
      this.random = new Random(seed);
      this.dm = DeviceMapper.builder().clock(clock).seed(seed).build();
    }
  }

  private static State state(ExtensionContext context) {
    return context
        .getStore(NS)
        .getOrComputeIfAbsent(
            State.class,
            k -> {
              Long fixed = Long.getLong(BaseBlockDeviceTestCase.SEED_PROPERTY);
              return new State(fixed != null ? fixed : new Random().nextLong());
            },
            State.class);
  }

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    Class<?> type = parameter.getParameter().getType();
    return type == DeviceMapper.class
        || type == ManualClock.class
        || type == Seed.class
        || type == Random.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    State s = state(context);
    Class<?> type = parameter.getParameter().getType();
    if (type == DeviceMapper.class) {
      return s.dm;
    }
    if (type == ManualClock.class) {
      return s.clock;
    }
    if (type == Seed.class) {
      return s.seed;
    }
    return s.random;
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    State s = context.getStore(NS).remove(State.class, State.class);
    if (s == null) {
      return;
    }
    String replay =
        String.format(
            Locale.ROOT,
            "%s failed; reproduce with -D%s=%d",
            context.getDisplayName(),
            BaseBlockDeviceTestCase.SEED_PROPERTY,
            s.seed.value());
    if (context.getExecutionException().isPresent()) {
      System.err.println(replay);
      s.dm.close();
      return;
    }
    List<String> left = s.dm.list().stream().map(MappedDevice::name).toList();
    int open = s.dm.openDeviceCount();
    s.dm.close();
    assertThat(left).as("mapped devices the test left in the device mapper (%s)", replay).isEmpty();
    assertThat(open).as("underlying devices the test left open (%s)", replay).isZero();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith("jdm-") && t.isAlive()) {
        t.join(TimeUnit.SECONDS.toMillis(30));
        assertThat(t.isAlive())
            .as("worker thread %s outlived the test (%s)", t.getName(), replay)
            .isFalse();
      }
    }
  }
}
