package io.jdm.testkit.crash;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.FileBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A write log in the on-disk format of the kernel's {@code log-writes} target ({@code
 * drivers/md/dm-log-writes.c}), read whole into memory: from jdm's {@code log-writes} target, or
 * from a log the kernel wrote, copied into a file.
 *
 * <p>The format, little-endian, in blocks of {@code S} bytes (the logged device's logical block
 * size): block 0 is the super block {@code {u64 magic 0x6a736677736872, u64 version 1, u64
 * nr_entries, u32 S}}; from block 1 each entry is a header block {@code {u64 sector, u64
 * nr_sectors, u64 flags, u64 data_len}} (a mark's name follows in the same block, NUL-terminated)
 * followed by {@code nr_sectors} blocks of data, none for a discard. Sectors count blocks of {@code
 * S}. Only the {@code nr_entries} entries the super block counts are read, as the kernel's {@code
 * replay-log} does.
 *
 * <p>Reading checks what {@code replay-log} checks, so a log this class accepts replays there too:
 * the magic and version, an entry that is neither empty nor junk-filled after its header, and
 * everything within the device. A log that fails gets an {@link IOException} naming the entry, its
 * block in the log and the rule.
 */
public final class WriteLog {
  /** {@code WRITE_LOG_MAGIC}. */
  public static final long MAGIC = 0x6a736677736872L;

  /** {@code WRITE_LOG_VERSION}. */
  public static final long VERSION = 1;

  /** The entry flags ({@code LOG_*_FLAG}). */
  public static final long FLUSH = 1;

  public static final long FUA = 2;
  public static final long DISCARD = 4;
  public static final long MARK = 8;
  public static final long METADATA = 16;

  /** The mark the target logs when its table is removed. */
  public static final String END_MARK = "dm-log-writes-end";

  static final int HEADER_SIZE = 32;

  /** One entry of the log. Sectors are 512-byte sectors, whatever the log's block size. */
  public static final class Entry {
    private final int index;
    private final long logBlock;
    private final long sector;
    private final long sectors;
    private final long flags;
    private final String mark;
    private final byte[] data;

    Entry(
        int index, long logBlock, long sector, long sectors, long flags, String mark, byte[] data) {
      this.index = index;
      this.logBlock = logBlock;
      this.sector = sector;
      this.sectors = sectors;
      this.flags = flags;
      this.mark = mark;
      this.data = data;
    }

    /** The entry's number, from 0. */
    public int index() {
      return index;
    }

    /** Where the entry's header block is in the log, in blocks of the log's block size. */
    public long logBlock() {
      return logBlock;
    }

    /** The first sector written, discarded or flushed (512-byte sectors). */
    public long sector() {
      return sector;
    }

    /** How many sectors (512-byte). */
    public long sectors() {
      return sectors;
    }

    /** The {@code LOG_*_FLAG} bits. */
    public long flags() {
      return flags;
    }

    public boolean isFlush() {
      return (flags & FLUSH) != 0;
    }

    public boolean isFua() {
      return (flags & FUA) != 0;
    }

    public boolean isDiscard() {
      return (flags & DISCARD) != 0;
    }

    public boolean isMark() {
      return (flags & MARK) != 0;
    }

    public boolean isMetadata() {
      return (flags & METADATA) != 0;
    }

    /** A write or a discard: it changes sectors. */
    public boolean changesData() {
      return !isMark() && sectors > 0;
    }

    /** A mark's name, or {@code null}. */
    public String mark() {
      return mark;
    }

    /** The data written (read-only), empty for a flush, a discard or a mark. */
    public ByteBuffer data() {
      return ByteBuffer.wrap(data).asReadOnlyBuffer();
    }

    byte[] dataArray() {
      return data;
    }

    @Override
    public String toString() {
      StringBuilder sb = new StringBuilder().append("entry ").append(index);
      if (isMark()) {
        return sb.append(" mark ").append(mark).toString();
      }
      if (sectors > 0) {
        sb.append(isDiscard() ? " discard " : " write ")
            .append(sectors)
            .append(" sectors at ")
            .append(sector);
      }
      if (isFlush()) {
        sb.append(" flush");
      }
      if (isFua()) {
        sb.append(" fua");
      }
      if (isMetadata()) {
        sb.append(" meta");
      }
      return sb.toString();
    }
  }

  private final int blockSize;
  private final List<Entry> entries;

  private WriteLog(int blockSize, List<Entry> entries) {
    this.blockSize = blockSize;
    this.entries = Collections.unmodifiableList(entries);
  }

  /** Reads the log on {@code log}. */
  public static WriteLog read(BlockDevice log) throws IOException {
    return new Reader(log).read();
  }

  /** Reads a log from a file (for instance one the kernel wrote, copied with {@code dd}). */
  public static WriteLog read(Path file) throws IOException {
    try (FileBlockDevice dev = FileBlockDevice.builder(file).readOnly(true).open()) {
      return read(dev);
    }
  }

  /** The block size {@code S} of the log: the logged device's logical block size. */
  public int blockSize() {
    return blockSize;
  }

  public List<Entry> entries() {
    return entries;
  }

  /** The index of the first mark called {@code name}, or -1. */
  public int indexOfMark(String name) {
    for (Entry e : entries) {
      if (e.isMark() && e.mark().equals(name)) {
        return e.index();
      }
    }
    return -1;
  }

  /**
   * Applies the first {@code count} entries to {@code target} in log order, as {@code replay-log
   * --limit count} does: writes write their data, discards write zeros (what {@code replay-log}
   * does on a device without discard), flushes flush.
   */
  public void replay(BlockDevice target, int count) throws IOException {
    if (count < 0 || count > entries.size()) {
      throw new IllegalArgumentException(
          "cannot replay " + count + " entries of a log of " + entries.size());
    }
    for (int i = 0; i < count; i++) {
      apply(entries.get(i), target);
    }
  }

  static void apply(Entry e, BlockDevice target) throws IOException {
    if (e.isMark()) {
      return;
    }
    if (e.sectors() > 0) {
      if (e.sector() + e.sectors() > target.sectors()) {
        throw new IOException(
            e
                + " reaches past the end of "
                + target.name()
                + " ("
                + target.sectors()
                + " sectors)");
      }
      long pos = e.sector() << Bio.SECTOR_SHIFT;
      if (e.isDiscard()) {
        ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(e.sectors() << 9, 1 << 20));
        for (long done = 0; done < e.sectors() << 9; done += zeros.capacity()) {
          int n = (int) Math.min(zeros.capacity(), (e.sectors() << 9) - done);
          target.write(zeros.clear().limit(n), pos + done);
        }
      } else {
        target.write(ByteBuffer.wrap(e.dataArray()), pos);
      }
    }
    if (e.isFlush() || e.isFua()) {
      target.flush();
    }
  }

  /** Reads the super block and the entries, checking each as it goes. */
  private static final class Reader {
    private final BlockDevice log;
    private final long logBytes;
    private int s;

    Reader(BlockDevice log) {
      this.log = log;
      this.logBytes = log.size();
    }

    private ByteBuffer readBytes(long pos, int n) throws IOException {
      int lbs = log.limits().logicalBlockSize();
      long start = pos / lbs * lbs;
      int len = (int) (((pos + n - start) + lbs - 1) / lbs * lbs);
      ByteBuffer b = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
      log.read(b, start);
      return b.position((int) (pos - start))
          .limit((int) (pos - start) + n)
          .slice()
          .order(ByteOrder.LITTLE_ENDIAN);
    }

    WriteLog read() throws IOException {
      if (logBytes < HEADER_SIZE) {
        throw corrupt("the log device holds " + logBytes + " bytes, too few for a super block");
      }
      ByteBuffer sb = readBytes(0, (int) Math.min(512, logBytes));
      long magic = sb.getLong(0);
      if (magic != MAGIC) {
        throw corrupt(
            "super block: magic 0x"
                + Long.toHexString(magic)
                + " is not the log-writes magic 0x"
                + Long.toHexString(MAGIC)
                + ": not a log-writes log");
      }
      long version = sb.getLong(8);
      if (version != VERSION) {
        throw corrupt(
            "super block: version " + Long.toUnsignedString(version) + ", only version 1 is known");
      }
      long count = sb.getLong(16);
      long size = Integer.toUnsignedLong(sb.getInt(24));
      if (size < 512 || size > (1 << 20) || Long.bitCount(size) != 1) {
        throw corrupt(
            "super block: sector size " + size + " is not a power of two from 512 to 1 MiB");
      }
      s = (int) size;
      long maxEntries = logBytes / s - 1;
      if (count < 0 || count > maxEntries) {
        throw corrupt(
            "super block: "
                + Long.toUnsignedString(count)
                + " entries cannot fit in a log device of "
                + logBytes
                + " bytes ("
                + maxEntries
                + " blocks of "
                + s
                + " after the super block)");
      }
      int shift = Integer.numberOfTrailingZeros(s) - Bio.SECTOR_SHIFT;
      List<Entry> entries = new ArrayList<>((int) count);
      long block = 1;
      for (int i = 0; i < count; i++) {
        if ((block + 1) * s > logBytes) {
          throw corrupt(i, block, "the header is past the end of the log device");
        }
        long header = block;
        ByteBuffer h = readBytes(block * s, s);
        long sector = h.getLong(0);
        long nr = h.getLong(8);
        long flags = h.getLong(16);
        long dataLen = h.getLong(24);
        if (flags == 0 && nr == 0) {
          throw corrupt(i, block, "an entry with no flags and no sectors (a zeroed block?)");
        }
        if (nr < 0
            || nr > (Long.MAX_VALUE >> 20)
            || sector < 0
            || sector > (Long.MAX_VALUE >> 20)) {
          throw corrupt(
              i,
              block,
              Long.toUnsignedString(nr)
                  + " sectors at sector "
                  + Long.toUnsignedString(sector)
                  + " is out of range");
        }
        String mark = null;
        if ((flags & MARK) != 0) {
          if (flags != MARK) {
            throw corrupt(i, block, "a mark with other flags (0x" + Long.toHexString(flags) + ")");
          }
          if (dataLen < 0 || dataLen > s - HEADER_SIZE - 1) {
            throw corrupt(
                i,
                block,
                "a mark name of "
                    + Long.toUnsignedString(dataLen)
                    + " bytes does not fit in a block of "
                    + s
                    + " with its header and NUL");
          }
          byte[] name = new byte[(int) dataLen];
          h.get(HEADER_SIZE, name);
          if (h.get(HEADER_SIZE + (int) dataLen) != 0) {
            throw corrupt(i, block, "the mark name is not NUL-terminated");
          }
          mark = new String(name, StandardCharsets.UTF_8);
        } else if (h.get(HEADER_SIZE) != 0) {
          throw corrupt(i, block, "bytes after the 32-byte header of a non-mark entry");
        }
        block++;
        byte[] data = new byte[0];
        if ((flags & DISCARD) == 0 && (flags & MARK) == 0 && nr > 0) {
          long bytes = nr * s;
          if (bytes > Integer.MAX_VALUE - 16 || (block + nr) * s > logBytes) {
            throw corrupt(
                i,
                header,
                nr + " data blocks run past the end of the log device (" + logBytes + " bytes)");
          }
          data = new byte[(int) bytes];
          log.read(ByteBuffer.wrap(data), block * s);
          block += nr;
        }
        entries.add(new Entry(i, header, sector << shift, nr << shift, flags, mark, data));
      }
      return new WriteLog(s, entries);
    }

    private static IOException corrupt(String rule) {
      return new IOException("log-writes log: " + rule);
    }

    private static IOException corrupt(int entry, long block, String rule) {
      return new IOException("log-writes log: entry " + entry + " at block " + block + ": " + rule);
    }
  }
}
