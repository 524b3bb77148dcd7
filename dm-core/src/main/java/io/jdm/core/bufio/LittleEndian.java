package io.jdm.core.bufio;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Absolute little-endian field access ({@code le32_to_cpu}, {@code cpu_to_le64}, ...) whatever the
 * buffer's own byte order, for on-disk structures that the kernel defines as {@code __le32} and
 * {@code __le64}. Positions are byte indexes; the buffer's position is not used or changed.
 *
 * <p>Thread-safe (no state).
 */
public final class LittleEndian {
  private LittleEndian() {}

  public static int getInt(ByteBuffer b, int index) {
    int v = b.getInt(index);
    return b.order() == ByteOrder.LITTLE_ENDIAN ? v : Integer.reverseBytes(v);
  }

  /** An {@code __le32} as an unsigned value. */
  public static long getUnsignedInt(ByteBuffer b, int index) {
    return Integer.toUnsignedLong(getInt(b, index));
  }

  public static void putInt(ByteBuffer b, int index, int value) {
    b.putInt(index, b.order() == ByteOrder.LITTLE_ENDIAN ? value : Integer.reverseBytes(value));
  }

  public static long getLong(ByteBuffer b, int index) {
    long v = b.getLong(index);
    return b.order() == ByteOrder.LITTLE_ENDIAN ? v : Long.reverseBytes(v);
  }

  public static void putLong(ByteBuffer b, int index, long value) {
    b.putLong(index, b.order() == ByteOrder.LITTLE_ENDIAN ? value : Long.reverseBytes(value));
  }
}
