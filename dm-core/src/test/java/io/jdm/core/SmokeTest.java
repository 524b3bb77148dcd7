package io.jdm.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class SmokeTest {
  @Test
  void linearOverMemory() throws Exception {
    try (DeviceMapper dm = DeviceMapper.create()) {
      MemoryBlockDevice disk = MemoryBlockDevice.create("disk", 30000);
      dm.registerDevice("disk1", disk);
      MappedDevice md =
          dm.create("lin", "0 10000 linear disk1 100\n10000 10000 linear disk1 10100");
      ByteBuffer b = ByteBuffer.allocate(4096);
      for (int i = 0; i < 4096; i++) b.put((byte) i);
      b.flip();
      md.write(b, 9998L * 512);
      ByteBuffer r = ByteBuffer.allocate(4096);
      md.read(r, 9998L * 512);
      r.flip();
      b.rewind();
      assertThat(r).isEqualTo(b);
      ByteBuffer r2 = ByteBuffer.allocate(4096);
      disk.read(r2, 10098L * 512);
      r2.flip();
      assertThat(r2).isEqualTo(b);
      assertThat(md.table())
          .isEqualTo("0 10000 linear 240:0 100\n10000 10000 linear 240:0 10100\n");
      System.out.println(md.info());
      System.out.println(md.stats());
      System.out.println(dm.registry().describe());
      md.load("0 20000 striped 2 8 disk1 0 disk1 10000");
      md.resume();
      System.out.println(md.table());
      System.out.println(md.status());
    }
  }
}
