package io.jdm.bench;

import io.jdm.core.Bio;
import io.jdm.core.BioCallback;
import io.jdm.core.BlockDevice;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.TargetRegistry;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
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
 * Reads and writes of 4 KiB and 1 MiB at random aligned positions of a filled 256 MiB memory
 * device: {@code bare} (the baseline), through {@code linear}, and through {@code striped} over
 * four memory devices with 128 KiB chunks (so a 1 MiB bio is split in eight). Heap and direct
 * buffers. Goal: at least 0.95x the bare device's rate at both sizes.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 2, jvmArgsAppend = "-Xmx2g")
@State(Scope.Thread)
public class ThroughputBenchmark {
  private static final BioCallback NOTHING = b -> {};
  private static final int POSITIONS = 1024;

  @Param({"4096", "1048576"})
  public int size;

  @Param({"bare", "linear", "striped"})
  public String path;

  @Param({"heap", "direct"})
  public String buffer;

  @Param({"READ", "WRITE"})
  public String op;

  /** Device size; the smoke run makes it small. */
  @Param({"268435456"})
  public long deviceBytes;

  private DeviceMapper dm;
  private final List<BlockDevice> disks = new ArrayList<>();
  private BlockDevice dev;
  private ByteBuffer data;
  private Bio bio;
  private Bio.Op bioOp;
  private final long[] positions = new long[POSITIONS];
  private int next;

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    bioOp = Bio.Op.valueOf(op);
    long sectors = deviceBytes / 512;
    dm = DeviceMapper.builder().registry(TargetRegistry.builtins()).build();
    switch (path) {
      case "bare":
        dev = disk("d0", sectors);
        break;
      case "linear":
        dm.registerDevice("d0", disk("d0", sectors));
        dev = dm.create("linear", "0 " + sectors + " linear d0 0");
        break;
      case "striped":
        StringBuilder t = new StringBuilder("0 " + sectors + " striped 4 256");
        for (int i = 0; i < 4; i++) {
          dm.registerDevice("d" + i, disk("d" + i, sectors / 4));
          t.append(" d").append(i).append(" 0");
        }
        dev = dm.create("striped", t.toString());
        break;
      default:
        throw new IllegalArgumentException(path);
    }
    // fill the device so reads copy real data
    ByteBuffer fill = ByteBuffer.allocate(1 << 20);
    new Random(1).nextBytes(fill.array());
    for (long pos = 0; pos + fill.capacity() <= dev.size(); pos += fill.capacity()) {
      dev.write(fill.clear(), pos);
    }
    data = buffer.equals("direct") ? ByteBuffer.allocateDirect(size) : ByteBuffer.allocate(size);
    bio = Bio.read(0, data, NOTHING);
    Random rnd = new Random(2);
    long slots = dev.size() / size;
    for (int i = 0; i < POSITIONS; i++) {
      positions[i] = (long) (rnd.nextDouble() * slots) * (size / 512);
    }
  }

  private BlockDevice disk(String name, long sectors) {
    MemoryBlockDevice d = MemoryBlockDevice.create(name, sectors);
    disks.add(d);
    return d;
  }

  @TearDown(Level.Trial)
  public void tearDown() throws IOException {
    dm.close();
    for (BlockDevice d : disks) {
      d.close();
    }
  }

  @Benchmark
  public Bio io() {
    bio.reset(bioOp, 0, positions[next++ & (POSITIONS - 1)], data, NOTHING);
    dev.submit(bio);
    return bio;
  }
}
