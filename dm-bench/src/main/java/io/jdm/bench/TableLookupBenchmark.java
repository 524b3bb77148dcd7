package io.jdm.bench;

import io.jdm.core.DeviceMapper;
import io.jdm.core.Table;
import io.jdm.core.TableSpec;
import io.jdm.core.TargetRegistry;
import java.util.Arrays;
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
 * {@link Table#find(long)}: which target maps a sector, for tables of 1 to 65,536 targets of uneven
 * lengths, with sectors drawn at random or walking the device in order. Baseline: {@link
 * Arrays#binarySearch(long[], long)} over the same end sectors. Goal: at most 15 ns/op at 65,536
 * entries, no allocation.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(2)
@State(Scope.Thread)
public class TableLookupBenchmark {
  private static final int SAMPLES = 4096;

  @Param({"1", "16", "1024", "65536"})
  public int entries;

  @Param({"random", "sequential"})
  public String pattern;

  private DeviceMapper dm;
  private Table table;
  private long[] ends;
  private final long[] sectors = new long[SAMPLES];
  private int next;

  @Setup(Level.Trial)
  public void setUp() {
    Random rnd = new Random(42);
    TableSpec.Builder b = TableSpec.builder();
    ends = new long[entries];
    long size = 0;
    for (int i = 0; i < entries; i++) {
      long len = 1 + rnd.nextInt(4096);
      b.append(len, "zero");
      size += len;
      ends[i] = size;
    }
    dm = DeviceMapper.builder().registry(TargetRegistry.builtins()).build();
    table = dm.create("lookup", null, b.build(), false).liveTable().orElseThrow();
    for (int i = 0; i < SAMPLES; i++) {
      sectors[i] =
          pattern.equals("random") ? (long) (rnd.nextDouble() * size) : i * (size / SAMPLES);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    dm.close();
  }

  @Benchmark
  public int find() {
    return table.find(sectors[next++ & (SAMPLES - 1)]);
  }

  @Benchmark
  public int binarySearchBaseline() {
    long s = sectors[next++ & (SAMPLES - 1)];
    int r = Arrays.binarySearch(ends, s);
    return r >= 0 ? r + 1 : -r - 1;
  }
}
