package io.jdm.targets.multipath;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.BioHoldList;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.Clock;
import io.jdm.core.DeviceNumber;
import io.jdm.core.DmDev;
import io.jdm.core.StatusType;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.Workqueue;
import io.jdm.core.pathselector.DmPath;
import io.jdm.core.pathselector.PathSelector;
import io.jdm.core.pathselector.PathSelectorRegistry;
import io.jdm.core.pathselector.PathSelectorType;
import io.jdm.testkit.ManualClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Each selector's choices, worked out by hand from the kernel's code, under loads the test sets
 * with {@code startIo} / {@code endIo} and time it moves with a manual clock.
 */
class PathSelectorsTest {
  private final ManualClock clock = new ManualClock();
  private final PathSelectorRegistry registry = PathSelectorRegistry.loadDefault();

  /** Only what a selector may use: the clock and a logger. */
  private final TargetContext ctx =
      new TargetContext() {
        @Override
        public String deviceName() {
          return "test";
        }

        @Override
        public boolean readOnly() {
          return false;
        }

        @Override
        public DmDev getDevice(String path) {
          throw new UnsupportedOperationException();
        }

        @Override
        public Workqueue workqueue(String name, int threads) {
          throw new UnsupportedOperationException();
        }

        @Override
        public BioHoldList holdList(BlockStatus failStatus) {
          throw new UnsupportedOperationException();
        }

        @Override
        public boolean noflushSuspending() {
          return false;
        }

        @Override
        public void triggerEvent() {}

        @Override
        public SplittableRandom random() {
          return new SplittableRandom(1);
        }

        @Override
        public Clock clock() {
          return clock;
        }

        @Override
        public System.Logger logger() {
          return System.getLogger("PathSelectorsTest");
        }
      };

  private static DmPath path(int minor) {
    return new DmPath(
        new DmDev() {
          @Override
          public BlockDevice bdev() {
            return null;
          }

          @Override
          public DeviceNumber number() {
            return new DeviceNumber(8, minor);
          }

          @Override
          public String path() {
            return "sd" + minor;
          }

          @Override
          public boolean writable() {
            return true;
          }
        });
  }

  private PathSelector selector(String name, String... args) {
    PathSelectorType t = registry.get(name);
    assertThat(t).as(name).isNotNull();
    return t.create(ctx, args);
  }

  /** {@code n} selections of {@code bytes}, each started and left in flight; the minors chosen. */
  private static List<Integer> choose(PathSelector ps, int n, long bytes) {
    List<Integer> l = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      DmPath p = ps.selectPath(bytes);
      l.add(p == null ? -1 : p.dev().number().minor());
      if (p != null) {
        ps.startIo(p, bytes);
      }
    }
    return l;
  }

  @Test
  void theKernelsFourAreRegisteredWithTheirArgumentCounts() {
    assertThat(registry.list())
        .extracting(PathSelectorType::name)
        .contains("round-robin", "queue-length", "service-time", "historical-service-time");
    assertThat(registry.get("round-robin").tableArgs()).isEqualTo(1);
    assertThat(registry.get("round-robin").infoArgs()).isZero();
    assertThat(registry.get("queue-length").infoArgs()).isEqualTo(1);
    assertThat(registry.get("service-time").tableArgs()).isEqualTo(2);
    assertThat(registry.get("service-time").infoArgs()).isEqualTo(2);
    assertThat(registry.get("historical-service-time").tableArgs()).isEqualTo(1);
    assertThat(registry.get("historical-service-time").infoArgs()).isEqualTo(3);
    assertThat(registry.get("historical-service-time").usesStartTime()).isTrue();
    assertThat(registry.get("service-time").usesStartTime()).isFalse();
  }

  @Test
  void roundRobinRotatesAndPutsAReinstatedPathFirst() {
    PathSelector ps = selector("round-robin");
    DmPath a = path(1);
    DmPath b = path(2);
    DmPath c = path(3);
    ps.addPath(a);
    ps.addPath(b, "1");
    ps.addPath(c, "7"); // deprecated: 1 is used
    assertThat(choose(ps, 4, 4096)).containsExactly(1, 2, 3, 1);
    ps.failPath(b);
    assertThat(choose(ps, 3, 4096)).containsExactly(3, 1, 3);
    ps.reinstatePath(b); // list_move: to the head
    assertThat(choose(ps, 4, 4096)).containsExactly(2, 1, 3, 2);
    ps.failPath(a);
    ps.failPath(b);
    ps.failPath(c);
    assertThat(ps.selectPath(512)).isNull();
    assertThat(ps.status(null, StatusType.INFO)).isEqualTo("0 ");
    assertThat(ps.status(a, StatusType.INFO)).isEmpty();
    assertThat(ps.status(c, StatusType.TABLE)).isEqualTo("1 ");
    assertThatThrownBy(() -> ps.addPath(path(4), "1", "2"))
        .isInstanceOf(TargetException.class)
        .hasMessage("round-robin ps: incorrect number of arguments");
  }

  @Test
  void queueLengthTakesTheShortestQueueAndRotatesTies() {
    PathSelector ps = selector("queue-length");
    DmPath a = path(1);
    DmPath b = path(2);
    DmPath c = path(3);
    ps.addPath(a);
    ps.addPath(b);
    ps.addPath(c, "0");
    // idle paths in list order, then ties rotate: a b c, then all at 1: a (head) ...
    assertThat(choose(ps, 6, 4096)).containsExactly(1, 2, 3, 1, 2, 3);
    ps.endIo(b, 4096, 0);
    ps.endIo(b, 4096, 0);
    assertThat(choose(ps, 1, 4096)).containsExactly(2);
    ps.endIo(c, 4096, 0);
    assertThat(ps.status(a, StatusType.INFO)).isEqualTo("2 ");
    assertThat(ps.status(c, StatusType.INFO)).isEqualTo("1 ");
    assertThat(ps.status(c, StatusType.TABLE)).isEqualTo("0 ");
    // a 2, b 1, c 1; list a b c -> after choosing b: a c b; c 1 comes before b 1
    assertThat(choose(ps, 1, 4096)).containsExactly(3);
    ps.failPath(b);
    ps.failPath(c);
    assertThat(choose(ps, 1, 4096)).containsExactly(1);
    ps.reinstatePath(c); // list_move_tail
    assertThat(choose(ps, 1, 4096)).containsExactly(3);
  }

  @Test
  void serviceTimeWeighsInFlightBytesByThroughput() {
    PathSelector ps = selector("service-time");
    DmPath a = path(1);
    DmPath b = path(2);
    ps.addPath(a, "1", "1");
    ps.addPath(b, "1", "4");
    // equal loads: the faster path; then b until (sz_b + 4k) * 1 > (sz_a + 4k) * 4, ties to b
    assertThat(choose(ps, 5, 4096)).containsExactly(2, 2, 2, 2, 1);
    assertThat(ps.status(b, StatusType.INFO)).isEqualTo("16384 4 ");
    assertThat(ps.status(a, StatusType.INFO)).isEqualTo("4096 1 ");
    assertThat(ps.status(a, StatusType.TABLE)).isEqualTo("1 1 ");
    ps.endIo(b, 16384, 0);
    assertThat(ps.status(b, StatusType.INFO)).isEqualTo("0 4 ");

    // a path of throughput 0 only when nothing else is valid; equal throughput: the less loaded
    PathSelector zero = selector("service-time");
    DmPath x = path(3);
    DmPath y = path(4);
    DmPath z = path(5);
    zero.addPath(x, "1", "0");
    zero.addPath(y);
    zero.addPath(z, "0", "1");
    assertThat(choose(zero, 4, 512)).containsExactly(4, 5, 4, 5);
    zero.failPath(y);
    zero.failPath(z);
    assertThat(choose(zero, 1, 512)).containsExactly(3);
    assertThat(zero.status(z, StatusType.TABLE)).isEqualTo("0 1 ");
    assertThat(ServiceTimeSelectorType.compareLoad(0, 1, 0, 1, 0)).isZero();
  }

  @Test
  void historicalServiceTimeFollowsMeasuredTimesAndProbesStalePaths() {
    // base weight 0: each average is the last service time (fixed point, << 10)
    PathSelector ps = selector("historical-service-time", "0");
    assertThat(ps.status(null, StatusType.TABLE)).isEqualTo("2 0 0 ");
    DmPath a = path(1);
    DmPath b = path(2);
    ps.addPath(a);
    ps.addPath(b, "5");
    assertThat(ps.status(b, StatusType.TABLE)).isEqualTo("0 ");
    assertThat(ps.status(a, StatusType.INFO)).isEqualTo("1024 0 0 ");
    // both idle and equal: a; then b, idle, beats a with one outstanding
    assertThat(choose(ps, 2, 4096)).containsExactly(1, 2);
    clock.advance(Duration.ofMillis(10));
    ps.endIo(b, 4096, 0); // 10 ms
    clock.advance(Duration.ofMillis(90));
    ps.endIo(a, 4096, 0); // 100 ms
    assertThat(ps.status(b, StatusType.INFO)).isEqualTo("10240000000 0 30000000 ");
    assertThat(ps.status(a, StatusType.INFO)).isEqualTo("102400000000 0 300000000 ");
    // now 100 ms: b (stale since 30 ms, idle) wins over a
    assertThat(choose(ps, 1, 4096)).containsExactly(2);
    // b, faster by its average but stale and busy, is held to an equal share: a
    assertThat(choose(ps, 1, 4096)).containsExactly(1);

    // a threshold of 20 makes 10 ms and 100 ms "the same": outstanding I/Os decide
    PathSelector t = selector("historical-service-time", "0", "20");
    assertThat(t.status(null, StatusType.INFO)).isEqualTo("2 0 20 ");
    DmPath c = path(3);
    DmPath d = path(4);
    t.addPath(c);
    t.addPath(d);
    long start = clock.nanoTime();
    assertThat(choose(t, 2, 512)).containsExactly(3, 4);
    clock.advance(Duration.ofMillis(10));
    t.endIo(c, 512, start);
    clock.advance(Duration.ofMillis(90));
    t.endIo(d, 512, start);
    assertThat(choose(t, 4, 512)).containsExactly(3, 4, 3, 4);

    assertThat(HistoricalServiceTimeSelectorType.fixedPower(972, 10, 1)).isEqualTo(972);
    assertThat(HistoricalServiceTimeSelectorType.fixedEma(1024, 2048, 512)).isEqualTo(1536);
  }

  @Test
  void historicalServiceTimeArguments() {
    assertThat(selector("historical-service-time").status(null, StatusType.TABLE))
        .isEqualTo("2 972 0 ");
    assertThat(selector("historical-service-time", "1023", "4").status(null, StatusType.TABLE))
        .isEqualTo("2 1023 4 ");
    for (String[] bad : new String[][] {{"1024"}, {"x"}, {"1", "y"}, {"1", "2", "3"}, {"-1"}}) {
      assertThatThrownBy(() -> selector("historical-service-time", bad))
          .isInstanceOf(TargetException.class);
    }
  }
}
