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
 * {@code mirror} read balancing (a jdm extension): each operation keeps 32 reads of 4 KiB in flight
 * at random positions (queue depth 32) and waits for all of them. Every leg is a {@link
 * ServiceQueueDevice} that serves one bio at a time with a fixed service time ({@link
 * #serviceMicros}, 1 ms by default) over a memory device, so one leg serves about 1,000 reads a
 * second whatever the depth. Paths: {@code linear} over one such leg (the baseline), {@code mirror}
 * as the kernel has it (every read to the default leg), and {@code round_robin} / {@code
 * least_pending} ({@code jdm_read_balance}). The goal: a balanced 2-leg mirror reads at
 * least 1.8x one leg.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1)
@State(Scope.Thread)
public class MirrorReadBenchmark {
  static final int DEPTH = 32;
  private static final int BLOCK = 4096;

  @Param({"linear", "mirror", "round_robin", "least_pending"})
  public String path;

  /** Service time of one bio on a leg. */
  @Param({"1000"})
  public long serviceMicros;

  /** Device size; the smoke run makes it small. */
  @Param({"67108864"})
  public long deviceBytes;

  private DeviceMapper dm;
  private final List<BlockDevice> disks = new ArrayList<>();
  private BlockDevice dev;
  private final ByteBuffer[] buffers = new ByteBuffer[DEPTH];
  private final long[] sectors = new long[1024];
  private int next;

  @Setup(Level.Trial)
  public void setUp() {
    long s = deviceBytes / 512;
    dm = DeviceMapper.create();
    dm.registerDevice("d0", leg("d0", s));
    if (path.equals("linear")) {
      dev = dm.create("linear", "0 " + s + " linear d0 0");
    } else {
      dm.registerDevice("d1", leg("d1", s));
      String features = path.equals("mirror") ? "" : " 2 handle_errors jdm_read_balance=" + path;
      dev = dm.create("mirror", "0 " + s + " mirror core 2 1024 nosync 2 d0 0 d1 0" + features);
    }
    for (int i = 0; i < DEPTH; i++) {
      buffers[i] = ByteBuffer.allocateDirect(BLOCK);
    }
    Random rnd = new Random(3);
    long slots = deviceBytes / BLOCK;
    for (int i = 0; i < sectors.length; i++) {
      sectors[i] = (long) (rnd.nextDouble() * slots) * (BLOCK / 512);
    }
  }

  private BlockDevice leg(String name, long sectors) {
    MemoryBlockDevice m = MemoryBlockDevice.builder(name, sectors).direct(true).build();
    BlockDevice d = new ServiceQueueDevice(m, TimeUnit.MICROSECONDS.toNanos(serviceMicros));
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

  /** 32 reads in flight, then wait for all. */
  @Benchmark
  public int read() throws InterruptedException {
    next = QueueDepthReads.readAll(dev, sectors, next, buffers);
    return next;
  }
}
