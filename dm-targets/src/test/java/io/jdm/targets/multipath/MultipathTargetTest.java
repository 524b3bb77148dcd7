package io.jdm.targets.multipath;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.BaseTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.ReferenceModel;
import io.jdm.testkit.TargetFixture;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * {@code multipath} as a disk: the suite over two groups on one backing store (round-robin over two
 * paths, then service-time over a third), and paths failing and coming back under concurrent load.
 */
class MultipathTargetTest extends BaseTargetTestCase {
  @Override
  protected String targetType() {
    return "multipath";
  }

  @Override
  protected String targetArgs(TargetFixture f, long length) {
    MemoryBlockDevice store = MemoryBlockDevice.create("store", length);
    String p1 = f.register(new PathDevice("p1", store, true));
    String p2 = f.register(new PathDevice("p2", store, false));
    String p3 = f.register(new PathDevice("p3", store, false));
    return "1 queue_if_no_path 0 2 1 round-robin 0 2 1 "
        + p1
        + " 1 "
        + p2
        + " 1 service-time 0 1 2 "
        + p3
        + " 1 1";
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk();
  }

  @Override
  protected List<BadArguments> badArguments(TargetFixture f) {
    String d = f.memory(4096);
    String rr = "0 0 1 1 round-robin 0 ";
    return List.of(
        new BadArguments(64, "", "invalid number of feature args"),
        new BadArguments(64, "9 a a a a a a a a a 0 0 0", "invalid number of feature args"),
        new BadArguments(64, "2 queue_if_no_path", "invalid number of feature args"),
        new BadArguments(64, "1 bogus 0 0 0", "Unrecognised multipath feature request"),
        new BadArguments(64, "1 pg_init_retries 0 0 0", "Unrecognised multipath feature request"),
        new BadArguments(
            64, "2 pg_init_retries 0 0 0 0", "pg_init_retries must be between 1 and 50"),
        new BadArguments(
            64, "2 pg_init_retries 51 0 0 0", "pg_init_retries must be between 1 and 50"),
        new BadArguments(
            64,
            "2 pg_init_delay_msecs 60001 0 0 0",
            "pg_init_delay_msecs must be between 0 and 60000"),
        new BadArguments(64, "2 queue_mode sq 0 0 0", "Unknown 'queue_mode' requested"),
        new BadArguments(64, "0 x", "invalid number of hardware handler args"),
        new BadArguments(64, "0 2 alua", "invalid number of hardware handler args"),
        new BadArguments(64, "0 1 alua 0 0", "error attaching hardware handler"),
        new BadArguments(64, "0 0", "invalid number of priority groups"),
        new BadArguments(64, "0 0 1025 1", "invalid number of priority groups"),
        new BadArguments(64, "0 0 1 x", "invalid initial priority group number"),
        new BadArguments(64, "0 0 0 1", "invalid initial priority group"),
        new BadArguments(64, "0 0 1 0 round-robin 0 1 0 " + d, "invalid initial priority group"),
        new BadArguments(64, "0 0 1 1 round-robin", "not enough priority group arguments"),
        new BadArguments(64, "0 0 1 1 no-such 0 1 0 " + d, "unknown path selector type"),
        new BadArguments(64, "0 0 1 1 round-robin 1", "invalid number of path selector args"),
        new BadArguments(
            64,
            "0 0 1 1 historical-service-time 1 1024 1 0 " + d,
            "path selector constructor failed"),
        new BadArguments(
            64,
            "0 0 1 1 historical-service-time 3 1 1 1 1 0 " + d,
            "path selector constructor failed"),
        new BadArguments(64, rr + "0 0 " + d, "invalid number of paths"),
        new BadArguments(64, rr + "1025 0 " + d, "invalid number of paths"),
        new BadArguments(64, rr + "1 x " + d, "invalid number of selector args"),
        new BadArguments(64, rr + "2 0 " + d, "not enough path parameters"),
        new BadArguments(64, rr + "1 1 " + d, "not enough path parameters"),
        new BadArguments(64, rr + "1 0 /no/such/device", "error getting device"),
        new BadArguments(
            64, rr + "1 2 " + d + " 1 1", "round-robin ps: incorrect number of arguments"),
        new BadArguments(64, rr + "1 1 " + d + " x", "round-robin ps: invalid repeat count"),
        new BadArguments(
            64,
            "0 0 1 1 queue-length 0 1 2 " + d + " 1 1",
            "queue-length ps: incorrect number of arguments"),
        new BadArguments(
            64, "0 0 1 1 queue-length 0 1 1 " + d + " -1", "queue-length ps: invalid repeat count"),
        new BadArguments(
            64,
            "0 0 1 1 service-time 0 1 3 " + d + " 1 1 1",
            "service-time ps: incorrect number of arguments"),
        new BadArguments(
            64, "0 0 1 1 service-time 0 1 1 " + d + " 1x", "service-time ps: invalid repeat count"),
        new BadArguments(
            64,
            "0 0 1 1 service-time 0 1 2 " + d + " 1 101",
            "service-time ps: invalid relative_throughput value"),
        new BadArguments(
            64,
            "0 0 1 1 historical-service-time 0 1 2 " + d + " 1 1",
            "historical-service-time ps: incorrect number of arguments"),
        new BadArguments(
            64,
            "0 0 1 1 historical-service-time 0 1 1 " + d + " r",
            "historical-service-time ps: invalid repeat count"),
        new BadArguments(64, "0 0 2 1 round-robin 0 1 0 " + d, "priority group count mismatch"),
        new BadArguments(
            64,
            "0 0 1 1 round-robin 0 1 0 " + d + " round-robin 0 1 0 " + d,
            "priority group count mismatch"));
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * Four writers, each on its own region with its own model, while a chaos thread (seeded) fails
   * paths, reinstates them and switches groups; with {@code queue_if_no_path} no error reaches a
   * writer, and every region reads back as its model after all paths are back: nothing lost, no
   * stale retry landing over a newer write.
   */
  @Test
  void pathsFailingAndComingBackUnderLoadLoseNothing() throws Exception {
    DeviceMapper dm = DeviceMapper.builder().seed(seed()).build();
    MemoryBlockDevice store = MemoryBlockDevice.create("store", 8192);
    PathDevice[] paths = {
      new PathDevice("p1", store, true),
      new PathDevice("p2", store, false),
      new PathDevice("p3", store, false)
    };
    try {
      for (int i = 0; i < paths.length; i++) {
        dm.registerDevice("p" + (i + 1), paths[i]);
      }
      MappedDevice md =
          dm.create(
              "mp",
              "0 8192 multipath 1 queue_if_no_path 0 2 1 round-robin 0 2 1 p1 1 p2 1"
                  + " queue-length 0 1 1 p3 1");
      int threads = 4;
      long region = md.sectors() / threads;
      AtomicBoolean stop = new AtomicBoolean();
      ExecutorService pool = Executors.newFixedThreadPool(threads);
      List<Future<Integer>> futures = new ArrayList<>();
      try {
        for (int t = 0; t < threads; t++) {
          long lo = t * region;
          Random rnd = new Random(seed() + 31 * t);
          futures.add(
              pool.submit(
                  () -> {
                    ReferenceModel model = new ReferenceModel(md.sectors());
                    int ops = 0;
                    while (!stop.get() || ops < 100) {
                      randomOp(md, model, lo, lo + region, rnd);
                      ops++;
                    }
                    verify(md, model, lo, (int) region, rnd);
                    return ops;
                  }));
        }
        Random chaos = new Random(seed());
        for (int i = 0; i < 300; i++) {
          PathDevice p = paths[chaos.nextInt(paths.length)];
          switch (chaos.nextInt(4)) {
            case 0:
              p.failWith(BlockStatus.TRANSPORT);
              break;
            case 1:
              p.failWith(null);
              md.message(0, "reinstate_path", p.name());
              break;
            case 2:
              md.message(0, "fail_path", p.name());
              break;
            default:
              md.message(0, "switch_group", Integer.toString(1 + chaos.nextInt(2)));
              break;
          }
          Thread.yield();
        }
        for (PathDevice p : paths) {
          p.failWith(null);
          md.message(0, "reinstate_path", p.name());
        }
        stop.set(true);
        for (Future<Integer> f : futures) {
          assertThat(f.get(5, TimeUnit.MINUTES)).isGreaterThanOrEqualTo(100);
        }
        // a bio that was failing on a path when it was reinstated fails it again on completion;
        // with no I/O in flight now, reinstate once more before looking at the status
        for (PathDevice p : paths) {
          md.message(0, "reinstate_path", p.name());
        }
      } finally {
        stop.set(true);
        pool.shutdownNow();
        assertThat(pool.awaitTermination(1, TimeUnit.MINUTES)).isTrue();
      }
      assertThat(md.status()).contains(" A ").doesNotContain(" F ");
      int failures = 0;
      for (PathDevice p : paths) {
        failures += p.failed.get();
      }
      assertThat(failures).as("path errors the writers never saw").isGreaterThan(0);
      dm.remove("mp");
    } finally {
      dm.close();
      for (BlockDevice p : paths) {
        p.close();
      }
    }
  }
}
