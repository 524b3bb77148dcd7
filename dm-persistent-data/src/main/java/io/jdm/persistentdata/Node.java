package io.jdm.persistentdata;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A B-tree node in the kernel's format ({@code struct btree_node} of {@code dm-btree-internal.h}):
 * a 32-byte {@code node_header} (csum, flags, blocknr, nr_entries, max_entries, value_size,
 * padding), then {@code max_entries} little-endian 64-bit keys, then {@code max_entries} values.
 * Wraps a little-endian buffer of one block (absolute access only).
 */
final class Node {
  static final int HEADER_SIZE = 32;
  static final int INTERNAL = 1;
  static final int LEAF = 2;

  private static final int FLAGS = 4;
  private static final int NR_ENTRIES = 16;
  private static final int MAX_ENTRIES = 20;
  private static final int VALUE_SIZE = 24;

  final ByteBuffer buf;

  Node(ByteBuffer buf) {
    this.buf = buf;
  }

  /** A private copy of {@code block} (position 0, the block's bytes). */
  static Node copyOf(ByteBuffer block) {
    ByteBuffer b = ByteBuffer.allocate(block.capacity()).order(ByteOrder.LITTLE_ENDIAN);
    b.put(0, block, 0, block.capacity());
    return new Node(b);
  }

  /** An empty node of {@code blockSize} bytes. */
  static Node empty(int blockSize, boolean leaf, int valueSize) {
    Node n = new Node(ByteBuffer.allocate(blockSize).order(ByteOrder.LITTLE_ENDIAN));
    n.buf.putInt(FLAGS, leaf ? LEAF : INTERNAL);
    n.buf.putInt(MAX_ENTRIES, calcMaxEntries(valueSize, blockSize));
    n.buf.putInt(VALUE_SIZE, valueSize);
    return n;
  }

  /** {@code calc_max_entries}: the most entries that fit, rounded down to a multiple of three. */
  static int calcMaxEntries(int valueSize, int blockSize) {
    int total = (blockSize - HEADER_SIZE) / (8 + valueSize);
    return 3 * (total / 3);
  }

  int flags() {
    return buf.getInt(FLAGS);
  }

  void setFlags(int f) {
    buf.putInt(FLAGS, f);
  }

  boolean isLeaf() {
    return (flags() & LEAF) != 0;
  }

  int nrEntries() {
    return buf.getInt(NR_ENTRIES);
  }

  void setNrEntries(int n) {
    buf.putInt(NR_ENTRIES, n);
  }

  int maxEntries() {
    return buf.getInt(MAX_ENTRIES);
  }

  int valueSize() {
    return buf.getInt(VALUE_SIZE);
  }

  long key(int i) {
    return buf.getLong(HEADER_SIZE + 8 * i);
  }

  void setKey(int i, long k) {
    buf.putLong(HEADER_SIZE + 8 * i, k);
  }

  int valueOffset(int i) {
    return HEADER_SIZE + 8 * maxEntries() + valueSize() * i;
  }

  long value64(int i) {
    return buf.getLong(valueOffset(i));
  }

  void setValue64(int i, long v) {
    buf.putLong(valueOffset(i), v);
  }

  byte[] value(int i) {
    byte[] v = new byte[valueSize()];
    buf.get(valueOffset(i), v);
    return v;
  }

  void setValue(int i, byte[] v) {
    buf.put(valueOffset(i), v);
  }

  boolean full() {
    return nrEntries() == maxEntries();
  }

  /** {@code lower_bound}: the index of the last key {@code <= key}, or -1. */
  int lowerBound(long key) {
    int lo = -1;
    int hi = nrEntries();
    while (hi - lo > 1) {
      int mid = (lo + hi) >>> 1;
      long k = key(mid);
      if (k == key) {
        return mid;
      }
      if (Long.compareUnsigned(k, key) < 0) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  /** {@code upper_bound}: the index of the first key {@code >= key} ({@code nrEntries} if none). */
  int upperBound(long key) {
    int lo = -1;
    int hi = nrEntries();
    while (hi - lo > 1) {
      int mid = (lo + hi) >>> 1;
      long k = key(mid);
      if (k == key) {
        return mid;
      }
      if (Long.compareUnsigned(k, key) < 0) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    return hi;
  }

  /** {@code insert_at}: shifts entries {@code [i, n)} right by one and puts the new one at i. */
  void insertAt(int i, long key, byte[] value) {
    int n = nrEntries();
    int vs = valueSize();
    if (i < n) {
      buf.put(HEADER_SIZE + 8 * (i + 1), buf, HEADER_SIZE + 8 * i, 8 * (n - i));
      buf.put(valueOffset(i + 1), buf, valueOffset(i), vs * (n - i));
    }
    setKey(i, key);
    setValue(i, value);
    setNrEntries(n + 1);
  }

  /** {@code delete_at}. */
  void deleteAt(int i) {
    int n = nrEntries();
    int vs = valueSize();
    int rest = n - (i + 1);
    if (rest > 0) {
      buf.put(HEADER_SIZE + 8 * i, buf, HEADER_SIZE + 8 * (i + 1), 8 * rest);
      buf.put(valueOffset(i), buf, valueOffset(i + 1), vs * rest);
    }
    setNrEntries(n - 1);
  }

  /**
   * Copies {@code count} entries from {@code src} starting at {@code srcIndex} to this node at
   * {@code dstIndex} (the nodes have the same value size). Does not change entry counts.
   */
  void copyEntries(int dstIndex, Node src, int srcIndex, int count) {
    if (count <= 0) {
      return;
    }
    buf.put(HEADER_SIZE + 8 * dstIndex, src.buf, HEADER_SIZE + 8 * srcIndex, 8 * count);
    buf.put(valueOffset(dstIndex), src.buf, src.valueOffset(srcIndex), valueSize() * count);
  }

  /** Moves entries within this node: {@code node_shift} by {@code shift} (may be negative). */
  void shift(int shift) {
    int n = nrEntries();
    if (shift < 0) {
      copyEntries(0, this, -shift, n + shift);
    } else if (shift > 0) {
      copyEntries(shift, this, 0, n);
    }
  }
}
