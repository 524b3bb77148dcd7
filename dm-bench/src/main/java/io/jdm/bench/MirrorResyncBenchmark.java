package io.jdm.bench;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.targets.mirror.MirrorTarget;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
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
 * {@code mirror} resync: creates an idle 1 GiB mirror over two direct memory devices (the source
 * filled, default {@code sync}: every region copied) and waits until it is in sync. The issue's
 * goal: at least 1 GB/s, that is at most about 1074 ms per operation.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 5)
@Fork(value = 1, jvmArgsAppend = "-Xmx3g")
@State(Scope.Thread)
public class MirrorResyncBenchmark {
  static final long FULL_BYTES = 1L << 30;

  /** Mirror size ({@link #FULL_BYTES}); the smoke run makes it small. */
  @Param({"1073741824"})
  public long deviceBytes;

  private long sectors;
  private DeviceMapper dm;
  private MemoryBlockDevice a;
  private MemoryBlockDevice b;

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    sectors = deviceBytes / 512;
    dm = DeviceMapper.create();
    a = MemoryBlockDevice.builder("a", sectors).direct(true).build();
    b = MemoryBlockDevice.builder("b", sectors).direct(true).build();
    ByteBuffer fill = ByteBuffer.allocate(1 << 20);
    new Random(1).nextBytes(fill.array());
    for (long pos = 0; pos < deviceBytes; pos += fill.capacity()) {
      a.write(fill.clear(), pos);
    }
    dm.registerDevice("a", a);
    dm.registerDevice("b", b);
  }

  @TearDown(Level.Trial)
  public void tearDown() throws IOException {
    dm.close();
    a.close();
    b.close();
  }

  @Benchmark
  public long resync() {
    MappedDevice md = dm.create("r", "0 " + sectors + " mirror core 1 1024 2 a 0 b 0");
    MirrorTarget t = (MirrorTarget) md.liveTable().orElseThrow().target(0);
    while (t.syncCount() != t.regionCount()) {
      LockSupport.parkNanos(20_000);
    }
    dm.remove("r");
    return t.syncCount();
  }
}
