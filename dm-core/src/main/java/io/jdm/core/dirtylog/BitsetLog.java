package io.jdm.core.dirtylog;

import io.jdm.core.ArgSet;
import io.jdm.core.TargetException;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * What the kernel's {@code core} and {@code disk} logs share ({@code struct log_c} and the {@code
 * core_*} functions of {@code drivers/md/dm-log.c}): three bitsets of one bit per region.
 *
 * <ul>
 *   <li>{@code clean}: 1 = no write can be in flight to the region. Starts all ones; the disk log
 *       loads it from its device.
 *   <li>{@code sync}: 1 = the legs agree. Starts all zeros (all ones with {@code nosync}); the disk
 *       log copies it from {@code clean} when it resumes.
 *   <li>{@code recovering}: 1 = handed out by {@link #resyncWork()} and not yet settled.
 * </ul>
 *
 * <p>Bit {@code i} of a bitset is bit {@code i & 7} of byte {@code i >> 3} (the kernel's {@code
 * __set_bit_le}); the bits live in {@code long}s, word {@code w} holding bytes {@code 8w..8w+7}
 * little-endian, so a bitset's bytes are its words written little-endian. A bitset covers the
 * region count rounded up to 32 bits ({@code bitset_size}). As in the kernel, setting any bit marks
 * the log "touched cleaned" and clearing any bit "touched dirtied"; a persistent log writes itself
 * only when touched, and flushes its device only when touched dirtied.
 *
 * <p>Thread model: the bitsets, counters and touched flags are guarded by this object's monitor;
 * subclasses never do I/O while holding it.
 */
abstract class BitsetLog implements DirtyLog {
  private static final VarHandle LONG_LE =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

  /**
   * Most regions a log covers: {@code Integer.MAX_VALUE}, so a bitset's bytes fit a Java array (the
   * kernel counts regions in an {@code unsigned int}).
   */
  static final long MAX_REGIONS = Integer.MAX_VALUE;

  /** The log's resync argument ({@code enum sync}). */
  enum Sync {
    /** Resynchronise regions not known to be clean. */
    DEFAULT,
    /** {@code nosync}: every region is known to be in sync. */
    NOSYNC,
    /** {@code sync}: resynchronise everything. */
    FORCESYNC
  }

  /** The parsed {@code <region_size> [[no]sync]} arguments. */
  record Params(long regionSize, Sync sync, long regionCount) {}

  /**
   * Parses {@code <region_size> [[no]sync]} in the kernel's order ({@code create_log_context}): the
   * count, then the sync word, then the region size, which must be a power of two from 2 to the
   * target length.
   */
  static Params parse(String[] argv, long targetLength) {
    if (argv.length < 1 || argv.length > 2) {
      throw new TargetException("wrong number of arguments to dirty region log");
    }
    Sync sync = Sync.DEFAULT;
    if (argv.length > 1) {
      if (argv[1].equals("sync")) {
        sync = Sync.FORCESYNC;
      } else if (argv[1].equals("nosync")) {
        sync = Sync.NOSYNC;
      } else {
        throw new TargetException("unrecognised sync argument to dirty region log: " + argv[1]);
      }
    }
    long regionSize = ArgSet.parseDecimal(argv[0]);
    if (regionSize < 2
        || regionSize > 0xFFFF_FFFFL
        || regionSize > targetLength
        || Long.bitCount(regionSize) != 1) {
      throw new TargetException("invalid region size " + argv[0]);
    }
    long regionCount = (targetLength + regionSize - 1) / regionSize;
    if (regionCount > MAX_REGIONS) {
      // The kernel would truncate the count to 32 bits; jdm refuses instead.
      throw new TargetException("invalid region size " + argv[0]);
    }
    return new Params(regionSize, sync, regionCount);
  }

  private final DirtyLogType type;
  final long regionSize;
  final int regionCount;
  final Sync sync;

  /** {@code bitset_size}: bytes of one bitset, the region count rounded up to 32 bits. */
  final int bitsetBytes;

  final long[] clean; // guarded by this
  private final long[] syncBits; // guarded by this
  private final long[] recovering; // guarded by this
  boolean touchedDirtied; // guarded by this
  boolean touchedCleaned; // guarded by this

  /** A flush callback failed: no region can be marked clean again ({@code flush_failed}). */
  boolean flushFailed; // guarded by this

  private long syncCount; // guarded by this
  private long syncSearch; // guarded by this
  private volatile boolean closed;

  BitsetLog(DirtyLogType type, Params p) {
    this.type = type;
    this.regionSize = p.regionSize();
    this.regionCount = (int) p.regionCount();
    this.sync = p.sync();
    this.bitsetBytes = (int) (((p.regionCount() + 31) & ~31L) >>> 3);
    int words = (bitsetBytes + 7) >>> 3;
    this.clean = new long[words];
    this.syncBits = new long[words];
    this.recovering = new long[words];
    fillBitset(clean);
    if (sync == Sync.NOSYNC) {
      fillBitset(syncBits);
      syncCount = regionCount;
    }
  }

  /** Sets every bit of the {@code bitset_size} bytes ({@code memset(bits, -1, bitset_size)}). */
  private void fillBitset(long[] words) {
    int bits = bitsetBytes << 3;
    for (int i = 0; i < bits >>> 6; i++) {
      words[i] = -1L;
    }
    if ((bits & 63) != 0) {
      words[bits >>> 6] = (1L << (bits & 63)) - 1;
    }
  }

  static boolean testBit(long[] words, long bit) {
    return (words[(int) (bit >>> 6)] & (1L << bit)) != 0;
  }

  /** {@code log_set_bit}: the log is "touched cleaned". */
  final void setBit(long[] words, long bit) {
    words[(int) (bit >>> 6)] |= 1L << bit;
    touchedCleaned = true;
  }

  /** {@code log_clear_bit}: the log is "touched dirtied". */
  final void clearBit(long[] words, long bit) {
    words[(int) (bit >>> 6)] &= ~(1L << bit);
    touchedDirtied = true;
  }

  /** The first zero bit in {@code [from, limit)}, or {@code limit}. */
  static long nextZeroBit(long[] words, long from, long limit) {
    if (from >= limit) {
      return limit;
    }
    int i = (int) (from >>> 6);
    long word = ~words[i] & (-1L << from);
    while (true) {
      if (word != 0) {
        return Math.min(((long) i << 6) + Long.numberOfTrailingZeros(word), limit);
      }
      if (++i >= words.length) {
        return limit;
      }
      word = ~words[i];
    }
  }

  /** Writes the {@code bitset_size} bytes of {@code words} into {@code dst} at {@code offset}. */
  final void exportBitset(long[] words, byte[] dst, int offset) {
    int full = bitsetBytes >>> 3;
    for (int i = 0; i < full; i++) {
      LONG_LE.set(dst, offset + (i << 3), words[i]);
    }
    for (int b = full << 3; b < bitsetBytes; b++) {
      dst[offset + b] = (byte) (words[b >>> 3] >>> ((b & 7) << 3));
    }
  }

  /** Reads the {@code bitset_size} bytes at {@code offset} of {@code src} into {@code words}. */
  final void importBitset(byte[] src, int offset, long[] words) {
    int full = bitsetBytes >>> 3;
    for (int i = 0; i < full; i++) {
      words[i] = (long) LONG_LE.get(src, offset + (i << 3));
    }
    if (full < words.length) {
      long w = 0;
      for (int b = full << 3; b < bitsetBytes; b++) {
        w |= (src[offset + b] & 0xFFL) << ((b & 7) << 3);
      }
      words[full] = w;
    }
  }

  /** Copies {@code clean} to {@code sync} and counts it: what a resume from disk does. */
  final void syncFromClean() {
    System.arraycopy(clean, 0, syncBits, 0, clean.length);
    long n = 0;
    for (long w : clean) {
      n += Long.bitCount(w);
    }
    syncCount = n;
    syncSearch = 0;
  }

  private void checkRegion(long region) {
    Objects.checkIndex(region, regionCount);
  }

  final void ensureOpen() {
    if (closed) {
      throw new IllegalStateException(type.name() + " dirty log is closed");
    }
  }

  @Override
  public final DirtyLogType type() {
    return type;
  }

  @Override
  public final long regionSize() {
    return regionSize;
  }

  @Override
  public final long regionCount() {
    return regionCount;
  }

  @Override
  public void resume() throws IOException {
    ensureOpen();
    synchronized (this) {
      syncSearch = 0;
    }
  }

  @Override
  public final synchronized boolean isClean(long region) {
    checkRegion(region);
    return testBit(clean, region);
  }

  @Override
  public final synchronized SyncState inSync(long region, boolean canBlock) {
    checkRegion(region);
    return testBit(syncBits, region) ? SyncState.IN_SYNC : SyncState.NOT_IN_SYNC;
  }

  @Override
  public final synchronized void markRegion(long region) {
    checkRegion(region);
    clearBit(clean, region);
  }

  @Override
  public final synchronized void clearRegion(long region) {
    checkRegion(region);
    if (!flushFailed) {
      setBit(clean, region);
    }
  }

  @Override
  public final synchronized long resyncWork() {
    if (syncSearch >= regionCount) {
      return NO_REGION;
    }
    long region;
    do {
      region = nextZeroBit(syncBits, syncSearch, regionCount);
      syncSearch = region + 1;
      if (region >= regionCount) {
        return NO_REGION;
      }
    } while (testBit(recovering, region));
    setBit(recovering, region);
    return region;
  }

  @Override
  public final synchronized void setRegionSync(long region, boolean inSync) {
    checkRegion(region);
    clearBit(recovering, region);
    if (inSync) {
      // As the kernel: counted even if the region was in sync already. A region hash only
      // reports regions it recovered, which were not.
      setBit(syncBits, region);
      syncCount++;
    } else if (testBit(syncBits, region)) {
      syncCount--;
      clearBit(syncBits, region);
    }
  }

  @Override
  public final synchronized long syncCount() {
    return syncCount;
  }

  /** {@code DMEMIT_SYNC}: {@code "sync "}, {@code "nosync "} or nothing. */
  final String syncArgument() {
    switch (sync) {
      case NOSYNC:
        return "nosync ";
      case FORCESYNC:
        return "sync ";
      default:
        return "";
    }
  }

  @Override
  public void close() {
    closed = true;
  }

  @Override
  public String toString() {
    return type.name() + " dirty log [" + regionCount + " regions of " + regionSize + " sectors]";
  }
}
