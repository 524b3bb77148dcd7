package io.jdm.bench;

import io.jdm.core.Bio;
import io.jdm.core.BioCallback;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.TargetRegistry;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cost of a table swap ({@code dmsetup load} + {@code resume}: construct the new table,
 * suspend, drain, swap, replay, destroy the old table) on a linear device over memory: idle, and
 * while another thread keeps 4 KiB writes going through it. No goal; the figure to watch.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(2)
public class SuspendResumeBenchmark {
  private static final BioCallback NOTHING = b -> {};

  /** The device, shared by the swapping thread and the writer. */
  @State(Scope.Group)
  public static class Device {
    DeviceMapper dm;
    MemoryBlockDevice disk;
    MappedDevice md;
    String table;

    @Setup(Level.Trial)
    public void setUp() {
      disk = MemoryBlockDevice.create("disk", 1 << 16);
      dm = DeviceMapper.builder().registry(TargetRegistry.builtins()).build();
      dm.registerDevice("disk", disk);
      table = "0 " + (1 << 16) + " linear disk 0";
      md = dm.create("swap", table);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
      dm.close();
      disk.close();
    }

    /** {@code dmsetup load} + {@code dmsetup resume} with the same table. */
    void swap() {
      md.load(table);
      md.resume();
    }
  }

  /**
   * The writer's bio, reused once it has completed; while a suspend holds it, the writer moves on
   * with a new one rather than touching a bio that is still queued.
   */
  @State(Scope.Thread)
  public static class Writer {
    final ByteBuffer data = ByteBuffer.allocateDirect(4096);
    Bio bio = Bio.write(0, data, NOTHING);
    long next;

    Bio nextBio() {
      if (bio.isCompleted()) {
        return bio.reset(Bio.Op.WRITE, 0, (next++ & 0x1FFF) << 3, data, NOTHING);
      }
      bio = Bio.write((next++ & 0x1FFF) << 3, data, NOTHING);
      return bio;
    }
  }

  @Benchmark
  @Group("idle")
  @GroupThreads(1)
  public void swapIdle(Device d) {
    d.swap();
  }

  @Benchmark
  @Group("underLoad")
  @GroupThreads(1)
  public void swap(Device d) {
    d.swap();
  }

  @Benchmark
  @Group("underLoad")
  @GroupThreads(1)
  public Bio write(Device d, Writer w) {
    Bio b = w.nextBio();
    d.md.submit(b);
    return b;
  }
}
