package io.jdm.targets.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A reference model: random batches of concurrent writes to the origin and to several snapshots
 * (persistent and transient, different chunk sizes, one taken in the middle of the run while the
 * origin is suspended), checked after every batch: the origin holds its writes, and every snapshot
 * is the origin as it was when the snapshot was taken plus the snapshot's own writes.
 */
@ExtendWith(Seeds.class)
class SnapshotModelTest {
  static final int SECTORS = 4096;

  /** A device and the bytes it must hold. */
  private static final class Modelled {
    final MappedDevice dev;
    final byte[] model;

    Modelled(MappedDevice dev, byte[] model) {
      this.dev = dev;
      this.model = model;
    }
  }

  @Test
  void snapshotsAreTheOriginAtSnapshotTimePlusTheirOwnWrites() throws Exception {
    long seed = Seeds.next();
    Random rnd = new Random(seed);
    List<MemoryBlockDevice> mems = new ArrayList<>();
    try (DeviceMapper dm = DeviceMapper.builder().seed(seed).build()) {
      MemoryBlockDevice real = MemoryBlockDevice.create("real", SECTORS);
      mems.add(real);
      byte[] start = new byte[SECTORS * 512];
      rnd.nextBytes(start);
      real.write(ByteBuffer.wrap(start), 0);
      dm.registerDevice("real", real);
      for (int i = 0; i < 3; i++) {
        MemoryBlockDevice c = MemoryBlockDevice.create("cow" + i, 2 * SECTORS + 1024);
        mems.add(c);
        dm.registerDevice("cow" + i, c);
      }
      int c1 = 1 << rnd.nextInt(6);
      int c2 = 1 << rnd.nextInt(6);
      int c3 = 1 << rnd.nextInt(6);
      Modelled origin =
          new Modelled(dm.create("lv", "0 " + SECTORS + " snapshot-origin real"), start.clone());
      List<Modelled> devs = new ArrayList<>();
      devs.add(origin);
      devs.add(
          new Modelled(
              dm.create("s1", "0 " + SECTORS + " snapshot real cow0 P " + c1), start.clone()));
      devs.add(
          new Modelled(
              dm.create("s2", "0 " + SECTORS + " snapshot real cow1 N " + c2), start.clone()));
      String where = "seed " + seed + ", chunks " + c1 + " " + c2 + " " + c3;
      for (int round = 0; round < 120; round++) {
        if (round == 25) {
          origin.dev.suspend();
          devs.add(
              new Modelled(
                  dm.create("s3", "0 " + SECTORS + " snapshot real cow2 PO " + c3),
                  origin.model.clone()));
          origin.dev.resume();
        }
        List<CompletableFuture<BlockStatus>> done = new ArrayList<>();
        for (Modelled m : devs) {
          boolean[] used = new boolean[SECTORS];
          for (int w = rnd.nextInt(6); w > 0; w--) {
            int len = 1 + rnd.nextInt(rnd.nextBoolean() ? 8 : 80);
            int at = rnd.nextInt(SECTORS - len);
            boolean free = true;
            for (int s = at; s < at + len; s++) {
              free &= !used[s];
            }
            if (!free) {
              continue;
            }
            Arrays.fill(used, at, at + len, true);
            byte[] data = new byte[len * 512];
            rnd.nextBytes(data);
            System.arraycopy(data, 0, m.model, at * 512, data.length);
            CompletableFuture<BlockStatus> f = new CompletableFuture<>();
            done.add(f);
            m.dev.submit(Bio.write(at, ByteBuffer.wrap(data), b -> f.complete(b.status())));
          }
        }
        for (CompletableFuture<BlockStatus> f : done) {
          assertThat(f.get(30, TimeUnit.SECONDS)).as(where).isEqualTo(BlockStatus.OK);
        }
        if (round % 5 == 4 || round == 119) {
          for (Modelled m : devs) {
            ByteBuffer b = ByteBuffer.allocate(SECTORS * 512);
            m.dev.read(b, 0);
            assertThat(b.array())
                .as("%s after round %d (%s)", m.dev.name(), round, where)
                .isEqualTo(m.model);
          }
        }
      }
      for (Modelled m : devs) {
        assertThat(m.dev.status()).doesNotContain("Invalid").doesNotContain("Overflow");
      }
    } finally {
      for (MemoryBlockDevice m : mems) {
        m.close();
      }
    }
  }
}
