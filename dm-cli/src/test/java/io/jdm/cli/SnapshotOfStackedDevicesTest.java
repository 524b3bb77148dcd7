package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Snapshots of stacked devices: several snapshots of a {@code crypt} device and of a {@code
 * striped} one, each reading as the origin was when it was taken.
 */
class SnapshotOfStackedDevicesTest {
  private static final int SECTORS = 4096;
  private static final String KEY = "0123456789abcdef".repeat(4);

  private static byte[] read(MappedDevice d) throws IOException {
    byte[] b = new byte[SECTORS * 512];
    d.read(ByteBuffer.wrap(b), 0);
    return b;
  }

  private static void check(DeviceMapper dm, String realTable) throws IOException {
    Random rnd = new Random(7);
    dm.create("lv-real", realTable);
    MappedDevice lv = dm.create("lv", "0 " + SECTORS + " snapshot-origin lv-real");
    byte[] data = new byte[SECTORS * 512];
    rnd.nextBytes(data);
    lv.write(ByteBuffer.wrap(data), 0);
    byte[][] views = new byte[3][];
    for (int s = 0; s < 3; s++) {
      views[s] = read(lv);
      lv.suspend();
      dm.create(
          "snap" + s,
          "0 "
              + SECTORS
              + " snapshot lv-real cow"
              + s
              + " "
              + (s == 1 ? "N" : "P")
              + " "
              + (8 << s));
      lv.resume();
      for (int i = 0; i < 20; i++) {
        byte[] w = new byte[512 * (1 + rnd.nextInt(16))];
        rnd.nextBytes(w);
        lv.write(ByteBuffer.wrap(w), (long) rnd.nextInt(SECTORS - 16) * 512);
      }
    }
    for (int s = 0; s < 3; s++) {
      assertThat(read(dm.device("snap" + s))).as("snapshot %d", s).isEqualTo(views[s]);
    }
  }

  private static DeviceMapper mapper() {
    DeviceMapper dm = DeviceMapper.create();
    dm.registerDevice("d0", MemoryBlockDevice.create("d0", SECTORS));
    dm.registerDevice("d1", MemoryBlockDevice.create("d1", SECTORS));
    for (int s = 0; s < 3; s++) {
      dm.registerDevice("cow" + s, MemoryBlockDevice.create("cow" + s, 2 * SECTORS));
    }
    return dm;
  }

  @Test
  void snapshotsOfACryptDevice() throws IOException {
    try (DeviceMapper dm = mapper()) {
      check(dm, "0 " + SECTORS + " crypt aes-xts-plain64 " + KEY + " 0 d0 0");
    }
  }

  @Test
  void snapshotsOfAStripedDevice() throws IOException {
    try (DeviceMapper dm = mapper()) {
      check(dm, "0 " + SECTORS + " striped 2 16 d0 0 d1 0");
    }
  }
}
