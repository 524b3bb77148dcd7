package io.jdm.targets.snapshot;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.TargetException;
import io.jdm.core.io.DmIo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code P} / {@code PO}: exceptions on the COW device in the kernel's format, byte for byte
 * ({@code drivers/md/dm-snap-persistent.c}). All fields little-endian; the unit is the chunk:
 *
 * <ul>
 *   <li>chunk 0, the header: {@code u32 magic 0x70416e53 ("SnAp"), u32 valid, u32 version (1), u32
 *       chunk_size} (sectors), the rest of the chunk zero. A magic of 0 is a new store: the header
 *       and metadata area 0 are written;
 *   <li>metadata area {@code i} at chunk {@code 1 + i * (E + 1)}, {@code E = chunk_size * 512 / 16}
 *       exceptions per area, each area followed by the {@code E} data chunks it describes;
 *   <li>an exception is {@code u64 old_chunk, u64 new_chunk}; {@code new_chunk == 0} ends the list.
 * </ul>
 *
 * <p>The area in memory is written with {@code PREFLUSH | FUA} when no allocated exception is still
 * being copied, or when it fills; the next area is zeroed on the device before the first one moves
 * on. Loading reads areas until one is not full. Only version 1 is read; {@code valid == 0} loads
 * an invalid snapshot.
 *
 * <p>I/O is synchronous through {@link DmIo}, on the snapshot's worker (or in the constructor).
 */
final class PersistentStore extends ExceptionStore {
  static final int SNAP_MAGIC = 0x70416e53;
  static final int DISK_VERSION = 1;
  static final int HEADER_CHUNKS = 1;
  static final int DEFAULT_CHUNK_SECTORS = 32;
  private static final int EXCEPTION_BYTES = 16;

  private final System.Logger log;
  private volatile int valid = 1;
  private int version = DISK_VERSION;
  private ByteBuffer area;
  private ByteBuffer zeroArea;
  private ByteBuffer headerArea;
  private long currentArea;
  private long nextFree = HEADER_CHUNKS + 1;
  private int currentCommitted;
  private int exceptionsPerArea;
  private final AtomicInteger pendingCount = new AtomicInteger();
  private final List<CommitCallback> callbacks = new ArrayList<>();

  PersistentStore(BlockDevice cow, BlockDevice origin, System.Logger log) {
    super(cow, origin);
    this.log = log;
  }

  /**
   * {@code persistent_ctr}'s options: {@code O} (userspace understands "Overflow") or nothing.
   *
   * @throws TargetException for any other option
   */
  void options(String options) {
    if (options == null) {
      return;
    }
    char c = Character.toUpperCase(options.charAt(0));
    if (c == 'O') {
      userspaceSupportsOverflow = true;
    } else {
      log.log(System.Logger.Level.ERROR, "Unsupported persistent store option: " + options);
      throw new TargetException("Exception store type constructor failed");
    }
  }

  private void allocArea() {
    int len = chunkSize << Bio.SECTOR_SHIFT;
    area = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
    zeroArea = ByteBuffer.allocate(len);
    headerArea = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
  }

  private DmIo.Region chunkRegion(long chunk) {
    return new DmIo.Region(cow, chunk * chunkSize, chunkSize);
  }

  private void chunkIo(ByteBuffer buf, long chunk, Bio.Op op, int flags) throws IOException {
    DmIo.run(op, flags, List.of(chunkRegion(chunk)), buf.duplicate().clear());
  }

  private long areaLocation(long a) {
    return HEADER_CHUNKS + (exceptionsPerArea + 1L) * a;
  }

  private void skipMetadata() {
    long stride = exceptionsPerArea + 1L;
    if (nextFree % stride == HEADER_CHUNKS) {
      nextFree++;
    }
  }

  private void areaIo(Bio.Op op, int flags) throws IOException {
    chunkIo(area, areaLocation(currentArea), op, flags);
  }

  private void zeroMemoryArea() {
    area.clear();
    area.put(zeroArea.duplicate().clear());
    area.clear();
  }

  private void zeroDiskArea(long a) throws IOException {
    chunkIo(zeroArea, areaLocation(a), Bio.Op.WRITE, 0);
  }

  /** Returns {@code true} for a new store (magic 0). */
  private boolean readHeader() throws IOException {
    boolean supplied = true;
    if (chunkSize == 0) {
      setChunkSize(
          Math.max(DEFAULT_CHUNK_SECTORS, cow.limits().logicalBlockSize() >>> Bio.SECTOR_SHIFT));
      supplied = false;
    }
    allocArea();
    chunkIo(headerArea, 0, Bio.Op.READ, 0);
    int magic = headerArea.getInt(0);
    if (magic == 0) {
      return true;
    }
    if (magic != SNAP_MAGIC) {
      log.log(System.Logger.Level.WARNING, "Invalid or corrupt snapshot");
      throw new IOException(
          "Invalid or corrupt snapshot: magic 0x"
              + Integer.toHexString(magic)
              + " at byte 0 of "
              + cow.name()
              + " (expected: 0x70416e53 \"SnAp\")");
    }
    valid = headerArea.getInt(4);
    version = headerArea.getInt(8);
    long onDisk = Integer.toUnsignedLong(headerArea.getInt(12));
    if (onDisk == chunkSize) {
      return false;
    }
    if (supplied) {
      log.log(
          System.Logger.Level.WARNING,
          "chunk size "
              + onDisk
              + " in device metadata overrides table chunk size of "
              + chunkSize
              + ".");
    }
    try {
      setChunkSize(onDisk);
    } catch (TargetException e) {
      log.log(
          System.Logger.Level.ERROR,
          "invalid on-disk chunk size " + onDisk + ": " + e.getMessage() + ".");
      throw new IOException(
          "invalid on-disk chunk size " + onDisk + " in the header of " + cow.name(), e);
    }
    allocArea();
    return false;
  }

  private void writeHeader() throws IOException {
    ByteBuffer h = headerArea;
    for (int i = 0; i < h.capacity(); i += 8) {
      h.putLong(i, 0);
    }
    h.putInt(0, SNAP_MAGIC);
    h.putInt(4, valid);
    h.putInt(8, version);
    h.putInt(12, chunkSize);
    chunkIo(h, 0, Bio.Op.WRITE, 0);
  }

  @Override
  int readMetadata(ExceptionSink sink) throws IOException {
    boolean fresh = readHeader();
    exceptionsPerArea = (chunkSize << Bio.SECTOR_SHIFT) / EXCEPTION_BYTES;
    if (fresh) {
      writeHeader();
      currentArea = 0;
      zeroMemoryArea();
      zeroDiskArea(0);
      return 0;
    }
    if (version != DISK_VERSION) {
      log.log(System.Logger.Level.WARNING, "unable to handle snapshot disk version " + version);
      throw new IOException(
          "unable to handle snapshot disk version " + version + " in the header of " + cow.name());
    }
    if (valid == 0) {
      return 1;
    }
    readExceptions(sink);
    return 0;
  }

  /** Area after area until one that is not full ({@code read_exceptions}). */
  private void readExceptions(ExceptionSink sink) throws IOException {
    ByteBuffer buf =
        ByteBuffer.allocate(chunkSize << Bio.SECTOR_SHIFT).order(ByteOrder.LITTLE_ENDIAN);
    boolean full = true;
    for (currentArea = 0; full; currentArea++) {
      chunkIo(buf, areaLocation(currentArea), Bio.Op.READ, 0);
      full = true;
      for (int i = 0; i < exceptionsPerArea; i++) {
        long oldChunk = buf.getLong(i * EXCEPTION_BYTES);
        long newChunk = buf.getLong(i * EXCEPTION_BYTES + 8);
        if (newChunk == 0) {
          currentCommitted = i;
          full = false;
          break;
        }
        if (Long.compareUnsigned(nextFree, newChunk) <= 0) {
          nextFree = newChunk + 1;
        }
        sink.add(oldChunk, newChunk);
      }
      if (!full) {
        area.clear();
        area.put(buf.clear());
        area.clear();
      }
    }
    currentArea--;
    skipMetadata();
  }

  @Override
  boolean prepareException(Snapshot.Pending pe) {
    if (cow.sectors() < (nextFree + 1) * chunkSize) {
      return false;
    }
    pe.newChunk = nextFree;
    nextFree++;
    skipMetadata();
    pendingCount.incrementAndGet();
    return true;
  }

  @Override
  void commitException(Snapshot.Pending pe, boolean ok, CommitCallback callback) {
    if (!ok) {
      valid = 0;
    }
    int at = currentCommitted++ * EXCEPTION_BYTES;
    area.putLong(at, pe.oldChunk);
    area.putLong(at + 8, pe.newChunk);
    callbacks.add(callback);
    if (pendingCount.decrementAndGet() != 0 && currentCommitted != exceptionsPerArea) {
      return;
    }
    if (currentCommitted == exceptionsPerArea) {
      try {
        zeroDiskArea(currentArea + 1);
      } catch (IOException e) {
        log.log(System.Logger.Level.ERROR, "zeroing the next metadata area failed", e);
        valid = 0;
      }
    }
    if (valid != 0) {
      try {
        areaIo(Bio.Op.WRITE, Bio.PREFLUSH | Bio.FUA | Bio.SYNC);
      } catch (IOException e) {
        log.log(
            System.Logger.Level.ERROR, "committing metadata area " + currentArea + " failed", e);
        valid = 0;
      }
    }
    if (currentCommitted == exceptionsPerArea) {
      currentCommitted = 0;
      currentArea++;
      zeroMemoryArea();
    }
    boolean success = valid != 0;
    // the store is settled before the callbacks run: the last one may let a handover give the
    // store to another snapshot, whose worker then uses it at once
    CommitCallback[] run = callbacks.toArray(new CommitCallback[0]);
    callbacks.clear();
    for (CommitCallback cb : run) {
      cb.done(success);
    }
  }

  @Override
  boolean supportsMerge() {
    return true;
  }

  @Override
  int prepareMerge(long[] last) throws IOException {
    if (currentCommitted == 0) {
      if (currentArea == 0) {
        return 0;
      }
      currentArea--;
      areaIo(Bio.Op.READ, 0);
      currentCommitted = exceptionsPerArea;
    }
    long lastOld = area.getLong((currentCommitted - 1) * EXCEPTION_BYTES);
    long lastNew = area.getLong((currentCommitted - 1) * EXCEPTION_BYTES + 8);
    last[0] = lastOld;
    last[1] = lastNew;
    int n;
    for (n = 1; n < currentCommitted; n++) {
      int at = (currentCommitted - 1 - n) * EXCEPTION_BYTES;
      if (area.getLong(at) != lastOld - n || area.getLong(at + 8) != lastNew - n) {
        break;
      }
    }
    return n;
  }

  @Override
  void commitMerge(int n) throws IOException {
    if (n > currentCommitted) {
      throw new IllegalStateException("merged " + n + " > " + currentCommitted + " committed");
    }
    for (int i = 0; i < n; i++) {
      int at = (currentCommitted - 1 - i) * EXCEPTION_BYTES;
      area.putLong(at, 0);
      area.putLong(at + 8, 0);
    }
    areaIo(Bio.Op.WRITE, Bio.PREFLUSH | Bio.FUA);
    currentCommitted -= n;
    nextFree = areaLocation(currentArea) + currentCommitted + 1;
  }

  @Override
  void dropSnapshot() {
    valid = 0;
  }

  @Override
  void writeInvalid() throws IOException {
    writeHeader();
  }

  @Override
  long[] usage() {
    return new long[] {
      cow.sectors(), nextFree * chunkSize, (currentArea + 1 + HEADER_CHUNKS) * chunkSize
    };
  }

  @Override
  String tableStatus() {
    return (userspaceSupportsOverflow ? " PO " : " P ") + chunkSize;
  }
}
