package io.jdm.core.bufio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link BlockChecksum} and {@link LittleEndian} against an independent, bit-at-a-time
 * implementation of the kernel's {@code crc32c_le} and against published values.
 */
class BlockChecksumTest {
  private static final long SEED = Long.getLong("jdm.seed", System.nanoTime());

  /**
   * The kernel's {@code crc32c(~0, data, len)}: reflected Castagnoli polynomial 0x82F63B78,
   * register seeded with all ones, no final inversion ({@code lib/crc32.c}). Written from the
   * definition, one bit at a time, sharing nothing with the code under test.
   */
  static int kernelCrc32c(byte[] data, int offset, int length) {
    int crc = 0xffffffff;
    for (int i = offset; i < offset + length; i++) {
      crc ^= data[i] & 0xff;
      for (int bit = 0; bit < 8; bit++) {
        crc = (crc & 1) != 0 ? (crc >>> 1) ^ 0x82F63B78 : crc >>> 1;
      }
    }
    return crc;
  }

  @Test
  void theCheckValueOfCrc32cIsTheComplementOfTheKernelsRegister() {
    byte[] check = "123456789".getBytes(StandardCharsets.US_ASCII);
    // CRC-32C's published check value is 0xe3069283; the kernel's crc32c(~0, ...) skips the final
    // inversion, so dm_bm_checksum with no XOR is its complement.
    assertThat(kernelCrc32c(check, 0, 9)).isEqualTo(~0xe3069283);
    assertThat(BlockChecksum.dmBmChecksum(check, 0, 9, 0)).isEqualTo(0x1cf96d7c);
    assertThat(BlockChecksum.dmBmChecksum(check, 0, 9, 160774)).isEqualTo(0x1cf96d7c ^ 160774);
    assertThat(BlockChecksum.dmBmChecksum(new byte[0], 0, 0, 0)).isEqualTo(0xffffffff);
  }

  @Test
  void agreesWithTheBitwiseKernelCrcOnRandomData() {
    Random rnd = new Random(SEED);
    for (int round = 0; round < 200; round++) {
      byte[] data = new byte[1 + rnd.nextInt(9000)];
      rnd.nextBytes(data);
      int offset = rnd.nextInt(data.length);
      int length = rnd.nextInt(data.length - offset + 1);
      int xor = rnd.nextInt();
      int expected = kernelCrc32c(data, offset, length) ^ xor;
      String seed = "seed " + SEED + ", round " + round;
      assertThat(BlockChecksum.dmBmChecksum(data, offset, length, xor))
          .as(seed)
          .isEqualTo(expected);
      ByteBuffer heap = ByteBuffer.wrap(data).position(3 % data.length);
      assertThat(BlockChecksum.dmBmChecksum(heap, offset, length, xor))
          .as(seed)
          .isEqualTo(expected);
      assertThat(heap.position()).isEqualTo(3 % data.length);
      ByteBuffer direct = ByteBuffer.allocateDirect(data.length).put(data).flip();
      assertThat(BlockChecksum.dmBmChecksum(direct, offset, length, xor))
          .as(seed)
          .isEqualTo(expected);
      assertThat(BlockChecksum.dmBmChecksum(heap.asReadOnlyBuffer(), offset, length, xor))
          .as(seed)
          .isEqualTo(expected);
    }
  }

  @Test
  void rangesOutsideTheDataAreRefused() {
    assertThatThrownBy(() -> BlockChecksum.dmBmChecksum(new byte[8], 4, 5, 0))
        .isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> BlockChecksum.dmBmChecksum(ByteBuffer.allocate(8), -1, 2, 0))
        .isInstanceOf(IndexOutOfBoundsException.class);
  }

  @Test
  void littleEndianFieldsReadTheSameWhateverTheBuffersOrder() {
    byte[] bytes = {1, 2, 3, 4, 5, 6, 7, (byte) 0x88, 9};
    for (ByteOrder order : new ByteOrder[] {ByteOrder.BIG_ENDIAN, ByteOrder.LITTLE_ENDIAN}) {
      ByteBuffer b = ByteBuffer.wrap(bytes.clone()).order(order);
      assertThat(LittleEndian.getInt(b, 0)).isEqualTo(0x04030201);
      assertThat(LittleEndian.getUnsignedInt(b, 4)).isEqualTo(0x88070605L);
      assertThat(LittleEndian.getLong(b, 0)).isEqualTo(0x8807060504030201L);
      LittleEndian.putInt(b, 1, 0xaabbccdd);
      assertThat(b.get(1)).isEqualTo((byte) 0xdd);
      assertThat(b.get(4)).isEqualTo((byte) 0xaa);
      LittleEndian.putLong(b, 1, 0x1122334455667788L);
      assertThat(b.get(1)).isEqualTo((byte) 0x88);
      assertThat(b.get(8)).isEqualTo((byte) 0x11);
      assertThat(b.order()).isEqualTo(order);
    }
  }
}
