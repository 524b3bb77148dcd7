package io.jdm.persistentdata;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The values a B-tree holds: the kernel's {@code struct dm_btree_value_type} ({@code dm-btree.h}).
 * Values are {@link #size()} little-endian bytes. {@link #inc} runs for each value of a leaf that
 * shadowing copied out of a shared leaf (both copies now refer to what the value refers to), {@link
 * #dec} for a value removed, overwritten by an unequal one, or dropped with its tree.
 *
 * <p>Implementations must be usable from the thread that changes the tree.
 */
public interface ValueType {
  /** Bytes per value. */
  int size();

  /** Raises the reference the value at {@code offset} of {@code values} holds, if any. */
  default void inc(ByteBuffer values, int offset) throws IOException {}

  /** Drops the reference the value at {@code offset} of {@code values} holds, if any. */
  default void dec(ByteBuffer values, int offset) throws IOException {}

  /**
   * Whether the stored value at {@code offset} and {@code value} refer to the same thing (an
   * overwrite of an equal value drops nothing). Default: equal bytes.
   */
  default boolean equal(ByteBuffer values, int offset, byte[] value) {
    byte[] stored = new byte[value.length];
    values.get(offset, stored);
    return Arrays.equals(stored, value);
  }

  /** Whether {@link #dec} does anything (the kernel's {@code vt->dec != NULL}). */
  default boolean hasDec() {
    return false;
  }

  /** Plain values of {@code size} bytes that refer to nothing. */
  static ValueType ofSize(int size) {
    if (size < 1 || size > 1024) {
      throw new IllegalArgumentException("value size " + size + " (expected: 1..1024)");
    }
    return () -> size;
  }

  /** Plain little-endian 64-bit values. */
  ValueType U64 = ofSize(8);

  /** {@code value} as 8 little-endian bytes. */
  static byte[] le64(long value) {
    byte[] b = new byte[8];
    for (int i = 0; i < 8; i++) {
      b[i] = (byte) (value >>> (8 * i));
    }
    return b;
  }

  /** The little-endian 64-bit value at the start of {@code value}. */
  static long le64(byte[] value) {
    long v = 0;
    for (int i = 7; i >= 0; i--) {
      v = (v << 8) | (value[i] & 0xFF);
    }
    return v;
  }
}
