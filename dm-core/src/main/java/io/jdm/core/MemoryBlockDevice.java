package io.jdm.core;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A sparse device in memory, on the Java heap or in direct (off-heap) memory, as the kernel's
 * {@code brd} ram disk. Memory is taken one chunk at a time on first write; reads of chunks never
 * written return zeros without allocating; discard and write-zeroes give whole chunks back.
 *
 * <p>After a discard the range reads as zeros. Flushes succeed at once (the memory is the medium).
 * Chunks never written, or given back, are holes reading as zeros in {@link #extents} ({@link
 * AllocationMap}).
 *
 * <p>With {@link Builder#volatileCache(boolean)} the device behaves as a disk with a volatile write
 * cache that can lose power: writes, discards and write-zeroes are visible at once but stay
 * <em>unsynced</em> until a flush (or, for a FUA write, until it completes); {@link
 * #dropUnsynced()} loses every unsynced change, as a power cut does, and {@link #durableCopy} gives
 * the state a power cut would leave without touching this device. The cache is tracked per chunk (a
 * chunk's content before its first unsynced change is kept), and bios are serialized under one
 * lock: a testing device, not a fast one.
 *
 * <p>Thread-safe: any number of threads may submit; each bio completes on its submitting thread.
 * Concurrent writes to the same bytes land in an unspecified order.
 */
public final class MemoryBlockDevice extends AbstractBlockDevice implements AllocationMap {
  private static final int LEAF_SHIFT = 10;
  private static final int LEAF_SIZE = 1 << LEAF_SHIFT;
  private static final VarHandle LEAVES = MethodHandles.arrayElementVarHandle(Object[][].class);
  private static final VarHandle CHUNKS = MethodHandles.arrayElementVarHandle(Object[].class);

  private final boolean direct;
  private final int chunkShift;
  private final int chunkSize;
  private final Object[][] leaves;
  private final AtomicLong allocated = new AtomicLong();

  /**
   * Volatile cache only: chunk index to its durable content (a private copy, or {@link #UNWRITTEN}
   * for a chunk that was not allocated), for every chunk changed since the last flush; guarded by
   * itself. Null without a volatile cache.
   */
  private final Map<Long, Object> durable;

  private static final Object UNWRITTEN = new Object();

  private MemoryBlockDevice(Builder b) {
    super(
        b.name,
        b.sectors,
        IoLimits.builder()
            .logicalBlockSize(b.logicalBlockSize)
            .physicalBlockSize(b.logicalBlockSize)
            .maxDiscardSectors(IoLimits.UNLIMITED)
            .discardGranularity(b.logicalBlockSize)
            .maxWriteZeroesSectors(IoLimits.UNLIMITED)
            .writeCache(b.writeCache)
            .fua(b.writeCache)
            .build(),
        false);
    this.direct = b.direct;
    this.chunkSize = b.chunkSize;
    this.chunkShift = Integer.numberOfTrailingZeros(b.chunkSize);
    long bytes = b.sectors << Bio.SECTOR_SHIFT;
    long chunks = (bytes + chunkSize - 1) >>> chunkShift;
    long leafCount = (chunks + LEAF_SIZE - 1) >>> LEAF_SHIFT;
    if (leafCount > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("device of " + b.sectors + " sectors is too large");
    }
    this.leaves = new Object[(int) leafCount][];
    this.durable = b.volatileCache ? new HashMap<>() : null;
  }

  /** A heap-backed device of {@code sectors} sectors with 64 KiB chunks. */
  public static MemoryBlockDevice create(String name, long sectors) {
    return builder(name, sectors).build();
  }

  public static Builder builder(String name, long sectors) {
    return new Builder(name, sectors);
  }

  /** Bytes of memory currently holding data. */
  public long allocatedBytes() {
    return allocated.get() * chunkSize;
  }

  public boolean isDirect() {
    return direct;
  }

  /** Whether this device has a volatile cache ({@link Builder#volatileCache(boolean)}). */
  public boolean hasVolatileCache() {
    return durable != null;
  }

  /**
   * Loses every change not yet made durable by a flush or a FUA write, as a power cut does: each
   * chunk changed since the last flush gets back its content from then (FUA writes included). Bios
   * may keep coming; they see the device after the loss.
   *
   * @return the number of chunks that lost changes
   * @throws IllegalStateException without a volatile cache
   */
  public int dropUnsynced() {
    Map<Long, Object> d = requireVolatileCache();
    synchronized (d) {
      int n = d.size();
      for (Map.Entry<Long, Object> e : d.entrySet()) {
        long c = e.getKey();
        Object keep = e.getValue();
        Object[] leaf = leafForWrite(c);
        int i = (int) (c & (LEAF_SIZE - 1));
        Object was = CHUNKS.getAndSet(leaf, i, keep == UNWRITTEN ? null : keep);
        if (was == null && keep != UNWRITTEN) {
          allocated.incrementAndGet();
        } else if (was != null && keep == UNWRITTEN) {
          allocated.decrementAndGet();
        }
      }
      d.clear();
      return n;
    }
  }

  /**
   * A new device, named {@code name}, holding what this one would hold after a power cut now (its
   * durable content): same size, options and volatile cache, nothing unsynced. This device is not
   * changed.
   *
   * @throws IllegalStateException without a volatile cache
   */
  public MemoryBlockDevice durableCopy(String name) {
    Map<Long, Object> d = requireVolatileCache();
    MemoryBlockDevice copy =
        new Builder(name, sectors())
            .direct(direct)
            .chunkSize(chunkSize)
            .logicalBlockSize(limits().logicalBlockSize())
            .volatileCache(true)
            .build();
    synchronized (d) {
      for (int li = 0; li < leaves.length; li++) {
        Object[] leaf = (Object[]) LEAVES.getAcquire(leaves, li);
        for (int i = 0; leaf != null && i < LEAF_SIZE; i++) {
          long c = ((long) li << LEAF_SHIFT) | i;
          if (!d.containsKey(c)) {
            copy.putChunk(c, CHUNKS.getAcquire(leaf, i));
          }
        }
      }
      for (Map.Entry<Long, Object> e : d.entrySet()) {
        copy.putChunk(e.getKey(), e.getValue());
      }
    }
    return copy;
  }

  private void putChunk(long c, Object src) {
    if (src == null || src == UNWRITTEN) {
      return;
    }
    Object dst = chunkForWrite(c);
    if (direct) {
      ((ByteBuffer) dst).put(0, (ByteBuffer) src, 0, chunkSize);
    } else {
      System.arraycopy((byte[]) src, 0, (byte[]) dst, 0, chunkSize);
    }
  }

  private Map<Long, Object> requireVolatileCache() {
    if (durable == null) {
      throw new IllegalStateException(name() + " has no volatile cache (see volatileCache)");
    }
    return durable;
  }

  @Override
  protected void doSubmit(Bio bio) {
    if (durable != null) {
      synchronized (durable) {
        applyCached(bio);
      }
    } else {
      apply(bio);
    }
    bio.complete(BlockStatus.OK);
  }

  /** Volatile cache: remember each chunk's durable content before its first unsynced change. */
  private void applyCached(Bio bio) {
    switch (bio.op()) {
      case FLUSH:
        durable.clear();
        break;
      case WRITE:
        if (bio.hasFlag(Bio.PREFLUSH)) {
          durable.clear();
        }
        keepDurable(bio.sector(), bio.sectors());
        break;
      case DISCARD:
      case WRITE_ZEROES:
        keepDurable(bio.sector(), bio.sectors());
        break;
      default:
        break;
    }
    apply(bio);
    if (bio.op() == Bio.Op.WRITE && bio.hasFlag(Bio.FUA)) {
      makeDurable(bio.sector(), bio.sectors());
    }
  }

  private void keepDurable(long sector, int sectors) {
    if (sectors == 0) {
      return;
    }
    long first = (sector << Bio.SECTOR_SHIFT) >>> chunkShift;
    long last = (((sector + sectors) << Bio.SECTOR_SHIFT) - 1) >>> chunkShift;
    for (long c = first; c <= last; c++) {
      if (!durable.containsKey(c)) {
        Object chunk = chunk(c);
        durable.put(c, chunk == null ? UNWRITTEN : copyOf(chunk));
      }
    }
  }

  /** A FUA write's chunks: what they hold now is durable, their other unsynced changes are not. */
  private void makeDurable(long sector, int sectors) {
    long pos = sector << Bio.SECTOR_SHIFT;
    long left = (long) sectors << Bio.SECTOR_SHIFT;
    while (left > 0) {
      long c = pos >>> chunkShift;
      int off = (int) (pos & (chunkSize - 1));
      int n = (int) Math.min(left, chunkSize - off);
      Object keep = durable.get(c);
      if (keep != null) {
        if (keep == UNWRITTEN) {
          keep = direct ? ByteBuffer.allocateDirect(chunkSize) : new byte[chunkSize];
          durable.put(c, keep);
        }
        Object now = chunk(c);
        if (direct) {
          ((ByteBuffer) keep).put(off, (ByteBuffer) now, off, n);
        } else {
          System.arraycopy((byte[]) now, off, (byte[]) keep, off, n);
        }
      }
      pos += n;
      left -= n;
    }
  }

  private Object copyOf(Object chunk) {
    if (direct) {
      ByteBuffer copy = ByteBuffer.allocateDirect(chunkSize);
      copy.put(0, (ByteBuffer) chunk, 0, chunkSize);
      return copy;
    }
    return ((byte[]) chunk).clone();
  }

  private void apply(Bio bio) {
    switch (bio.op()) {
      case READ:
        read(bio);
        break;
      case WRITE:
        write(bio);
        break;
      case FLUSH:
        break;
      case DISCARD:
        zero(bio.sector(), bio.sectors(), false);
        break;
      case WRITE_ZEROES:
        zero(bio.sector(), bio.sectors(), bio.hasFlag(Bio.NOUNMAP));
        break;
      default:
        throw new AssertionError(bio.op());
    }
  }

  private void read(Bio bio) {
    ByteBuffer data = bio.data();
    int index = bio.dataOffset();
    long pos = bio.sector() << Bio.SECTOR_SHIFT;
    int left = bio.bytes();
    while (left > 0) {
      long c = pos >>> chunkShift;
      int off = (int) (pos & (chunkSize - 1));
      int n = Math.min(left, chunkSize - off);
      Object chunk = chunk(c);
      if (chunk == null) {
        Bio.fillZeros(data, index, n);
      } else if (direct) {
        data.put(index, (ByteBuffer) chunk, off, n);
      } else {
        data.put(index, (byte[]) chunk, off, n);
      }
      pos += n;
      index += n;
      left -= n;
    }
  }

  private void write(Bio bio) {
    ByteBuffer data = bio.data();
    int index = bio.dataOffset();
    long pos = bio.sector() << Bio.SECTOR_SHIFT;
    int left = bio.bytes();
    while (left > 0) {
      long c = pos >>> chunkShift;
      int off = (int) (pos & (chunkSize - 1));
      int n = Math.min(left, chunkSize - off);
      Object chunk = chunkForWrite(c);
      if (direct) {
        ((ByteBuffer) chunk).put(off, data, index, n);
      } else {
        data.get(index, (byte[]) chunk, off, n);
      }
      pos += n;
      index += n;
      left -= n;
    }
  }

  private void zero(long sector, int sectors, boolean keepAllocated) {
    long pos = sector << Bio.SECTOR_SHIFT;
    long left = (long) sectors << Bio.SECTOR_SHIFT;
    while (left > 0) {
      long c = pos >>> chunkShift;
      int off = (int) (pos & (chunkSize - 1));
      int n = (int) Math.min(left, chunkSize - off);
      Object[] leaf = leaf(c);
      if (leaf != null) {
        int i = (int) (c & (LEAF_SIZE - 1));
        Object chunk = CHUNKS.getAcquire(leaf, i);
        if (chunk != null) {
          if (n == chunkSize && !keepAllocated) {
            if (CHUNKS.compareAndSet(leaf, i, chunk, null)) {
              allocated.decrementAndGet();
            }
          } else if (direct) {
            Bio.fillZeros((ByteBuffer) chunk, off, n);
          } else {
            java.util.Arrays.fill((byte[]) chunk, off, off + n, (byte) 0);
          }
        }
      }
      pos += n;
      left -= n;
    }
  }

  /** Extents per answer at most; the caller asks again from where the answer ends. */
  private static final int MAX_EXTENTS = 4096;

  /** Unallocated chunks are holes reading as zeros, allocated ones data. */
  @Override
  public List<Extent> extents(long sector, long sectors) {
    long end = Math.min(sector + sectors, sectors());
    List<Extent> out = new ArrayList<>();
    int chunkSectors = chunkSize >>> Bio.SECTOR_SHIFT;
    long s = sector;
    while (s < end && out.size() < MAX_EXTENTS) {
      long c = (s << Bio.SECTOR_SHIFT) >>> chunkShift;
      long next;
      boolean hole;
      if (leaf(c) == null) {
        // a whole leaf of chunks never written
        next = ((c >>> LEAF_SHIFT) + 1) << LEAF_SHIFT;
        hole = true;
      } else {
        next = c + 1;
        hole = chunk(c) == null;
      }
      long stop = Math.min(end, next * chunkSectors);
      AllocationMap.append(out, hole ? Extent.hole(stop - s) : Extent.data(stop - s));
      s = stop;
    }
    return out;
  }

  private Object[] leaf(long chunk) {
    return (Object[]) LEAVES.getAcquire(leaves, (int) (chunk >>> LEAF_SHIFT));
  }

  private Object chunk(long c) {
    Object[] leaf = leaf(c);
    return leaf == null ? null : CHUNKS.getAcquire(leaf, (int) (c & (LEAF_SIZE - 1)));
  }

  private Object[] leafForWrite(long c) {
    int li = (int) (c >>> LEAF_SHIFT);
    Object[] leaf = (Object[]) LEAVES.getAcquire(leaves, li);
    if (leaf == null) {
      Object[] fresh = new Object[LEAF_SIZE];
      Object[] witness = (Object[]) LEAVES.compareAndExchange(leaves, li, null, fresh);
      leaf = witness == null ? fresh : witness;
    }
    return leaf;
  }

  private Object chunkForWrite(long c) {
    Object[] leaf = leafForWrite(c);
    int i = (int) (c & (LEAF_SIZE - 1));
    Object chunk = CHUNKS.getAcquire(leaf, i);
    if (chunk != null) {
      return chunk;
    }
    Object fresh = direct ? ByteBuffer.allocateDirect(chunkSize) : new byte[chunkSize];
    Object witness = CHUNKS.compareAndExchange(leaf, i, null, fresh);
    if (witness != null) {
      return witness;
    }
    allocated.incrementAndGet();
    return fresh;
  }

  @Override
  protected void doClose() {
    for (int i = 0; i < leaves.length; i++) {
      LEAVES.setRelease(leaves, i, (Object[]) null);
    }
    allocated.set(0);
    if (durable != null) {
      synchronized (durable) {
        durable.clear();
      }
    }
  }

  /** Options for a {@link MemoryBlockDevice}. */
  public static final class Builder {
    private final String name;
    private final long sectors;
    private boolean direct;
    private int chunkSize = 64 * 1024;
    private int logicalBlockSize = Bio.SECTOR_SIZE;
    private boolean writeCache;
    private boolean volatileCache;

    private Builder(String name, long sectors) {
      this.name = name;
      if (sectors < 0 || sectors > ArgSet.MAX_SECTOR) {
        throw new IllegalArgumentException(
            "sectors " + sectors + " (expected: 0 <= sectors <= " + ArgSet.MAX_SECTOR + ")");
      }
      this.sectors = sectors;
    }

    /** Keep data in direct (off-heap) buffers instead of {@code byte[]}s. */
    public Builder direct(boolean direct) {
      this.direct = direct;
      return this;
    }

    /** Allocation unit, a power of two from 512 bytes to 16 MiB; default 64 KiB. */
    public Builder chunkSize(int bytes) {
      if (bytes < Bio.SECTOR_SIZE || bytes > (16 << 20) || Integer.bitCount(bytes) != 1) {
        throw new IllegalArgumentException(
            "chunk size " + bytes + " (expected: a power of two in [512, 16 MiB])");
      }
      this.chunkSize = bytes;
      return this;
    }

    /** 512 (default) to 65536, a power of two. */
    public Builder logicalBlockSize(int bytes) {
      IoLimits.builder().logicalBlockSize(bytes); // validates
      this.logicalBlockSize = bytes;
      return this;
    }

    /**
     * Advertise a volatile write cache with FUA, as a disk does, so that flushes and FUA writes
     * reach this device through mapped devices instead of completing at the top (they are no-ops
     * here all the same: memory is the medium). For recording and testing flush behaviour.
     */
    public Builder writeCache(boolean writeCache) {
      this.writeCache = writeCache;
      return this;
    }

    /**
     * A volatile write cache that can lose power: implies {@link #writeCache(boolean)}, and changes
     * stay unsynced until a flush or FUA write, so that {@link MemoryBlockDevice#dropUnsynced()}
     * can lose them. For crash tests.
     */
    public Builder volatileCache(boolean volatileCache) {
      this.volatileCache = volatileCache;
      if (volatileCache) {
        this.writeCache = true;
      }
      return this;
    }

    public MemoryBlockDevice build() {
      return new MemoryBlockDevice(this);
    }
  }
}
