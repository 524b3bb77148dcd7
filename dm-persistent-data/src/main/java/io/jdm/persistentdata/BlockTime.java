package io.jdm.persistentdata;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The thin mapping tree's values ({@code dm-thin-metadata.c}): a data block and the snapshot time
 * it was mapped at, packed as {@code block << 24 | time} in 64 bits, the block counted in a data
 * {@link SpaceMap}.
 */
public final class BlockTime {
  /** Bits of the time. */
  public static final int TIME_BITS = 24;

  private static final long TIME_MASK = (1L << TIME_BITS) - 1;

  private BlockTime() {}

  /** {@code pack_block_time}. */
  public static long pack(long block, int time) {
    return (block << TIME_BITS) | (time & TIME_MASK);
  }

  /** The block of a packed value. */
  public static long block(long packed) {
    return packed >>> TIME_BITS;
  }

  /** The time of a packed value. */
  public static int time(long packed) {
    return (int) (packed & TIME_MASK);
  }

  /**
   * The value type: a copied leaf raises its blocks' counts in {@code data}, a removed or replaced
   * value drops its block's, and two values are equal when their blocks are ({@code
   * data_block_equal}: a new time alone drops nothing).
   */
  public static ValueType valueType(SpaceMap data) {
    return new ValueType() {
      @Override
      public int size() {
        return 8;
      }

      @Override
      public void inc(ByteBuffer values, int offset) throws IOException {
        long b = block(values.getLong(offset));
        data.inc(b, b + 1);
      }

      @Override
      public void dec(ByteBuffer values, int offset) throws IOException {
        long b = block(values.getLong(offset));
        data.dec(b, b + 1);
      }

      @Override
      public boolean hasDec() {
        return true;
      }

      @Override
      public boolean equal(ByteBuffer values, int offset, byte[] value) {
        return block(values.getLong(offset)) == block(ValueType.le64(value));
      }
    };
  }
}
