package io.jdm.targets.crash;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MapResult;
import io.jdm.core.MappedDevice;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetRegistry;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;
import io.jdm.core.dirtylog.DirtyLog;
import io.jdm.core.dirtylog.DirtyLogRegistry;
import io.jdm.core.region.RegionHash;
import io.jdm.testkit.crash.CrashCheck;
import io.jdm.testkit.crash.CrashRecorder;
import io.jdm.testkit.crash.CrashRecording;
import io.jdm.testkit.crash.CrashReport;
import io.jdm.testkit.crash.CrashTester;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The {@code disk} dirty log and the region hash under every crash state of a recorded mirror
 * workload.
 *
 * <p>One recorded device holds the log (sector 0) and the two legs of a small mirror (16 regions of
 * 8 sectors each). A seeded workload writes through the region hash the way {@code dm-raid1} does:
 * {@code startWrites} (which marks and flushes the log), the write to both legs, {@code endWrite},
 * and now and then the worker's {@code updateStates}, whose flush callback flushes the legs before
 * regions are written clean. The invariant, checked in every crash state: a region the log on disk
 * has clean has equal legs. A write whose region was not durably dirty when it went out, or a clean
 * mark that reached the disk before the data it covers, breaks it; so the test also shows that
 * leaving out the flush callback is caught.
 */
class DiskLogCrashTest {
  private static final long SEED = 20261203L;
  private static final int REGIONS = 16;
  private static final int REGION_SECTORS = 8;
  private static final long LEG_A = 64; // sectors
  private static final long LEG_B = LEG_A + REGIONS * REGION_SECTORS;
  private static final long SECTORS = LEG_B + REGIONS * REGION_SECTORS;
  private static final int MIRROR_MAGIC = 0x4D695272;

  /**
   * {@code crashlog <dev> <region> [..]}: a target that only builds the disk log over its device.
   */
  private static final class LogHolder implements TargetType {
    volatile DirtyLog log;
    volatile DirtyLog.FlushCallback callback;

    @Override
    public String name() {
      return "crashlog";
    }

    @Override
    public TargetVersion version() {
      return TargetVersion.of(1, 0, 0);
    }

    @Override
    public Target create(TargetContext ctx, long begin, long length, String[] args) {
      DirtyLog l = DirtyLogRegistry.builtins().create("disk", ctx, length, callback, args);
      log = l;
      return new Target() {
        @Override
        public MapResult map(Bio bio) {
          bio.complete(BlockStatus.IOERR);
          return MapResult.SUBMITTED;
        }

        @Override
        public void postsuspend() {
          try {
            l.postsuspend();
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }

        @Override
        public void resume() {
          try {
            l.resume();
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }

        @Override
        public void close() {
          l.close();
        }
      };
    }
  }

  /** Records the workload; {@code flushLegs} false leaves out the mirror's flush callback. */
  private static CrashRecording record(boolean flushLegs) throws IOException {
    Random rnd = new Random(SEED);
    LogHolder holder = new LogHolder();
    TargetRegistry registry = TargetRegistry.loadDefault();
    registry.register(holder);
    try (DeviceMapper dm = DeviceMapper.builder().registry(registry).build();
        CrashRecorder rec = CrashRecorder.start(dm, SECTORS)) {
      MappedDevice dev = rec.device();
      holder.callback = flushLegs ? dev::flush : null;
      String table =
          "0 " + REGIONS * REGION_SECTORS + " crashlog " + dev.name() + " " + REGION_SECTORS;
      dm.create("mirrorlog", table + " nosync"); // legs start equal: every region in sync
      RegionHash rh =
          RegionHash.create(
              holder.log,
              0,
              1,
              new RegionHash.Callbacks() {
                @Override
                public void dispatchBios(List<Bio> bios) {
                  throw new AssertionError("no recovery in this workload");
                }

                @Override
                public void wakeupWorkers() {}

                @Override
                public void wakeupAllRecoveryWaiters() {}
              });
      for (int step = 0; step < 150; step++) {
        List<Bio> writes = new ArrayList<>();
        for (int i = 1 + rnd.nextInt(3); i > 0; i--) {
          long sector = rnd.nextInt(REGIONS) * (long) REGION_SECTORS + rnd.nextInt(REGION_SECTORS);
          ByteBuffer payload = ByteBuffer.allocate(512);
          Arrays.fill(payload.array(), (byte) (1 + rnd.nextInt(255)));
          writes.add(Bio.write(sector, payload, b -> {}));
        }
        RegionHash.WriteBatch batch = rh.startWrites(writes);
        assertThat(batch.logFailure()).isNull();
        assertThat(batch.sync()).hasSameSizeAs(writes);
        for (Bio w : batch.sync()) {
          mirror(dev, w);
          rh.endWrite(w);
        }
        int r = rnd.nextInt(10);
        if (r < 3) {
          rh.updateStates(false);
        } else if (r == 3) {
          dev.flush(); // someone else's flush
        }
      }
      dm.remove("mirrorlog");
      return rec.stop();
    }
  }

  /** The write on both legs, one after the other, neither flushed. */
  private static void mirror(BlockDevice dev, Bio w) throws IOException {
    for (long leg : new long[] {LEG_A, LEG_B}) {
      dev.write(w.payload(), (leg + w.sector()) << Bio.SECTOR_SHIFT);
    }
  }

  /** A region the log on disk has clean must read the same on both legs. */
  private static final CrashCheck CLEAN_MEANS_EQUAL =
      state -> {
        BlockDevice d = state.device();
        ByteBuffer log = ByteBuffer.allocate(1536).order(ByteOrder.LITTLE_ENDIAN);
        d.read(log, 0);
        int version = log.getInt(4);
        if (log.getInt(0) != MIRROR_MAGIC || (version != 1 && version != 2)) {
          return; // no log yet: a new one would resynchronise every region
        }
        byte[] legs = new byte[2 * REGIONS * REGION_SECTORS * 512];
        d.read(ByteBuffer.wrap(legs), LEG_A << Bio.SECTOR_SHIFT);
        int regionBytes = REGION_SECTORS * 512;
        int legBytes = REGIONS * regionBytes;
        for (int r = 0; r < REGIONS; r++) {
          boolean clean = (log.get(1024 + (r >>> 3)) & (1 << (r & 7))) != 0;
          boolean equal =
              Arrays.equals(
                  legs,
                  r * regionBytes,
                  (r + 1) * regionBytes,
                  legs,
                  legBytes + r * regionBytes,
                  legBytes + (r + 1) * regionBytes);
          assertThat(!clean || equal)
              .as("region %d is clean in the log, so its legs must agree (seed %d)", r, SEED)
              .isTrue();
        }
      };

  @Test
  void everyCrashStateTrustsOnlyRegionsWhoseLegsAgree() throws IOException {
    CrashRecording recording = record(true);
    CrashReport report = CrashTester.of(recording).seed(SEED).run(CLEAN_MEANS_EQUAL);
    System.out.println("disk log: " + report);
    report.assertPassed();
    assertThat(report.statesChecked()).isGreaterThan(1000);
  }

  @Test
  void markingRegionsCleanWithoutFlushingTheLegsFirstIsCaught() throws IOException {
    CrashRecording recording = record(false);
    CrashReport report = CrashTester.of(recording).seed(SEED).run(CLEAN_MEANS_EQUAL);
    System.out.println("disk log without the flush callback: " + report);
    assertThat(report.passed()).isFalse();
    assertThat(report.failure().orElseThrow())
        .hasMessageContaining("is clean in the log, so its legs must agree");
  }
}
