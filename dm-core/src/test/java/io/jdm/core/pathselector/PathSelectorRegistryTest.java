package io.jdm.core.pathselector;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.BlockDevice;
import io.jdm.core.DeviceNumber;
import io.jdm.core.DmDev;
import io.jdm.core.DmException;
import io.jdm.core.Errno;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.StatusType;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Selector types by name through the service loader, and the SPI's contract on a small selector.
 */
class PathSelectorRegistryTest {

  /**
   * Found through {@code META-INF/services/io.jdm.core.pathselector.PathSelectorType} in the tests:
   * the first valid path in the order added, one per-path argument (a weight, shown in the table),
   * the in-flight count in the status.
   */
  public static final class FirstValidType implements PathSelectorType {
    public FirstValidType() {}

    @Override
    public String name() {
      return "first-valid";
    }

    @Override
    public int tableArgs() {
      return 1;
    }

    @Override
    public int infoArgs() {
      return 1;
    }

    @Override
    public PathSelector create(TargetContext ctx, String... args) {
      if (args.length != 0) {
        throw new TargetException("first-valid ps: no arguments");
      }
      return new FirstValid();
    }
  }

  static final class Info {
    final String weight;
    boolean valid = true;
    int inFlight;

    Info(String weight) {
      this.weight = weight;
    }
  }

  static final class FirstValid implements PathSelector {
    final List<DmPath> paths = new ArrayList<>();

    @Override
    public void addPath(DmPath path, String... args) {
      if (args.length != 1) {
        throw new TargetException("first-valid ps: incorrect number of arguments");
      }
      path.setSelectorContext(new Info(args[0]));
      paths.add(path);
    }

    @Override
    public synchronized DmPath selectPath(long nrBytes) {
      for (DmPath p : paths) {
        if (((Info) p.selectorContext()).valid) {
          return p;
        }
      }
      return null;
    }

    @Override
    public synchronized void failPath(DmPath path) {
      ((Info) path.selectorContext()).valid = false;
    }

    @Override
    public synchronized void reinstatePath(DmPath path) {
      ((Info) path.selectorContext()).valid = true;
    }

    @Override
    public synchronized void startIo(DmPath path, long nrBytes) {
      ((Info) path.selectorContext()).inFlight++;
    }

    @Override
    public synchronized void endIo(DmPath path, long nrBytes, long startNanos) {
      ((Info) path.selectorContext()).inFlight--;
    }

    @Override
    public synchronized String status(DmPath path, StatusType type) {
      if (path == null) {
        return "0 ";
      }
      Info i = (Info) path.selectorContext();
      return (type == StatusType.INFO ? i.inFlight : i.weight) + " ";
    }
  }

  /** A named type that is not meant to be constructed. */
  private static PathSelectorType named(String name, int tableArgs) {
    return new PathSelectorType() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public int tableArgs() {
        return tableArgs;
      }

      @Override
      public int infoArgs() {
        return 0;
      }

      @Override
      public PathSelector create(TargetContext ctx, String... args) {
        throw new AssertionError();
      }
    };
  }

  private static DmDev dev(int minor) {
    BlockDevice bdev = MemoryBlockDevice.create("d" + minor, 64);
    return new DmDev() {
      @Override
      public BlockDevice bdev() {
        return bdev;
      }

      @Override
      public DeviceNumber number() {
        return new DeviceNumber(DeviceNumber.LOCAL_MAJOR, minor);
      }

      @Override
      public String path() {
        return "d" + minor;
      }

      @Override
      public boolean writable() {
        return true;
      }
    };
  }

  @Test
  void theServiceLoaderFindsTypes() {
    PathSelectorRegistry r = PathSelectorRegistry.loadDefault();
    assertThat(r.get("first-valid")).isInstanceOf(FirstValidType.class);
    assertThat(r.get("First-Valid")).as("names compare exactly, as strcmp").isNull();
    assertThat(r.get(null)).isNull();
    assertThat(PathSelectorRegistry.empty().get("first-valid")).isNull();
    assertThat(PathSelectorRegistry.empty().list()).isEmpty();
  }

  @Test
  void namesAreUniqueAndListedNewestFirst() {
    PathSelectorRegistry r = PathSelectorRegistry.empty();
    r.register(named("a", 0));
    r.register(named("b", 1));
    assertThat(r.list()).extracting(PathSelectorType::name).containsExactly("b", "a");
    assertThatThrownBy(() -> r.register(named("a", 0)))
        .isInstanceOf(DmException.class)
        .hasMessage("path selector a already registered")
        .extracting(e -> ((DmException) e).errno())
        .isEqualTo(Errno.EBUSY);
    assertThat(r.unregister("a")).isTrue();
    assertThat(r.unregister("a")).isFalse();
    r.register(named("a", 0));
    assertThat(r.list()).extracting(PathSelectorType::name).containsExactly("a", "b");
    assertThatThrownBy(() -> r.register(named("two words", 0)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> r.register(named("", 0))).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> r.register(named("neg", -1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("table_args -1");
    assertThat(r.list()).hasSize(2);
  }

  @Test
  void aSelectorKeepsItsStateOnThePathAndHandsBackTheSameObject() {
    PathSelectorType t = PathSelectorRegistry.loadDefault().get("first-valid");
    assertThat(t.usesStartTime()).isFalse();
    assertThatThrownBy(() -> t.create(null, "x")).isInstanceOf(TargetException.class);
    PathSelector ps = t.create(null);
    DmPath a = new DmPath(dev(1));
    DmPath b = new DmPath(dev(2)) {}; // an owner's subclass, as multipath's pgpath
    assertThat(a.selectorContext()).isNull();
    ps.addPath(a, "7");
    ps.addPath(b, "9");
    assertThatThrownBy(() -> ps.addPath(new DmPath(dev(3))))
        .hasMessage("first-valid ps: incorrect number of arguments");
    assertThat(ps.selectPath(4096)).isSameAs(a);
    ps.startIo(a, 4096);
    assertThat(ps.status(null, StatusType.INFO)).isEqualTo("0 ");
    assertThat(ps.status(a, StatusType.INFO)).isEqualTo("1 ");
    assertThat(ps.status(b, StatusType.TABLE)).isEqualTo("9 ");
    ps.failPath(a);
    assertThat(ps.selectPath(4096)).isSameAs(b);
    ps.failPath(b);
    assertThat(ps.selectPath(4096)).isNull();
    ps.reinstatePath(b);
    assertThat(ps.selectPath(4096)).isSameAs(b);
    ps.endIo(a, 4096, 0);
    assertThat(ps.status(a, StatusType.INFO)).isEqualTo("0 ");
    assertThat(a.dev().name()).isEqualTo("240:1");
    assertThat(b).hasToString("DmPath[240:2]");
    assertThatThrownBy(() -> new DmPath(null)).isInstanceOf(NullPointerException.class);
    ps.close();
  }
}
