package io.jdm.bench;

import io.jdm.core.BlockDevice;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
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
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@code mirror}: synchronous writes of 4 KiB and 1 MiB at random aligned positions of a 256 MiB
 * device, through {@code linear} over one memory device (the baseline) and through a 2-leg {@code
 * mirror} (core log, in sync) over two; the goal is at least 0.9x linear at 1 MiB and 0.8x
 * at 4 KiB. {@link #write} is one writer waiting for each write (queue depth 1); {@link #write2}
 * has two writer threads on the same device, each at its own positions, as two fio jobs would.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(value = 1, jvmArgsAppend = "-Xmx3g")
@State(Scope.Benchmark)
public class MirrorBenchmark {
  private static final int POSITIONS = 1024;

  @Param({"4096", "1048576"})
  public int size;

  @Param({"linear", "mirror"})
  public String path;

  /** Device size; the smoke run makes it small. */
  @Param({"268435456"})
  public long deviceBytes;

  private DeviceMapper dm;
  private final List<BlockDevice> disks = new ArrayList<>();
  private BlockDevice dev;
  private final long[] positions = new long[POSITIONS];

  /** One writer's buffer and place in the positions. */
  @State(Scope.Thread)
  public static class Writer {
    ByteBuffer data;
    int next;
    private static final AtomicInteger SEQ = new AtomicInteger();

    @Setup(Level.Trial)
    public void setUp(MirrorBenchmark b) {
      data = ByteBuffer.allocateDirect(b.size);
      next = SEQ.getAndIncrement() * (POSITIONS / 2);
    }
  }

  @Setup(Level.Trial)
  public void setUp() {
    long sectors = deviceBytes / 512;
    dm = DeviceMapper.create();
    dm.registerDevice("d0", disk("d0", sectors));
    if (path.equals("linear")) {
      dev = dm.create("linear", "0 " + sectors + " linear d0 0");
    } else {
      dm.registerDevice("d1", disk("d1", sectors));
      dev = dm.create("mirror", "0 " + sectors + " mirror core 2 1024 nosync 2 d0 0 d1 0");
    }
    Random rnd = new Random(2);
    long slots = deviceBytes / size;
    for (int i = 0; i < POSITIONS; i++) {
      positions[i] = (long) (rnd.nextDouble() * slots) * size;
    }
  }

  private BlockDevice disk(String name, long sectors) {
    MemoryBlockDevice d = MemoryBlockDevice.builder(name, sectors).direct(true).build();
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

  /** One writer, one write at a time. */
  @Benchmark
  public void write(Writer w) throws IOException {
    dev.write(w.data.clear(), positions[w.next++ & (POSITIONS - 1)]);
  }

  /** Two writers side by side on the same device. */
  @Benchmark
  @Threads(2)
  public void write2(Writer w) throws IOException {
    dev.write(w.data.clear(), positions[w.next++ & (POSITIONS - 1)]);
  }
}
