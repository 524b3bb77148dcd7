package io.jdm.bench;

import io.jdm.core.Bio;
import io.jdm.core.BioCallback;
import io.jdm.core.BlockDevice;
import io.jdm.core.DeviceMapper;
import io.jdm.core.NullBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Snapshots over {@link NullBlockDevice}s (what is measured is jdm's own cost):
 *
 * <ul>
 *   <li>{@code read}: a 4 KiB read of a chunk no one has changed, through the {@code origin}
 *       ({@code snapshot-origin}) or through the {@code snapshot} (exception lookup, read tracking,
 *       remap to the origin). Goal: the snapshot at least 0.9x the origin's rate.
 *   <li>{@code firstWrite}: a 4 KiB origin write to a chunk not yet copied, with 0, 1 or 4
 *       persistent snapshots of 4 KiB chunks: the copy-out to each (kcopyd), the commit of each
 *       store (a metadata write with PREFLUSH|FUA) and then the write, waited for.
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SnapshotBenchmark {
  private static final long SECTORS = 1L << 24;

  /** Reads of unchanged chunks. */
  @State(Scope.Thread)
  public static class ReadState {
    @Param({"origin", "snapshot"})
    public String path;

    DeviceMapper dm;
    BlockDevice dev;
    final ByteBuffer buffer = ByteBuffer.allocateDirect(4096);
    final Bio bio = Bio.read(0, buffer, b -> {});
    long next;

    @Setup(Level.Trial)
    public void setUp() {
      dm = DeviceMapper.create();
      dm.registerDevice("real", NullBlockDevice.create("real", SECTORS));
      dm.registerDevice("cow", NullBlockDevice.create("cow", SECTORS));
      BlockDevice origin = dm.create("lv", "0 " + SECTORS + " snapshot-origin real");
      BlockDevice snap = dm.create("snap", "0 " + SECTORS + " snapshot real cow P 8");
      dev = path.equals("origin") ? origin : snap;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      dm.close();
    }
  }

  @Benchmark
  public Bio read(ReadState s) {
    long sector = (s.next += 8) & (SECTORS - 1);
    s.bio.reset(Bio.Op.READ, 0, sector, s.buffer.clear(), NOTHING);
    s.dev.submit(s.bio);
    return s.bio;
  }

  private static final BioCallback NOTHING = b -> {};

  /** Origin writes that copy out. */
  @State(Scope.Thread)
  public static class WriteState {
    @Param({"0", "1", "4"})
    public int snapshots;

    DeviceMapper dm;
    BlockDevice origin;
    final ByteBuffer buffer = ByteBuffer.allocateDirect(4096);
    long next;

    @Setup(Level.Iteration)
    public void setUp() {
      dm = DeviceMapper.create();
      dm.registerDevice("real", NullBlockDevice.create("real", SECTORS));
      origin = dm.create("lv", "0 " + SECTORS + " snapshot-origin real");
      for (int i = 0; i < snapshots; i++) {
        dm.registerDevice("cow" + i, NullBlockDevice.create("cow" + i, 2 * SECTORS));
        dm.create("snap" + i, "0 " + SECTORS + " snapshot real cow" + i + " P 8");
      }
      next = 0;
    }

    @TearDown(Level.Iteration)
    public void tearDown() {
      dm.close();
    }
  }

  @Benchmark
  public long firstWrite(WriteState s) throws IOException {
    long sector = s.next;
    s.next = (s.next + 8) & (SECTORS - 1);
    s.origin.write(s.buffer.clear(), sector << Bio.SECTOR_SHIFT);
    return sector;
  }
}
