package io.jdm.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.ResourceBundle;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * {@link TargetContext#logger()}: messages start {@code device-mapper: <type>: dm-N: } as the
 * kernel's do, whichever {@link System.Logger} method logs them, and go to {@code
 * io.jdm.target.<type>}.
 */
class TargetLoggerTest {
  /** Records what reaches it, parameters already applied by the caller. */
  private static final class Recorder implements System.Logger {
    final List<String> lines = new CopyOnWriteArrayList<>();
    Level threshold = Level.ALL;

    @Override
    public String getName() {
      return "recorder";
    }

    @Override
    public boolean isLoggable(Level level) {
      return level.getSeverity() >= threshold.getSeverity();
    }

    @Override
    public void log(Level level, ResourceBundle bundle, String msg, Throwable thrown) {
      lines.add(level + " " + msg + (thrown == null ? "" : " (" + thrown.getMessage() + ")"));
    }

    @Override
    public void log(Level level, ResourceBundle bundle, String format, Object... params) {
      lines.add(level + " " + format + (params == null ? "" : " " + params.length + " params"));
    }
  }

  @Test
  void contextLoggerNamesTheTargetAndTheDevice() {
    List<System.Logger> loggers = new CopyOnWriteArrayList<>();
    TargetRegistry reg = TargetRegistry.builtins();
    reg.register(
        TestTargets.type(
            "talker",
            Set.of(),
            (ctx, begin, length, args) -> {
              loggers.add(ctx.logger());
              return bio -> {
                bio.complete(BlockStatus.OK);
                return MapResult.SUBMITTED;
              };
            }));
    try (DeviceMapper dm = DeviceMapper.builder().registry(reg).build()) {
      dm.create("first", "0 8 zero");
      dm.create("second", "0 8 talker");
    }
    assertThat(loggers).hasSize(1);
    assertThat(loggers.get(0).getName()).isEqualTo("io.jdm.target.talker");
    assertThat(((TargetLogger) loggers.get(0)).prefix()).isEqualTo("device-mapper: talker: dm-1: ");
  }

  @Test
  void everyLoggingMethodIsPrefixedAndFormattedOnce() {
    Recorder r = new Recorder();
    System.Logger log = TargetLogger.of(r, "verity", new DeviceNumber(253, 3));
    log.log(System.Logger.Level.ERROR, "plain {0}");
    log.log(System.Logger.Level.WARNING, "{0} block {1} is corrupted", "data", 7);
    log.log(System.Logger.Level.INFO, (Supplier<String>) () -> "supplied");
    log.log(System.Logger.Level.INFO, "with a cause", new IllegalStateException("x"));
    log.log(System.Logger.Level.DEBUG, "it''s {0}", "quoted");
    log.log(System.Logger.Level.INFO, (Object) "an object");
    r.threshold = System.Logger.Level.WARNING;
    log.log(
        System.Logger.Level.INFO,
        (Supplier<String>)
            () -> {
              throw new AssertionError("a message below the level is not made");
            });
    assertThat(r.lines)
        .containsExactly(
            "ERROR device-mapper: verity: dm-3: plain {0}",
            "WARNING device-mapper: verity: dm-3: data block 7 is corrupted",
            "INFO device-mapper: verity: dm-3: supplied",
            "INFO device-mapper: verity: dm-3: with a cause (x)",
            "DEBUG device-mapper: verity: dm-3: it's quoted",
            "INFO device-mapper: verity: dm-3: an object");
  }
}
