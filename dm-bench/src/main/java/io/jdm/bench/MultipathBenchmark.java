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
 * {@code multipath} at queue depth 32: each operation keeps 32 reads of 4 KiB in flight at random
 * positions and waits for all of them. The paths lead to one memory device, each through its own
 * {@link ServiceQueueDevice} (one bio at a time, {@link #serviceMicros} each, 1 ms by default), so
 * a path serves about 1,000 reads a second whatever the depth, as a connection with bounded
 * throughput does. Paths: {@code one} (a multipath device with one path, the baseline) and {@code
 * two} (two equal paths, {@code service-time}), also with {@code round-robin} and {@code
 * queue-length}. The goal: two paths at least 1.8x one.
 *
 * <p>The issue names {@code delay} for the paths; {@code delay} holds every bio for its time but
 * serves any number at once, so at any depth one delayed path carries as much as two: it cannot
 * show what a second path adds. A path of bounded concurrency can.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1)
@State(Scope.Thread)
public class MultipathBenchmark {
  static final int DEPTH = 32;
  private static final int BLOCK = 4096;

  @Param({"one", "two"})
  public String paths;

  @Param({"service-time", "round-robin", "queue-length"})
  public String selector;

  /** Service time of one bio on a path. */
  @Param({"1000"})
  public long serviceMicros;

  /** Device size; the smoke run makes it small. */
  @Param({"67108864"})
  public long deviceBytes;

  private DeviceMapper dm;
  private MemoryBlockDevice storage;
  private final List<BlockDevice> pathDevices = new ArrayList<>();
  private BlockDevice dev;
  private final ByteBuffer[] buffers = new ByteBuffer[DEPTH];
  private final long[] sectors = new long[1024];
  private int next;

  @Setup(Level.Trial)
  public void setUp() {
    long s = deviceBytes / 512;
    storage = MemoryBlockDevice.builder("storage", s).direct(true).build();
    dm = DeviceMapper.create();
    int n = paths.equals("one") ? 1 : 2;
    StringBuilder table = new StringBuilder();
    table.append("0 ").append(s).append(" multipath 0 0 1 1 ").append(selector).append(" 0 ");
    table.append(n).append(" 0");
    for (int i = 0; i < n; i++) {
      BlockDevice p = new ServiceQueueDevice(storage, TimeUnit.MICROSECONDS.toNanos(serviceMicros));
      pathDevices.add(p);
      dm.registerDevice("p" + i, p);
      table.append(" p").append(i);
    }
    dev = dm.create("mpath", table.toString());
    for (int i = 0; i < DEPTH; i++) {
      buffers[i] = ByteBuffer.allocateDirect(BLOCK);
    }
    Random rnd = new Random(3);
    long slots = deviceBytes / BLOCK;
    for (int i = 0; i < sectors.length; i++) {
      sectors[i] = (long) (rnd.nextDouble() * slots) * (BLOCK / 512);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws IOException {
    dm.close();
    for (BlockDevice d : pathDevices) {
      d.close(); // closes the shared storage too; closing it again is harmless
    }
  }

  /** 32 reads in flight, then wait for all. */
  @Benchmark
  public int read() throws InterruptedException {
    next = QueueDepthReads.readAll(dev, sectors, next, buffers);
    return next;
  }
}
