package io.jdm.testkit.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jdm.core.Bio;
import io.jdm.core.BioCallback;
import io.jdm.core.BlockDevice;
import io.jdm.core.DeviceMapper;
import io.jdm.core.NullBlockDevice;
import io.jdm.core.TargetRegistry;
import java.lang.management.ManagementFactory;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The hot-path rule in CI: a reused 4 KiB bio submitted through linear, striped and a
 * linear→striped→linear stack onto a {@link NullBlockDevice} allocates nothing once warm (the
 * thread's allocated-bytes counter over 200,000 submissions). JMH's {@code -prof gc} on {@code
 * MapPathBenchmark} measures the same thing with more precision; this test keeps it from regressing
 * unnoticed.
 */
class RemapPathAllocationTest {
  private static final long SECTORS = 1L << 24;
  private static final BioCallback NOTHING = b -> {};
  private static final int OPS = 200_000;

  @ParameterizedTest
  @ValueSource(strings = {"linear", "striped", "stacked"})
  void aWarmRemapPathAllocatesNothing(String path) throws Exception {
    // com.sun.management through reflection: the tests run patched into io.jdm.testkit, which
    // does not read jdk.management
    Object mx = ManagementFactory.getThreadMXBean();
    Class<?> hs = Class.forName("com.sun.management.ThreadMXBean");
    assumeTrue(
        (Boolean) hs.getMethod("isThreadAllocatedMemorySupported").invoke(mx),
        "no per-thread allocation counter");
    hs.getMethod("setThreadAllocatedMemoryEnabled", boolean.class).invoke(mx, true);
    Method allocated = hs.getMethod("getThreadAllocatedBytes", long.class);
    try (NullBlockDevice disk = NullBlockDevice.create("null", SECTORS);
        DeviceMapper dm = DeviceMapper.builder().registry(TargetRegistry.builtins()).build()) {
      dm.registerDevice("null", disk);
      long half = SECTORS / 2;
      BlockDevice dev;
      switch (path) {
        case "linear":
          dev = dm.create("top", "0 " + SECTORS + " linear null 0");
          break;
        case "striped":
          dev = dm.create("top", "0 " + SECTORS + " striped 2 128 null 0 null " + half);
          break;
        default:
          dm.create("leg0", "0 " + half + " linear null 0");
          dm.create("leg1", "0 " + half + " linear null " + half);
          dm.create("striped", "0 " + SECTORS + " striped 2 128 leg0 0 leg1 0");
          dev = dm.create("top", "0 " + SECTORS + " linear striped 0");
      }
      ByteBuffer buffer = ByteBuffer.allocateDirect(4096);
      Bio bio = Bio.read(0, buffer, NOTHING);
      long tid = Thread.currentThread().getId();
      for (int round = 0; round < 5; round++) { // warm up: the JIT's own allocations settle
        long before = (Long) allocated.invoke(mx, tid);
        for (int i = 0; i < OPS; i++) {
          long sector = ((long) i & 0xFFFF) << 3;
          bio.reset(i % 2 == 0 ? Bio.Op.READ : Bio.Op.WRITE, 0, sector, buffer, NOTHING);
          dev.submit(bio);
        }
        long perOp = ((Long) allocated.invoke(mx, tid) - before) / OPS;
        if (round == 4) {
          assertThat(perOp).as("bytes allocated per bio through %s", path).isZero();
        }
      }
    }
  }
}
