package io.jdm.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The FileChannel view of a mapped device holds it open, as an open /dev/mapper node does. */
class MappedDeviceChannelTest {
  private final DeviceMapper dm = DeviceMapper.builder().build();
  private final MemoryBlockDevice disk = MemoryBlockDevice.create("disk", 1024);

  MappedDeviceChannelTest() {
    dm.registerDevice("disk", disk);
  }

  @AfterEach
  void close() throws IOException {
    dm.close();
    disk.close();
  }

  @Test
  void anOpenChannelKeepsTheDeviceFromBeingRemoved() throws IOException {
    MappedDevice md = dm.create("vol", "0 1024 linear disk 0");
    FileChannel ch = md.asFileChannel();
    assertThat(md.openCount()).isEqualTo(1);
    assertThat(md.info().openCount()).isEqualTo(1);
    assertThatThrownBy(md::remove)
        .isInstanceOf(DmException.class)
        .satisfies(e -> assertThat(((DmException) e).errno()).isEqualTo(Errno.EBUSY));
    assertThat(ch.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), 700)).isEqualTo(3);
    ch.close();
    ch.close(); // releases the opener once
    assertThat(md.openCount()).isZero();
    md.remove();
    assertThat(dm.list()).isEmpty();
  }

  @Test
  void aDeferredRemoveWaitsForTheChannel() throws IOException {
    MappedDevice md = dm.create("vol", "0 1024 linear disk 0");
    try (FileChannel ch = md.asFileChannel()) {
      dm.remove("vol", DeviceMapper.RemoveOption.DEFERRED);
      assertThat(dm.find("vol")).isPresent();
      assertThat(ch.size()).isEqualTo(1024 * 512L);
    }
    assertThat(dm.find("vol")).isEmpty();
  }

  @Test
  void ioAfterTheDeviceWentAwaySaysDeviceRemoved() throws IOException {
    MappedDevice md = dm.create("vol", "0 1024 linear disk 0");
    FileChannel ch = md.asFileChannel();
    dm.close(); // tears down devices that are still open
    assertThatThrownBy(() -> ch.write(ByteBuffer.allocate(1), 0))
        .isInstanceOf(IOException.class)
        .hasMessage("vol: device removed");
    assertThatThrownBy(() -> ch.read(ByteBuffer.allocate(1), 0)).hasMessage("vol: device removed");
    assertThatThrownBy(ch::size).hasMessage("vol: device removed");
    assertThatThrownBy(() -> ch.force(true)).hasMessage("vol: device removed");
    ch.close();
    assertThatThrownBy(md::asFileChannel).isInstanceOf(IllegalStateException.class);
  }
}
