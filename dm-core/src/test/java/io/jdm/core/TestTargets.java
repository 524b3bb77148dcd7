package io.jdm.core;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/** Target types for tests of the core. */
final class TestTargets {
  private TestTargets() {}

  /** A type with a name, a feature set and a constructor. */
  static TargetType type(String name, Set<TargetFeature> features, Ctor ctor) {
    return new TargetType() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public TargetVersion version() {
        return TargetVersion.of(0, 1, 0);
      }

      @Override
      public Set<TargetFeature> features() {
        return features;
      }

      @Override
      public Target create(TargetContext ctx, long begin, long length, String[] args) {
        return ctor.create(ctx, begin, length, args);
      }
    };
  }

  interface Ctor {
    Target create(TargetContext ctx, long begin, long length, String[] args);
  }

  static TargetType zeroLike(String name, TargetFeature... features) {
    Set<TargetFeature> f = features.length == 0 ? Set.of() : EnumSet.of(features[0], features);
    return type(
        name,
        f,
        (ctx, b, l, a) ->
            bio -> {
              if (bio.op() == Bio.Op.READ) {
                bio.zeroFill();
              }
              bio.complete(BlockStatus.OK);
              return MapResult.SUBMITTED;
            });
  }

  /**
   * {@code holder <dev>}: a linear-at-0 target that can hold bios instead of passing them on, and
   * push them back (REQUEUE) from end-I/O.
   */
  static final class Holder {
    final ConcurrentLinkedQueue<Bio> held = new ConcurrentLinkedQueue<>();
    volatile boolean hold;
    volatile boolean requeueOnEnd;
    volatile boolean refusePreresume;
    volatile boolean releaseOnPresuspend;
    final AtomicInteger requeueOnce = new AtomicInteger();
    final AtomicInteger maps = new AtomicInteger();
    volatile CountDownLatch presuspended = new CountDownLatch(1);

    TargetType type() {
      return TestTargets.type(
          "holder",
          Set.of(),
          (ctx, begin, length, args) -> {
            BlockDevice dev = ctx.getDevice(args[0]).bdev();
            DmDev d = ctx.getDevice(args[0]);
            return new EndIoTarget() {
              @Override
              public MapResult map(Bio bio) {
                maps.incrementAndGet();
                bio.remap(dev, bio.sector() - begin);
                if (hold) {
                  held.add(bio);
                  return MapResult.SUBMITTED;
                }
                return MapResult.REMAPPED;
              }

              @Override
              public EndIoResult endIo(Bio bio, BlockStatus status) {
                if (requeueOnEnd || requeueOnce.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                  return EndIoResult.REQUEUE;
                }
                return EndIoResult.DONE;
              }

              @Override
              public String message(String... argv) {
                if (argv[0].equals("ping")) {
                  return "pong " + (argv.length - 1);
                }
                throw new TargetException("holder: unknown message " + argv[0]);
              }

              @Override
              public void presuspend() {
                presuspended.countDown();
                if (releaseOnPresuspend) {
                  hold = false;
                  release();
                }
              }

              @Override
              public void preresume() {
                if (refusePreresume) {
                  throw new TargetException(Errno.EAGAIN, "no key");
                }
              }

              @Override
              public List<DeviceArea> devices() {
                return List.of(new DeviceArea(d, 0, length));
              }

              @Override
              public int numFlushBios() {
                return 1;
              }
            };
          });
    }

    /** Passes every held bio on to its device. */
    void release() {
      Bio b;
      while ((b = held.poll()) != null) {
        b.submit();
      }
    }
  }
}
