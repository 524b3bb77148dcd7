package io.jdm.core.dirtylog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.DmException;
import io.jdm.core.Errno;
import io.jdm.core.StatusType;
import io.jdm.core.TableException;
import io.jdm.core.TargetContext;
import org.junit.jupiter.api.Test;

/** Log types by name, built in and through the service loader. */
class DirtyLogRegistryTest {

  /** Found through {@code META-INF/services/io.jdm.core.dirtylog.DirtyLogType} in the tests. */
  public static final class EchoLogType implements DirtyLogType {
    public EchoLogType() {}

    @Override
    public String name() {
      return "echo";
    }

    @Override
    public DirtyLog create(
        TargetContext ctx, long targetLength, DirtyLog.FlushCallback cb, String... args) {
      return new CoreLog(this, BitsetLog.parse(args, targetLength));
    }
  }

  @Test
  void builtinsAreCoreAndDiskNewestFirst() {
    assertThat(DirtyLogRegistry.builtins().list())
        .extracting(DirtyLogType::name)
        .containsExactly("disk", "core");
  }

  @Test
  void theServiceLoaderFindsMoreTypes() {
    DirtyLogRegistry r = DirtyLogRegistry.loadDefault();
    assertThat(r.get("echo")).isInstanceOf(EchoLogType.class);
    assertThat(r.list()).extracting(DirtyLogType::name).containsExactly("echo", "disk", "core");
    assertThat(DirtyLogRegistry.builtins().get("echo")).isNull();
    DirtyLog log = r.create("echo", null, 4096, null, "1024");
    assertThat(log.status(StatusType.INFO)).isEqualTo("1 echo");
    assertThat(log.status(StatusType.TABLE)).isEqualTo("echo 1 1024 ");
  }

  @Test
  void namesAreUnique() {
    DirtyLogRegistry r = DirtyLogRegistry.builtins();
    assertThatThrownBy(() -> r.register(new CoreLogType()))
        .isInstanceOf(DmException.class)
        .hasMessage("dirty log type core already registered")
        .extracting(e -> ((DmException) e).errno())
        .isEqualTo(Errno.EEXIST);
    assertThat(r.unregister("core")).isTrue();
    assertThat(r.unregister("core")).isFalse();
    r.register(new CoreLogType());
    assertThatThrownBy(
            () ->
                r.register(
                    new DirtyLogType() {
                      @Override
                      public String name() {
                        return "two words";
                      }

                      @Override
                      public DirtyLog create(
                          TargetContext c, long l, DirtyLog.FlushCallback f, String... a) {
                        throw new AssertionError();
                      }
                    }))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void anUnknownTypeIsRefusedWithTheKernelsText() {
    try (LogFixture fx = new LogFixture()) {
      assertThatThrownBy(() -> fx.create("m", 4096, "clustered-disk", "1024"))
          .isInstanceOf(TableException.class)
          .hasMessage("line 1: logged: Module for logging type \"clustered-disk\" not found.");
    }
  }
}
