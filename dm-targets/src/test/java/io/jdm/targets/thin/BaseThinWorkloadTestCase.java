package io.jdm.targets.thin;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Thousands of random writes and discards over 16 thin devices and snapshots taken of them along
 * the way, each device checked against a byte model of its own; at the end every device is read
 * back whole, and the pool is reloaded from its metadata and read back again.
 */
abstract class BaseThinWorkloadTestCase {
  static final int BS = 128;
  static final int THINS = 16;
  static final int SNAPS = 8;
  static final int SECTORS = 16 * BS;

  protected abstract PoolMetadataOpener opener();

  /** Checks the pool's metadata after the workload, before the pool is removed (model-specific). */
  protected void checkMetadata(PoolMetadata metadata) throws IOException {}

  private PoolMetadata last;

  @Test
  void randomWritesDiscardsAndSnapshotsMatchTheModels() throws IOException {
    long seed = Long.getLong("jdm.seed", System.nanoTime());
    try {
      run(seed);
    } catch (AssertionError | IOException | RuntimeException e) {
      System.err.println("thin workload failed; reproduce with -Djdm.seed=" + seed);
      throw e;
    }
  }

  private void run(long seed) throws IOException {
    Random rnd = new Random(seed);
    int ops = Integer.getInteger("jdm.thin.ops", 3000);
    PoolMetadataOpener inner = opener();
    PoolMetadataOpener capturing =
        (dev, bs, format) -> {
          PoolMetadata m = inner.open(dev, bs, format);
          last = m;
          return m;
        };
    try (DeviceMapper dm = ThinMappers.create(seed, capturing);
        MemoryBlockDevice meta = MemoryBlockDevice.create("meta", 16384);
        MemoryBlockDevice data =
            MemoryBlockDevice.create("data", (long) (THINS + SNAPS) * SECTORS)) {
      dm.registerDevice("meta", meta);
      dm.registerDevice("data", data);
      String poolLine = "0 " + data.sectors() + " thin-pool meta data " + BS + " 0";
      MappedDevice pool = dm.create("pool", poolLine);
      List<MappedDevice> devs = new ArrayList<>();
      List<byte[]> models = new ArrayList<>();
      for (int i = 0; i < THINS; i++) {
        pool.message(0, "create_thin", Integer.toString(i));
        devs.add(dm.create("t" + i, "0 " + SECTORS + " thin pool " + i));
        models.add(new byte[SECTORS * 512]);
      }
      int snaps = 0;
      for (int op = 0; op < ops; op++) {
        int d = rnd.nextInt(devs.size());
        MappedDevice dev = devs.get(d);
        byte[] model = models.get(d);
        int kind = rnd.nextInt(100);
        if (kind < 75) {
          int sectors = 8 * (1 + rnd.nextInt(rnd.nextBoolean() ? 2 : 16));
          long sector = rnd.nextInt((SECTORS - sectors) / 8 + 1) * 8L;
          sectors = (int) Math.min(sectors, BS - sector % BS); // within one block
          byte[] b = new byte[sectors * 512];
          rnd.nextBytes(b);
          dev.write(ByteBuffer.wrap(b), sector * 512);
          System.arraycopy(b, 0, model, (int) sector * 512, b.length);
        } else if (kind < 90) {
          int blocks = 1 + rnd.nextInt(3);
          long block = rnd.nextInt(SECTORS / BS - blocks + 1);
          dev.discard(block * BS * 512, (long) blocks * BS * 512);
          java.util.Arrays.fill(
              model, (int) (block * BS * 512), (int) ((block + blocks) * BS * 512), (byte) 0);
        } else if (kind < 97) {
          check(dev, model, rnd.nextInt(SECTORS / BS) * BS, BS);
        } else if (snaps < SNAPS) {
          int id = THINS + snaps++;
          dev.suspend();
          pool.message(0, "create_snap", Integer.toString(id), Integer.toString(d));
          dev.resume();
          devs.add(dm.create("t" + id, "0 " + SECTORS + " thin pool " + id));
          models.add(model.clone());
        } else {
          dev.flush();
        }
      }
      for (int i = 0; i < devs.size(); i++) {
        check(devs.get(i), models.get(i), 0, SECTORS);
      }
      String status = pool.status();
      checkMetadata(last);
      for (MappedDevice dev : devs) {
        dev.remove();
      }
      pool.remove();
      pool = dm.create("pool", poolLine);
      assertThat(pool.status()).isEqualTo(status);
      for (int i = 0; i < devs.size(); i++) {
        MappedDevice again = dm.create("t" + i, "0 " + SECTORS + " thin pool " + i);
        check(again, models.get(i), 0, SECTORS);
        again.remove();
      }
      pool.remove();
    }
  }

  private static void check(MappedDevice dev, byte[] model, long sector, int sectors)
      throws IOException {
    ByteBuffer got = ByteBuffer.allocate(sectors * 512);
    dev.read(got, sector * 512);
    ByteBuffer want = ByteBuffer.wrap(model, (int) sector * 512, sectors * 512).slice();
    assertThat(got.clear()).as("%s sectors [%d, +%d)", dev.name(), sector, sectors).isEqualTo(want);
  }
}
