package io.jdm.bench;

import io.jdm.core.Bio;
import io.jdm.core.BioCallback;
import io.jdm.core.BlockDevice;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MemoryBlockDevice;
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
 * Thin provisioning over a {@link NullBlockDevice} data device (what is measured is jdm's own
 * cost), with the persistent pool metadata (the kernel's format) on a memory device:
 *
 * <ul>
 *   <li>{@code read}: a 4 KiB read of a provisioned, unshared block through {@code thin}, or
 *       through {@code linear} over the same data device. Goal: thin at least 0.9x linear.
 *   <li>{@code firstWrite}: a 4 KiB write to a block never written (64 KiB blocks), zeroing the
 *       rest of the block or not ({@code skip_block_zeroing}): allocation, zeroing through kcopyd,
 *       the mapping insert, then the write, waited for.
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ThinBenchmark {
  private static final int BS = 128;
  private static final long READ_SECTORS = 1L << 16; // 32 MiB, every block provisioned
  private static final long WRITE_SECTORS = 1L << 24;

  static DeviceMapper mapper() {
    return DeviceMapper.create(); // thin-pool with the persistent metadata, as users get it
  }

  /** Reads of provisioned blocks. */
  @State(Scope.Thread)
  public static class ReadState {
    @Param({"linear", "thin"})
    public String path;

    DeviceMapper dm;
    BlockDevice dev;
    final ByteBuffer buffer = ByteBuffer.allocateDirect(4096);
    final Bio bio = Bio.read(0, buffer, b -> {});
    long next;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
      dm = mapper();
      dm.registerDevice("meta", MemoryBlockDevice.create("meta", 1 << 16));
      dm.registerDevice("data", NullBlockDevice.create("data", READ_SECTORS));
      BlockDevice pool =
          dm.create(
              "pool",
              "0 " + READ_SECTORS + " thin-pool meta data " + BS + " 0 1 skip_block_zeroing");
      dm.message("pool", 0, "create_thin", "0");
      BlockDevice thin = dm.create("thin", "0 " + READ_SECTORS + " thin pool 0");
      ByteBuffer block = ByteBuffer.allocateDirect(BS * 512);
      for (long s = 0; s < READ_SECTORS; s += BS) {
        thin.write(block.clear(), s << Bio.SECTOR_SHIFT);
      }
      BlockDevice linear = dm.create("lin", "0 " + READ_SECTORS + " linear data 0");
      dev = path.equals("thin") ? thin : linear;
      if (pool == null) {
        throw new IllegalStateException();
      }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      dm.close();
    }
  }

  @Benchmark
  public Bio read(ReadState s) {
    long sector = (s.next += 8) & (READ_SECTORS - 1);
    s.bio.reset(Bio.Op.READ, 0, sector, s.buffer.clear(), NOTHING);
    s.dev.submit(s.bio);
    return s.bio;
  }

  private static final BioCallback NOTHING = b -> {};

  /** First writes that provision, each made durable (FUA: a metadata commit) or not. */
  @State(Scope.Thread)
  public static class WriteState {
    @Param({"zero", "skip_block_zeroing"})
    public String zeroing;

    @Param({"none", "fua"})
    public String durability;

    DeviceMapper dm;
    BlockDevice thin;
    final ByteBuffer buffer = ByteBuffer.allocateDirect(4096);
    long next;

    @Setup(Level.Iteration)
    public void setUp() {
      dm = mapper();
      dm.registerDevice("meta", MemoryBlockDevice.create("meta", 1 << 18));
      dm.registerDevice("data", NullBlockDevice.create("data", WRITE_SECTORS));
      String f = zeroing.equals("zero") ? "" : " 1 skip_block_zeroing";
      dm.create("pool", "0 " + WRITE_SECTORS + " thin-pool meta data " + BS + " 0" + f);
      dm.message("pool", 0, "create_thin", "0");
      thin = dm.create("thin", "0 " + WRITE_SECTORS + " thin pool 0");
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
    s.next = (s.next + BS) & (WRITE_SECTORS - 1);
    if (s.durability.equals("fua")) {
      s.thin.write(s.buffer.clear(), sector << Bio.SECTOR_SHIFT, Bio.FUA);
    } else {
      s.thin.write(s.buffer.clear(), sector << Bio.SECTOR_SHIFT);
    }
    return sector;
  }

  /**
   * Writes that break sharing: every block of thin 0 provisioned, then snapshotted as thin 1, so
   * each 4 KiB write to a new block of thin 0 copies the 64 KiB block (kcopyd), remaps it and drops
   * a reference. Enough blocks for an iteration; a fresh pool per iteration.
   */
  @State(Scope.Thread)
  public static class BreakState {
    private static final long SECTORS = 1L << 22; // 32768 blocks of 64 KiB

    DeviceMapper dm;
    BlockDevice thin;
    final ByteBuffer buffer = ByteBuffer.allocateDirect(4096);
    long next;

    @Setup(Level.Iteration)
    public void setUp() throws IOException {
      dm = mapper();
      dm.registerDevice("meta", MemoryBlockDevice.create("meta", 1 << 18));
      dm.registerDevice("data", NullBlockDevice.create("data", SECTORS * 2));
      dm.create(
          "pool", "0 " + SECTORS * 2 + " thin-pool meta data " + BS + " 0 1 skip_block_zeroing");
      dm.message("pool", 0, "create_thin", "0");
      thin = dm.create("thin", "0 " + SECTORS + " thin pool 0");
      for (long sector = 0; sector < SECTORS; sector += BS) {
        thin.write(buffer.clear(), sector << Bio.SECTOR_SHIFT);
      }
      dm.message("pool", 0, "create_snap", "1", "0");
      next = 0;
    }

    @TearDown(Level.Iteration)
    public void tearDown() {
      dm.close();
    }
  }

  @Benchmark
  public long breakSharing(BreakState s) throws IOException {
    long sector = s.next;
    s.next = (s.next + BS) & (BreakState.SECTORS - 1);
    s.thin.write(s.buffer.clear(), sector << Bio.SECTOR_SHIFT);
    return sector;
  }
}
