package io.jdm.testkit;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * What a persistent device must contain: sector contents as last written, zeros where never
 * written, and "unspecified" after a discard that does not promise zeros. Not thread-safe; give
 * each thread its own range.
 */
public final class ReferenceModel {
  private static final byte[] UNSPECIFIED = new byte[0];
  private static final int SECTOR = 512;

  private final long sectors;
  private final Map<Long, byte[]> content = new HashMap<>();

  public ReferenceModel(long sectors) {
    this.sectors = sectors;
  }

  public long sectors() {
    return sectors;
  }

  /** Records a write of {@code data}'s remaining bytes at {@code sector} (position unchanged). */
  public void write(long sector, ByteBuffer data) {
    int n = data.remaining() / SECTOR;
    for (int i = 0; i < n; i++) {
      byte[] s = new byte[SECTOR];
      data.get(data.position() + i * SECTOR, s);
      content.put(sector + i, s);
    }
  }

  /** Records zeros over {@code count} sectors. */
  public void zero(long sector, long count) {
    for (long i = 0; i < count; i++) {
      content.remove(sector + i);
    }
  }

  /** Marks {@code count} sectors unspecified. */
  public void unspecified(long sector, long count) {
    for (long i = 0; i < count; i++) {
      content.put(sector + i, UNSPECIFIED);
    }
  }

  /**
   * Compares {@code actual} (its remaining bytes, read from {@code sector}) with the model; returns
   * a description of the first difference or {@code null}.
   */
  public String check(long sector, ByteBuffer actual) {
    int n = actual.remaining() / SECTOR;
    byte[] got = new byte[SECTOR];
    for (int i = 0; i < n; i++) {
      byte[] want = content.get(sector + i);
      if (want == UNSPECIFIED) {
        continue;
      }
      actual.get(actual.position() + i * SECTOR, got);
      if (want == null) {
        want = ZERO;
      }
      int d = Arrays.mismatch(want, got);
      if (d >= 0) {
        return "sector "
            + (sector + i)
            + " byte "
            + d
            + ": expected "
            + (want[d] & 0xff)
            + " but read "
            + (got[d] & 0xff);
      }
    }
    return null;
  }

  private static final byte[] ZERO = new byte[SECTOR];
}
