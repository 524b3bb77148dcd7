package io.jdm.bench;

import io.jdm.core.MemoryBlockDevice;
import io.jdm.persistentdata.BTree;
import io.jdm.persistentdata.BlockManager;
import io.jdm.persistentdata.DiskSpaceMap;
import io.jdm.persistentdata.MetadataSpaceMap;
import io.jdm.persistentdata.TransactionManager;
import io.jdm.persistentdata.ValueType;
import java.io.IOException;
import java.util.Random;
import java.util.TreeMap;
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
 * Lookups in a persistent-data B-tree of 1,048,576 mappings (the shape of one thin device's mapping
 * tree: 64-bit keys, 64-bit values, about 8,300 leaves), committed to an in-memory metadata device,
 * with the block cache holding the whole tree or an eighth of it (misses are read and checksummed
 * again). Baseline: {@link TreeMap#get} over the same keys. Goal: at least one million lookups per
 * second with the tree cached.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(1)
@State(Scope.Thread)
public class PersistentDataBenchmark {
  private static final int SAMPLES = 1 << 16;

  /** Mappings in the tree (a smoke run uses fewer). */
  @Param({"1048576"})
  public int mappings;

  /** Bufio cache, in 4 KiB blocks: the whole tree, or an eighth of it. */
  @Param({"16384", "1024"})
  public int cacheBlocks;

  private BlockManager bm;
  private BTree tree;
  private long root;
  private final TreeMap<Long, Long> baseline = new TreeMap<>();
  private final long[] keys = new long[SAMPLES];
  private int next;

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    MemoryBlockDevice dev = MemoryBlockDevice.create("meta", 20000L * 8);
    bm = new BlockManager(dev, cacheBlocks);
    TransactionManager tm = new TransactionManager(bm);
    MetadataSpaceMap msm = MetadataSpaceMap.create(tm, bm.blocks(), 0);
    DiskSpaceMap.create(tm, 0);
    tree = new BTree(tm, ValueType.U64);
    root = tree.empty();
    for (long k = 0; k < mappings; k++) {
      root = tree.insert(root, k * 7, ValueType.le64(k));
      baseline.put(k * 7, k);
    }
    msm.commit();
    bm.flush();
    Random rnd = new Random(42);
    for (int i = 0; i < SAMPLES; i++) {
      keys[i] = 7L * rnd.nextInt(mappings);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws IOException {
    bm.close();
  }

  @Benchmark
  public byte[] lookup() throws IOException {
    return tree.lookup(root, keys[next++ & (SAMPLES - 1)]);
  }

  @Benchmark
  public Long treeMapBaseline() {
    return baseline.get(keys[next++ & (SAMPLES - 1)]);
  }
}
