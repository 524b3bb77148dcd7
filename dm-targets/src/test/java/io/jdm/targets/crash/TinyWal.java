package io.jdm.targets.crash;

import io.jdm.core.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.LongConsumer;
import java.util.zip.CRC32C;

/**
 * A small write-ahead log, the storage engine the crash harness is proved on. Records go back to
 * back from sector 0, each starting on a sector: a 16-byte header {@code {u32 magic, u32 seq, u32
 * length, u32 crc32c(seq, length, payload)}} and the payload, padded to the sector. Appending
 * writes a batch of records (one write each), flushes, then acknowledges the batch (group commit).
 * Recovery reads records from the start while they are whole and in sequence.
 *
 * <p>Two bugs can be switched on: acknowledging before the flush, and trusting records without
 * checking their checksum (so a torn record is taken as whole).
 */
final class TinyWal {
  enum Bug {
    NONE,
    ACK_BEFORE_FLUSH,
    NO_CHECKSUM
  }

  static final int MAGIC = 0x57414c31; // "WAL1"
  static final int HEADER = 16;
  static final int MAX_PAYLOAD = 3 * 512 + 300;

  private final BlockDevice dev;
  private final Bug bug;
  private long next; // byte position of the next record
  private int seq;

  TinyWal(BlockDevice dev, Bug bug) {
    this.dev = dev;
    this.bug = bug;
  }

  private static final byte[][] PAYLOADS = new byte[4096][];

  /** The payload of record {@code seq}: its length and bytes follow from the number alone. */
  static byte[] payload(int seq) {
    synchronized (PAYLOADS) {
      if (seq < PAYLOADS.length && PAYLOADS[seq] != null) {
        return PAYLOADS[seq];
      }
    }
    Random r = new Random(seq * 0x9E3779B97F4A7C15L);
    byte[] b = new byte[1 + r.nextInt(MAX_PAYLOAD)];
    r.nextBytes(b);
    synchronized (PAYLOADS) {
      if (seq < PAYLOADS.length) {
        PAYLOADS[seq] = b;
      }
    }
    return b;
  }

  private static int crc(int seq, byte[] payload, int length) {
    CRC32C c = new CRC32C();
    ByteBuffer h = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(seq).putInt(length);
    c.update(h.flip());
    c.update(payload, 0, length);
    return (int) c.getValue();
  }

  private static int sectorsFor(int length) {
    return (HEADER + length + 511) / 512;
  }

  /**
   * Appends records {@code seq+1 .. seq+count} and acknowledges the last one through {@code ack}
   * once they are durable (or, with {@link Bug#ACK_BEFORE_FLUSH}, once written).
   */
  void append(int count, LongConsumer ack) throws IOException {
    for (int i = 0; i < count; i++) {
      int s = ++seq;
      byte[] p = payload(s);
      ByteBuffer rec =
          ByteBuffer.allocate(sectorsFor(p.length) * 512).order(ByteOrder.LITTLE_ENDIAN);
      rec.putInt(MAGIC).putInt(s).putInt(p.length).putInt(crc(s, p, p.length)).put(p).clear();
      dev.write(rec, next);
      next += rec.capacity();
    }
    if (bug == Bug.ACK_BEFORE_FLUSH) {
      ack.accept(seq);
      dev.flush();
    } else {
      dev.flush();
      ack.accept(seq);
    }
  }

  /** Reads the records that survived, reading ahead in 128 KiB chunks. */
  static List<byte[]> recover(BlockDevice dev, Bug bug) throws IOException {
    List<byte[]> records = new ArrayList<>();
    ByteBuffer window = ByteBuffer.allocate(128 * 1024).order(ByteOrder.LITTLE_ENDIAN);
    long windowAt = -1;
    long pos = 0;
    while (true) {
      if (windowAt < 0 || pos + 512 + MAX_PAYLOAD > windowAt + window.capacity()) {
        windowAt = pos;
        window.clear().limit((int) Math.min(window.capacity(), dev.size() - pos));
        if (window.limit() < 512) {
          return records;
        }
        dev.read(window, pos);
      }
      int at = (int) (pos - windowAt);
      if (window.getInt(at) != MAGIC || window.getInt(at + 4) != records.size() + 1) {
        return records;
      }
      int length = window.getInt(at + 8);
      if (length <= 0 || length > MAX_PAYLOAD || at + HEADER + length > window.position()) {
        return records;
      }
      byte[] p = new byte[length];
      window.get(at + HEADER, p);
      if (bug != Bug.NO_CHECKSUM && window.getInt(at + 12) != crc(records.size() + 1, p, length)) {
        return records;
      }
      records.add(p);
      pos += sectorsFor(length) * 512L;
    }
  }
}
