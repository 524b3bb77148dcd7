package io.jdm.testkit.crash;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Builds a log-writes log byte by byte from the format description in {@code dm-log-writes.c} (not
 * from jdm's writer): a super block, then per entry a header block and its data blocks.
 */
final class LogBuilder {
  private final int s;
  private final ByteBuffer buf;
  private long entries;
  private int block = 1;

  LogBuilder(int blockSize, int blocks) {
    this.s = blockSize;
    this.buf = ByteBuffer.allocate(blockSize * blocks).order(ByteOrder.LITTLE_ENDIAN);
  }

  /** An entry: header {sector, nr_sectors, flags, data_len} in units of the block size. */
  LogBuilder entry(long sector, long nrSectors, long flags, byte[] data) {
    int at = block * s;
    buf.putLong(at, sector).putLong(at + 8, nrSectors).putLong(at + 16, flags).putLong(at + 24, 0);
    block++;
    if (data != null) {
      buf.put(block * s, data);
      block += data.length / s;
    }
    entries++;
    return this;
  }

  LogBuilder mark(String name) {
    byte[] n = name.getBytes(StandardCharsets.UTF_8);
    int at = block * s;
    buf.putLong(at, 0).putLong(at + 8, 0).putLong(at + 16, 8).putLong(at + 24, n.length);
    buf.put(at + 32, n);
    block++;
    entries++;
    return this;
  }

  /** Writes the super block counting every entry so far. */
  LogBuilder superBlock() {
    return superBlock(0x6a736677736872L, 1, entries, s);
  }

  LogBuilder superBlock(long magic, long version, long count, int sectorSize) {
    buf.putLong(0, magic).putLong(8, version).putLong(16, count).putInt(24, sectorSize);
    return this;
  }

  /** Pokes a little-endian long at byte {@code at} (to corrupt the log). */
  LogBuilder poke(int at, long v) {
    buf.putLong(at, v);
    return this;
  }

  LogBuilder pokeByte(int at, byte v) {
    buf.put(at, v);
    return this;
  }

  int blocksUsed() {
    return block;
  }

  byte[] bytes() {
    return buf.array().clone();
  }

  static byte[] pattern(int bytes, int seed) {
    byte[] b = new byte[bytes];
    for (int i = 0; i < bytes; i++) {
      b[i] = (byte) (seed * 31 + i * 7);
    }
    return b;
  }
}
