package io.jdm.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class DeviceFileChannelTest {
  private final MemoryBlockDevice disk =
      MemoryBlockDevice.builder("disk", 64).volatileCache(true).build();

  @AfterEach
  void close() throws IOException {
    disk.close();
  }

  private static byte[] bytes(int n, int seed) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) (seed + i * 31);
    }
    return b;
  }

  private static byte[] read(DeviceFileChannel f, long pos, int n) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(n);
    while (b.hasRemaining() && f.read(b, pos + b.position()) > 0) {}
    return Arrays.copyOf(b.array(), b.position());
  }

  @Test
  void aNewFileIsEmptyAndGrowsWithWrites() throws IOException {
    try (DeviceFileChannel f = DeviceFileChannel.open(disk)) {
      assertThat(f.size()).isZero();
      assertThat(f.capacity()).isEqualTo(63 * 512);
      assertThat(f.read(ByteBuffer.allocate(1), 0)).isEqualTo(-1);
      f.write(ByteBuffer.wrap(bytes(100, 1)));
      f.write(ByteBuffer.wrap(bytes(50, 2)));
      assertThat(f.size()).isEqualTo(150);
      assertThat(f.position()).isEqualTo(150);
      assertThat(read(f, 100, 100)).isEqualTo(bytes(50, 2));
    }
  }

  @Test
  void sizeIsKeptAcrossReopenAndTruncateShrinks() throws IOException {
    try (DeviceFileChannel f = DeviceFileChannel.open(disk)) {
      f.write(ByteBuffer.wrap(bytes(3000, 3)), 0);
    }
    try (DeviceFileChannel f = DeviceFileChannel.open(disk, 7)) { // the trailer wins
      assertThat(f.size()).isEqualTo(3000);
      assertThat(read(f, 0, 3000)).isEqualTo(bytes(3000, 3));
      f.truncate(1000);
      f.truncate(2000); // does not grow
      assertThat(f.size()).isEqualTo(1000);
      f.force(true);
    }
    try (DeviceFileChannel f = DeviceFileChannel.open(disk)) {
      assertThat(f.size()).isEqualTo(1000);
    }
  }

  @Test
  void aHoleReadsAsZerosEvenOverOldData() throws IOException {
    try (DeviceFileChannel f = DeviceFileChannel.open(disk)) {
      f.write(ByteBuffer.wrap(bytes(4096, 4)), 0);
      f.truncate(10);
      f.write(ByteBuffer.wrap(new byte[] {9}), 3000);
      assertThat(f.size()).isEqualTo(3001);
      byte[] back = read(f, 0, 3001);
      assertThat(Arrays.copyOfRange(back, 0, 10)).isEqualTo(Arrays.copyOf(bytes(4096, 4), 10));
      assertThat(Arrays.copyOfRange(back, 10, 3000)).containsOnly(0);
      assertThat(back[3000]).isEqualTo((byte) 9);
    }
  }

  @Test
  void aFreshDeviceStartsAtTheGivenLength() throws IOException {
    disk.write(ByteBuffer.wrap(bytes(1024, 5)), 0); // a pre-formatted image
    try (DeviceFileChannel f = DeviceFileChannel.open(disk, 1024)) {
      assertThat(f.size()).isEqualTo(1024);
      assertThat(read(f, 0, 2048)).isEqualTo(bytes(1024, 5));
    }
    assertThatThrownBy(() -> DeviceFileChannel.open(disk, 63 * 512 + 1))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void writesPastTheCapacityFailAndChangeNothing() throws IOException {
    try (DeviceFileChannel f = DeviceFileChannel.open(disk)) {
      assertThatThrownBy(() -> f.write(ByteBuffer.allocate(2), 63 * 512 - 1))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("No space left on device");
      assertThat(f.size()).isZero();
      f.write(ByteBuffer.allocate(1), 63 * 512 - 1);
      assertThat(f.size()).isEqualTo(63 * 512);
    }
  }

  @Test
  void afterAPowerCutTheSizeIsTheOneOfTheLastForce() throws IOException {
    try (DeviceFileChannel f = DeviceFileChannel.open(disk)) {
      f.write(ByteBuffer.wrap(bytes(700, 6)), 0);
      f.force(false);
      f.write(ByteBuffer.wrap(bytes(900, 7)), 700); // never forced
      try (MemoryBlockDevice after = disk.durableCopy("after")) {
        try (DeviceFileChannel g = DeviceFileChannel.open(after)) {
          assertThat(g.size()).isEqualTo(700);
          assertThat(read(g, 0, 700)).isEqualTo(bytes(700, 6));
        }
      }
    }
  }

  @Test
  void aCorruptTrailerIsIgnored() throws IOException {
    try (DeviceFileChannel f = DeviceFileChannel.open(disk)) {
      f.write(ByteBuffer.allocate(10), 0);
    }
    ByteBuffer last = ByteBuffer.allocate(512);
    disk.read(last, 63 * 512);
    last.put(9, (byte) (last.get(9) ^ 1)); // a bit of the size
    disk.write(last.flip(), 63 * 512);
    try (DeviceFileChannel f = DeviceFileChannel.open(disk, 5)) {
      assertThat(f.size()).isEqualTo(5);
    }
  }
}
