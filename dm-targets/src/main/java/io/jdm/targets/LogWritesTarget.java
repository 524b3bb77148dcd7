package io.jdm.targets;

import io.jdm.core.ArgSet;
import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceArea;
import io.jdm.core.DmDev;
import io.jdm.core.EndIoResult;
import io.jdm.core.EndIoTarget;
import io.jdm.core.IoLimits;
import io.jdm.core.MapResult;
import io.jdm.core.StatusType;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.Workqueue;
import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * One {@code log-writes} line.
 *
 * <p>The log, in units of {@code S}, the data device's logical block size, little-endian: block 0
 * is the super block {@code {u64 magic 0x6a736677736872, u64 version 1, u64 nr_entries, u32 S}};
 * from block 1 on, each entry is one block {@code {u64 sector, u64 nr_sectors, u64 flags, u64
 * data_len}} (a mark's text follows in the same block), then {@code nr_sectors} blocks of the data
 * written (none for a discard). Sectors and counts are in units of {@code S}. Flags: FLUSH 1, FUA
 * 2, DISCARD 4, MARK 8, METADATA 16. The super block is rewritten after every FUA or mark entry.
 *
 * <p>Order, as the kernel's: a completed write waits on an unflushed list; a flush takes that list
 * when it is issued and, when it completes, logs those writes and then itself; a FUA write is
 * logged when it completes; a discard is handled like a write; a mark ({@code message 0 mark
 * <name>}) is logged at once. So the log describes what was on stable storage, in the order it got
 * there. Removing the table flushes the unflushed list and logs the mark {@code dm-log-writes-end}.
 * A log device that fills up, or fails, turns logging off; I/O goes on.
 *
 * <p>Write-zeroes is not supported, as in the kernel (the target asks for no write-zeroes bios).
 *
 * <p>Log blocks are written by one worker thread ({@code log-write}); {@code map} and end-I/O only
 * copy and queue. Thread-safe.
 */
final class LogWritesTarget implements EndIoTarget {
  static final long MAGIC = 0x6a736677736872L;
  static final long VERSION = 1;
  static final long FLUSH = 1;
  static final long FUA = 2;
  static final long DISCARD = 4;
  static final long MARK = 8;
  static final long METADATA = 16;
  static final String END_MARK = "dm-log-writes-end";
  private static final int ENTRY_SIZE = 32;

  /** A write, flush, discard or mark waiting to be logged. */
  private static final class Pending {
    long flags;
    long sector; // in units of S
    long count; // in units of S
    byte[] data; // the payload, or a mark's text
    List<Pending> flushed = List.of(); // for a flush: the writes it made durable

    Pending(long flags) {
      this.flags = flags;
    }
  }

  private final Logger log;
  private final DmDev dmDev;
  private final DmDev dmLogDev;
  private final BlockDevice dev;
  private final BlockDevice logDev;
  private final long length;
  private final int sectorSize;
  private final int shift; // log2(S / 512)
  private final Workqueue worker;
  private final Object drainLock = new Object();

  // guarded by this
  private List<Pending> unflushed = new ArrayList<>();
  private final ArrayDeque<Pending> logging = new ArrayDeque<>();
  private long loggedEntries;
  private long nextSector;
  private final long endSector;
  private volatile boolean loggingEnabled = true; // written under this
  private volatile boolean deviceSupportsDiscard = true;

  LogWritesTarget(TargetContext ctx, DmDev dev, DmDev logDev, long length) {
    this.log = ctx.logger();
    this.dmDev = dev;
    this.dmLogDev = logDev;
    this.dev = dev.bdev();
    this.logDev = logDev.bdev();
    this.length = length;
    this.sectorSize = this.dev.limits().logicalBlockSize();
    this.shift = Integer.numberOfTrailingZeros(sectorSize) - Bio.SECTOR_SHIFT;
    this.worker = ctx.workqueue("log-write", 1);
    this.nextSector = sectorSize >>> Bio.SECTOR_SHIFT;
    this.endSector = this.logDev.sectors();
  }

  @Override
  public MapResult map(Bio bio) {
    Bio.Op op = bio.op();
    bio.setDevice(dev); // the sector stays as it is: see LogWritesTargetType
    if (!loggingEnabled || op == Bio.Op.READ || (bio.sectors() == 0 && op != Bio.Op.FLUSH)) {
      return MapResult.REMAPPED;
    }
    boolean flush = op == Bio.Op.FLUSH || bio.hasFlag(Bio.PREFLUSH);
    Pending p = new Pending(0);
    if (flush) {
      p.flags |= FLUSH;
    }
    if (bio.hasFlag(Bio.FUA)) {
      p.flags |= FUA;
    }
    if (op == Bio.Op.DISCARD) {
      p.flags |= DISCARD;
    }
    if (bio.hasFlag(Bio.META)) {
      p.flags |= METADATA;
    }
    p.sector = bio.sector() >>> shift;
    p.count = bio.sectors() >>> shift;
    bio.setTargetContext(p);
    if (op == Bio.Op.DISCARD) {
      if (deviceSupportsDiscard) {
        return MapResult.REMAPPED;
      }
      bio.complete(BlockStatus.OK);
      return MapResult.SUBMITTED;
    }
    if (op == Bio.Op.WRITE) {
      p.data = new byte[bio.bytes()];
      bio.data().get(bio.dataOffset(), p.data);
    }
    if (flush) {
      synchronized (this) {
        p.flushed = unflushed;
        unflushed = new ArrayList<>();
      }
    }
    return MapResult.REMAPPED;
  }

  @Override
  public EndIoResult endIo(Bio bio, BlockStatus status) {
    Object ctx = bio.targetContext();
    if (!(ctx instanceof Pending) || bio.op() == Bio.Op.READ) {
      return EndIoResult.DONE;
    }
    Pending p = (Pending) ctx;
    boolean wake = false;
    synchronized (this) {
      if ((p.flags & FLUSH) != 0) {
        logging.addAll(p.flushed);
        p.flushed = List.of();
        logging.add(p);
        wake = true;
      } else if ((p.flags & FUA) != 0) {
        logging.add(p);
        wake = true;
      } else {
        unflushed.add(p);
      }
    }
    if (wake) {
      worker.execute(this::drain);
    }
    return EndIoResult.DONE;
  }

  /** Logs everything queued, in order (the kernel's {@code log_writes_kthread}). */
  private void drain() {
    synchronized (drainLock) {
      while (true) {
        Pending p;
        long sector;
        long entries;
        synchronized (this) {
          p = logging.poll();
          if (p == null) {
            return;
          }
          if (!loggingEnabled) {
            continue;
          }
          sector = nextSector;
          if ((p.flags & DISCARD) == 0) {
            nextSector += p.count << shift;
          }
          nextSector += sectorSize >>> Bio.SECTOR_SHIFT;
          if (endSector != 0 && nextSector >= endSector) {
            log.log(Level.ERROR, "Ran out of space on the logdev");
            loggingEnabled = false;
            continue;
          }
          entries = ++loggedEntries;
        }
        try {
          logOne(p, sector);
          if ((p.flags & (FUA | MARK)) != 0) {
            logSuper(entries);
          }
        } catch (IOException | RuntimeException e) {
          log.log(Level.ERROR, "Error writing log block", e);
          synchronized (this) {
            loggingEnabled = false;
          }
        }
      }
    }
  }

  private void logOne(Pending p, long sector) throws IOException {
    ByteBuffer block = ByteBuffer.allocate(sectorSize).order(ByteOrder.LITTLE_ENDIAN);
    boolean mark = (p.flags & MARK) != 0;
    block.putLong(p.sector).putLong(p.count).putLong(p.flags).putLong(mark ? p.data.length : 0);
    if (mark) {
      block.put(p.data);
    }
    block.clear();
    logDev.write(block, sector << Bio.SECTOR_SHIFT);
    if (!mark && (p.flags & DISCARD) == 0 && p.data != null && p.data.length > 0) {
      logDev.write(ByteBuffer.wrap(p.data), (sector << Bio.SECTOR_SHIFT) + sectorSize);
    }
  }

  private void logSuper(long entries) throws IOException {
    ByteBuffer block = ByteBuffer.allocate(sectorSize).order(ByteOrder.LITTLE_ENDIAN);
    block.putLong(MAGIC).putLong(VERSION).putLong(entries).putInt(sectorSize);
    block.clear();
    logDev.write(block, 0);
  }

  /** Queues a mark; the text is cut to fit one block after the entry header. */
  private void mark(String name) {
    byte[] text = name.getBytes(StandardCharsets.UTF_8);
    int max = sectorSize - ENTRY_SIZE - 1;
    if (text.length > max) {
      text = java.util.Arrays.copyOf(text, max);
    }
    Pending p = new Pending(MARK);
    p.data = text;
    synchronized (this) {
      logging.add(p);
    }
  }

  @Override
  public String message(String... argv) {
    if (argv.length != 2) {
      throw new TargetException(
          "Invalid log-writes message arguments, expect 2 arguments, got " + argv.length);
    }
    if (!ArgSet.equalsIgnoreCase(argv[0], "mark")) {
      throw new TargetException("Unrecognised log writes target message received: " + argv[0]);
    }
    mark(argv[1]);
    worker.execute(this::drain);
    return "";
  }

  /** Logs what is still unflushed and the end mark, then waits until all of it is written. */
  @Override
  public void close() {
    synchronized (this) {
      logging.addAll(unflushed);
      unflushed = new ArrayList<>();
    }
    mark(END_MARK);
    drain();
  }

  @Override
  public String status(StatusType type) {
    if (type == StatusType.TABLE) {
      return dmDev.name() + " " + dmLogDev.name();
    }
    synchronized (this) {
      return loggedEntries + " " + (nextSector - 1) + (loggingEnabled ? "" : " logging_disabled");
    }
  }

  @Override
  public List<DeviceArea> devices() {
    return List.of(new DeviceArea(dmDev, 0, length));
  }

  @Override
  public void ioHints(IoLimits.Builder limits) {
    IoLimits d = dev.limits();
    if (!d.supportsDiscard()) {
      deviceSupportsDiscard = false;
      limits.discardGranularity(sectorSize).maxDiscardSectors(0xFFFF_FFFF >>> Bio.SECTOR_SHIFT);
    }
    limits.logicalBlockSize(d.logicalBlockSize()).physicalBlockSize(d.physicalBlockSize());
    limits.ioMin(d.physicalBlockSize());
  }

  @Override
  public int numFlushBios() {
    return 1;
  }

  @Override
  public boolean flushSupported() {
    return true;
  }

  @Override
  public int numDiscardBios() {
    return 1;
  }

  @Override
  public boolean discardsSupported() {
    return true;
  }
}
