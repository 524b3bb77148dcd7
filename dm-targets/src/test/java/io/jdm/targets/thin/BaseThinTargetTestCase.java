package io.jdm.targets.thin;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.BaseTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.ReferenceModel;
import io.jdm.testkit.TargetFixture;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code thin} as a disk: the conformance suite over a thin device (id 0, created by message) on a
 * pool of 64 KiB blocks with room for every block, so each first write to a block provisions it.
 * Discards unmap whole blocks only, so what they leave is unspecified. Subclasses choose the pool
 * metadata ({@link #opener()}).
 */
abstract class BaseThinTargetTestCase extends BaseTargetTestCase {
  private final List<MappedDevice> pools = new ArrayList<>();
  private int poolCount;
  private final Map<String, String> poolLines = new HashMap<>();

  /** How the pools open their metadata. */
  protected abstract PoolMetadataOpener opener();

  @Override
  protected DeviceMapper newDeviceMapper() {
    return ThinMappers.create(seed(), opener());
  }

  @Override
  protected String targetType() {
    return "thin";
  }

  @Override
  protected String targetArgs(TargetFixture f, long length) {
    String meta = f.memory(8192);
    String data = f.memory(length + 1024);
    String name = "pool" + poolCount++;
    MappedDevice pool =
        f.dm().create(name, "0 " + (length + 1024) + " thin-pool " + meta + " " + data + " 128 0");
    pools.add(pool);
    poolLines.put(name, pool.table());
    pool.message(0, "create_thin", "0");
    return name + " 0";
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk()
        .withDiscard(DeviceCapabilities.Discard.UNSPECIFIED)
        .withWriteZeroes(false);
  }

  @Override
  protected List<BadArguments> badArguments(TargetFixture f) {
    String mem = f.memory(4096);
    return List.of(
        new BadArguments(64, "", "Invalid argument count"),
        new BadArguments(64, "a", "Invalid argument count"),
        new BadArguments(64, "a 1 b c", "Invalid argument count"),
        new BadArguments(64, mem + " 1 " + mem, "Error setting origin device"),
        new BadArguments(64, mem + " 1 /no/such", "Error opening origin device"),
        new BadArguments(64, "/no/such 1", "Error opening pool device"),
        new BadArguments(64, mem + " 16777216", "Invalid device id"),
        new BadArguments(64, mem + " x", "Invalid device id"),
        new BadArguments(64, mem + " -1", "Invalid device id"),
        new BadArguments(64, mem + " 1", "Couldn't get pool mapped device"));
  }

  /**
   * The suite's power cut, taken by the whole stack: the thin and its pool go, the metadata and
   * data devices keep only what was flushed, and the pool and thin come back on them.
   */
  @Override
  @Test
  public void testFlushedWritesSurviveACrash() throws IOException {
    MappedDevice md = (MappedDevice) newDevice();
    TargetFixture f = fixture();
    MappedDevice pool = pools.get(pools.size() - 1);
    String poolName = pool.name();
    String poolLine = poolLines.get(poolName);
    String thinLine = md.table();
    long blocks = md.sectors() / 128;
    ReferenceModel model = new ReferenceModel(md.sectors());
    for (int i = 0; i < 16; i++) {
      long sector = random.nextLong(blocks) * 128 + random.nextInt(16) * 8;
      ByteBuffer data = randomData(8 * 512);
      md.write(data.duplicate(), sector * 512);
      model.write(sector, data);
    }
    md.flush();
    for (int i = 0; i < 4; i++) {
      long sector = random.nextLong(blocks) * 128;
      md.write(randomData(128 * 512), sector * 512);
      model.unspecified(sector, 128);
    }
    Map<String, MemoryBlockDevice> disks = f.durableCopies();
    md.remove();
    pool.remove();
    pools.remove(pool);
    f.replace(disks);
    MappedDevice pool2 = mapper().create(poolName, poolLine);
    pools.add(pool2);
    MappedDevice again = mapper().create("dut", thinLine);
    try {
      for (long s = 0; s < again.sectors(); s += 256) {
        verify(again, model, s, (int) Math.min(256, again.sectors() - s));
      }
    } finally {
      again.remove();
    }
  }

  @Override
  protected void afterDevicesClosed() throws Exception {
    for (MappedDevice p : pools) {
      p.remove();
    }
    pools.clear();
    super.afterDevicesClosed();
  }
}
