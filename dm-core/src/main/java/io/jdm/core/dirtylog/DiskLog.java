package io.jdm.core.dirtylog;

import io.jdm.core.Bio;
import io.jdm.core.DmDev;
import io.jdm.core.StatusType;
import io.jdm.core.TargetContext;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The {@code disk} log: the {@code core} log's bitsets with the clean bitset kept on a log device
 * in the kernel's format ({@code disk_*} in {@code drivers/md/dm-log.c}).
 *
 * <h2>On-disk format</h2>
 *
 * One buffer from sector 0 of the log device, {@code 1024 + bitset_size} bytes rounded up to the
 * device's logical block size, little-endian:
 *
 * <pre>
 * offset 0   u32 magic       0x4D695272 ("MiRr")
 * offset 4   u32 version     2 (1 is read as 2)
 * offset 8   u64 nr_regions
 * offset 1024                 the clean bitset: bit i is bit (i &amp; 7) of byte (i &gt;&gt; 3), 1 = clean
 * </pre>
 *
 * Bytes between the header and the bitset, and after the bitset, are written back as they were
 * read.
 *
 * <h2>Behaviour</h2>
 *
 * <ul>
 *   <li>{@link #resume()} reads the buffer. A bad magic, or {@code sync}/{@code nosync} in the
 *       table, starts a new log ({@code nr_regions} taken as 0); regions past {@code nr_regions}
 *       (all of them for a new log, the new ones after a grow) become dirty, or clean with {@code
 *       nosync}; bits past the region count are cleared. The sync bitset is then the clean bitset,
 *       the header is rewritten with the current region count, and the log device is flushed. A
 *       read failure (or a version other than 2) fails the log device and treats every region as
 *       out of sync, as the kernel does; only a failure to write or flush makes {@code resume}
 *       throw.
 *   <li>{@link #flush()} does nothing unless a bit changed. Before writing a region clean it calls
 *       the flush callback; if that fails, every region is marked dirty and stays so ({@code
 *       flush_failed}). It writes the buffer, then, if a region was marked dirty since the last
 *       flush, flushes the log device's cache (an empty {@link Bio#PREFLUSH} write: {@code
 *       flush_header}). {@link #postsuspend()} flushes too.
 *   <li>A failed write or read marks the log device failed ({@code fail_log_device}: status {@code
 *       D}, one table event); a failed cache flush also sets status {@code F}. Neither clears until
 *       the table is reloaded.
 * </ul>
 *
 * <p>Thread model: {@link BitsetLog}'s monitor guards the bitsets and this log's header and state;
 * an {@code io} lock serialises the log's writes, so a flush that starts after a mark waits for a
 * running flush and then writes the mark itself. A flush copies the buffer under the monitor and
 * writes the copy without it, so marks never wait for I/O.
 */
final class DiskLog extends BitsetLog {
  static final int MIRROR_MAGIC = 0x4D695272;
  static final int MIRROR_DISK_VERSION = 2;

  /** Sector of the bitset ({@code LOG_OFFSET}). */
  static final int LOG_OFFSET = 2;

  static final int BITSET_OFFSET = LOG_OFFSET << Bio.SECTOR_SHIFT;

  private static final VarHandle INT_LE =
      MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
  private static final VarHandle LONG_LE =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

  private final TargetContext ctx;
  private final DmDev dev;
  private final FlushCallback flushCallback;
  private final ReentrantLock io = new ReentrantLock();
  private final int bufferSize;

  /** The buffer as last read or prepared; its bitset part is stale, {@code clean} is the truth. */
  private byte[] buffer; // guarded by this

  private int magic = MIRROR_MAGIC; // guarded by this
  private int version = MIRROR_DISK_VERSION; // guarded by this
  private long nrRegions; // guarded by this
  private boolean devFailed; // guarded by this
  private boolean devFlushFailed; // guarded by this

  DiskLog(
      DirtyLogType type,
      Params p,
      TargetContext ctx,
      DmDev dev,
      int bufferSize,
      FlushCallback flushCallback) {
    super(type, p);
    this.ctx = ctx;
    this.dev = dev;
    this.flushCallback = flushCallback;
    this.bufferSize = bufferSize;
    this.buffer = new byte[bufferSize];
  }

  /** {@code dm_round_up(1024 + bitset_size, logical block size)}. */
  static long bufferSize(long bitsetBytes, int logicalBlockSize) {
    long n = BITSET_OFFSET + bitsetBytes;
    return (n + logicalBlockSize - 1) / logicalBlockSize * logicalBlockSize;
  }

  /** The buffer to write now: the header and padding as kept, the clean bitset as it is. */
  private byte[] image() {
    byte[] b = buffer.clone();
    exportBitset(clean, b, BITSET_OFFSET);
    return b;
  }

  private void warn(String message, Throwable cause) {
    ctx.logger().log(System.Logger.Level.WARNING, message, cause);
  }

  /** {@code fail_log_device}: the first failure raises a table event. */
  private void failLogDevice() {
    synchronized (this) {
      if (devFailed) {
        return;
      }
      devFailed = true;
    }
    ctx.triggerEvent();
  }

  @Override
  public void resume() throws IOException {
    ensureOpen();
    io.lock();
    try {
      byte[] read = new byte[bufferSize];
      IOException readError = null;
      try {
        dev.bdev().read(ByteBuffer.wrap(read), 0);
      } catch (IOException e) {
        readError = e;
      }
      byte[] image;
      boolean readFailed;
      synchronized (this) {
        readFailed = readError != null || !readHeader(read);
        if (readFailed) {
          // Unreadable: every region must be taken as out of sync.
          nrRegions = 0;
        }
        if (sync == Sync.NOSYNC) {
          for (long i = nrRegions; i < regionCount; i++) {
            setBit(clean, i);
          }
        } else {
          for (long i = nrRegions; i < regionCount; i++) {
            clearBit(clean, i);
          }
        }
        for (long i = regionCount; (i & 31) != 0; i++) {
          clearBit(clean, i); // the device shrank: old bits past the end
        }
        syncFromClean();
        nrRegions = regionCount;
        INT_LE.set(buffer, 0, magic);
        INT_LE.set(buffer, 4, version);
        LONG_LE.set(buffer, 8, nrRegions);
        image = image();
      }
      if (readFailed) {
        warn(dev.name() + ": Failed to read header on dirty region log device", readError);
        failLogDevice();
      }
      try {
        dev.bdev().write(ByteBuffer.wrap(image), 0);
        try {
          dev.bdev().flush();
        } catch (IOException e) {
          synchronized (this) {
            devFlushFailed = true;
          }
          throw e;
        }
      } catch (IOException e) {
        warn(dev.name() + ": Failed to write header on dirty region log device", e);
        failLogDevice();
        throw e;
      }
    } finally {
      io.unlock();
    }
  }

  /**
   * {@code read_header} after a successful read: takes the buffer and its header, decides whether a
   * new log is needed. Returns {@code false} for an incompatible version.
   */
  private boolean readHeader(byte[] read) {
    buffer = read;
    importBitset(read, BITSET_OFFSET, clean);
    magic = (int) INT_LE.get(read, 0);
    version = (int) INT_LE.get(read, 4);
    nrRegions = (long) LONG_LE.get(read, 8);
    if (sync != Sync.DEFAULT || magic != MIRROR_MAGIC) {
      magic = MIRROR_MAGIC;
      version = MIRROR_DISK_VERSION;
      nrRegions = 0;
    }
    if (version == 1) {
      version = MIRROR_DISK_VERSION; // version 1 was the same layout on little-endian machines
    }
    if (version != MIRROR_DISK_VERSION) {
      warn("incompatible disk log version", null);
      return false;
    }
    return true;
  }

  @Override
  public void flush() throws IOException {
    ensureOpen();
    io.lock();
    try {
      byte[] image;
      boolean cleaned;
      boolean dirtied;
      synchronized (this) {
        if (!touchedCleaned && !touchedDirtied) {
          return;
        }
        cleaned = touchedCleaned;
        dirtied = touchedDirtied;
        touchedCleaned = false;
        touchedDirtied = false;
        image = image();
      }
      if (cleaned && flushCallback != null) {
        try {
          flushCallback.flush();
        } catch (IOException e) {
          // Which regions are clean can no longer be told: all of them are dirty from now on.
          synchronized (this) {
            flushFailed = true;
            for (long i = 0; i < regionCount; i++) {
              clearBit(clean, i);
            }
            dirtied = true;
            touchedDirtied = false;
            image = image();
          }
        }
      }
      try {
        dev.bdev().write(ByteBuffer.wrap(image), 0);
      } catch (IOException e) {
        synchronized (this) {
          touchedCleaned |= cleaned;
          touchedDirtied |= dirtied;
        }
        failLogDevice();
        throw e;
      }
      if (dirtied) {
        try {
          dev.bdev().flush();
        } catch (IOException e) {
          synchronized (this) {
            touchedDirtied = true;
            devFlushFailed = true;
          }
          failLogDevice();
          throw e;
        }
      }
    } finally {
      io.unlock();
    }
  }

  @Override
  public void postsuspend() throws IOException {
    flush();
  }

  /** {@code 3 disk <dev> <A|D|F>} and {@code disk <2|3> <dev> <region_size> [[no]sync ]}. */
  @Override
  public String status(StatusType type) {
    if (type == StatusType.INFO) {
      char state;
      synchronized (this) {
        state = devFlushFailed ? 'F' : devFailed ? 'D' : 'A';
      }
      return "3 " + type().name() + " " + dev.name() + " " + state;
    }
    return type().name()
        + " "
        + (sync == Sync.DEFAULT ? 2 : 3)
        + " "
        + dev.name()
        + " "
        + regionSize
        + " "
        + syncArgument();
  }
}
