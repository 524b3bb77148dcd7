package io.jdm.core.bufio;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockIOException;
import io.jdm.core.BlockStatus;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A bounded cache of fixed-size metadata blocks over a {@link BlockDevice}: the kernel's {@code
 * dm-bufio} ({@code drivers/md/dm-bufio.c}, {@code include/linux/dm-bufio.h}) with the per-block
 * read and write locks and the validators of persistent-data's block manager ({@code
 * drivers/md/persistent-data/dm-block-manager.c}).
 *
 * <p>Blocks are numbered from 0 at {@link Builder#startSector} ({@code dm_bufio_set_sector_offset})
 * and are {@link #blockSize()} bytes: any multiple of 512 that is also a multiple of the device's
 * logical block size, as {@code dm_bufio_client_create} accepts (powers of two are not required).
 *
 * <p>The contract:
 *
 * <ul>
 *   <li>{@link #read} and {@link #readForWrite} return a {@link HeldBlock} holding the block's
 *       bytes as on the device, checked by the validator, or throw: {@link BlockIOException} for a
 *       failed read (each waiter gets it; the buffer is dropped when the last one lets go, so the
 *       next read tries the device again), {@link CorruptBlockException} for a block the validator
 *       rejects (never returned, never cached as valid). A block is read at most once however many
 *       threads ask for it at the same time: latecomers wait for the read in flight.
 *   <li>{@link #newBlock} returns an exclusive hold on a zeroed block, already dirty, without
 *       reading ({@code dm_bufio_new} with {@code dm_bm_write_lock_zero}).
 *   <li>A held block is never evicted. Beyond {@link Builder#maxBlocks} resident blocks, the least
 *       recently used unheld clean block is dropped; when every unheld block is dirty, the oldest
 *       is written back first and then dropped, so dirty data is never lost to eviction. Blocks
 *       that are held (or being read, or whose write-back failed) may push the cache over its bound
 *       for as long as they are held: a full cache makes nobody wait. As in the kernel, write-back
 *       of every idle dirty block starts when more than 3/4 of the bound is dirty.
 *   <li>{@link #writeDirty} writes every block dirty when it is called, waits for those writes,
 *       then flushes the device ({@code dm_bufio_write_dirty_buffers}); it throws the first write
 *       error after the flush. A block whose write failed stays dirty, is not evicted, and is tried
 *       again by the next {@code writeDirty}.
 *   <li>Writes cover the dirty range rounded out to 4 KiB ({@code DM_BUFIO_WRITE_ALIGN}, or the
 *       logical block size if larger); a block with a validator is written whole.
 *   <li>{@link #close()} refuses (with {@link IllegalStateException}, changing nothing) while any
 *       block is held; otherwise it writes the dirty blocks back and flushes as {@link #writeDirty}
 *       does, and ends the client even if that fails (the exception then says which write failed,
 *       and that block's change is lost). It does not close the device.
 * </ul>
 *
 * <p>Block locks, as the kernel's block manager: any number of shared holds ({@link #read}) or one
 * exclusive hold ({@link #readForWrite}, {@link #newBlock}). A conflicting request waits ({@link
 * #read}, {@link #readForWrite}, {@link #newBlock}) or returns {@code null} ({@link #tryRead},
 * {@link #tryReadForWrite}). Waiting writers get no priority over new readers. A thread asking
 * again for a block it already holds gets {@link IllegalStateException} (where the kernel's
 * debugging build reports {@code -EINVAL}), because it would wait for itself. An exclusive hold
 * also waits for a write-back of the block in flight; shared holds do not.
 *
 * <p>Thread model: every method may be called from any thread. One lock guards the cache's
 * bookkeeping and is never held during I/O or while a validator runs; each block has a condition on
 * which its waiters park. Reads and writes are submitted by the calling thread and complete on
 * whichever thread the device completes them; waits are uninterruptible (a buffer belongs to the
 * device until its bio completes), keeping the thread's interrupt status.
 */
public final class BufioClient implements Closeable {
  /** Largest block size accepted; the kernel has no limit, a Java buffer has one. */
  public static final int MAX_BLOCK_SIZE = 1 << 30;

  /** The default cache bound in bytes (the kernel takes 2% of memory for all its clients). */
  public static final long DEFAULT_CACHE_BYTES = 16L << 20;

  /** The fewest blocks the default bound keeps ({@code DM_BUFIO_MIN_BUFFERS}). */
  public static final int MIN_BUFFERS = 8;

  /** Writes of part of a block are rounded out to this ({@code DM_BUFIO_WRITE_ALIGN}). */
  static final int WRITE_ALIGN = 4096;

  private static final System.Logger LOG = System.getLogger(BufioClient.class.getName());

  private final BlockDevice device;
  private final int blockSize;
  private final int sectorsPerBlock;
  private final long start;
  private final int maxBlocks;
  private final int writeAlign;

  private final ReentrantLock lock = new ReentrantLock();
  // Everything below is guarded by lock.
  private final HashMap<Long, Buffer> map = new HashMap<>();

  /** Sentinel of the LRU ring: {@code lru.next} is the least recently used. */
  private final Buffer lru;

  private final LinkedHashSet<Buffer> dirty = new LinkedHashSet<>();
  private boolean closing;
  private boolean closed;

  /** One cached block. Guarded by the client's lock, except {@link #data}'s bytes (see holds). */
  static final class Buffer {
    final long nr;
    final ByteBuffer data;
    final Condition changed;
    Buffer prev;
    Buffer next;
    boolean mapped;

    /** Holds plus threads waiting for this buffer: a pinned buffer is never dropped. */
    int pins;

    int readers;

    /** The threads of the shared holds, for the recursion check. */
    final List<Thread> readerThreads = new ArrayList<>(1);

    Thread writer;
    boolean reading;
    BlockStatus readError;
    boolean writing;
    boolean dirty;
    int dirtyStart;
    int dirtyEnd;

    /** Status of the last write-back if it failed, {@code null} after a good one. */
    BlockStatus writeError;

    BlockValidator validator;

    /** Failed its check: dropped once nobody pins it. */
    boolean invalid;

    Buffer(long nr, ByteBuffer data, Condition changed) {
      this.nr = nr;
      this.data = data;
      this.changed = changed;
    }

    ByteBuffer view(boolean writable) {
      ByteBuffer v = writable ? data.duplicate() : data.asReadOnlyBuffer();
      return v.order(ByteOrder.LITTLE_ENDIAN).clear();
    }

    boolean idleClean() {
      return pins == 0 && !dirty && !reading && !writing;
    }
  }

  private BufioClient(Builder b) {
    this.device = b.device;
    this.blockSize = b.blockSize;
    this.sectorsPerBlock = b.blockSize >>> Bio.SECTOR_SHIFT;
    this.start = b.startSector;
    this.maxBlocks = b.maxBlocks;
    this.writeAlign = Math.max(WRITE_ALIGN, device.limits().logicalBlockSize());
    this.lru = new Buffer(-1, null, null);
    lru.prev = lru;
    lru.next = lru;
  }

  /** A builder for a client of {@code blockSize}-byte blocks on {@code device}. */
  public static Builder builder(BlockDevice device, int blockSize) {
    return new Builder(device, blockSize);
  }

  /** Configures a {@link BufioClient}. */
  public static final class Builder {
    private final BlockDevice device;
    private final int blockSize;
    private long startSector;
    private int maxBlocks;

    private Builder(BlockDevice device, int blockSize) {
      this.device = Objects.requireNonNull(device, "device");
      this.blockSize = blockSize;
    }

    /**
     * Where block 0 starts on the device, in 512-byte sectors ({@code dm_bufio_set_sector_offset});
     * a multiple of the logical block size. Default 0.
     */
    public Builder startSector(long sector) {
      this.startSector = sector;
      return this;
    }

    /**
     * The cache bound in blocks (at least 1). Default {@link #DEFAULT_CACHE_BYTES} worth of blocks,
     * at least {@link #MIN_BUFFERS}.
     */
    public Builder maxBlocks(int blocks) {
      if (blocks < 1) {
        throw new IllegalArgumentException("cache of " + blocks + " blocks (expected: >= 1)");
      }
      this.maxBlocks = blocks;
      return this;
    }

    /**
     * @throws IllegalArgumentException if the block size is not a multiple of 512 and of the
     *     device's logical block size (up to {@link #MAX_BLOCK_SIZE}), or the start sector is not
     *     aligned or lies beyond the device
     */
    public BufioClient build() {
      int lbs = device.limits().logicalBlockSize();
      if (blockSize < Bio.SECTOR_SIZE
          || blockSize > MAX_BLOCK_SIZE
          || blockSize % Bio.SECTOR_SIZE != 0
          || blockSize % lbs != 0) {
        throw new IllegalArgumentException(
            "bufio on "
                + device.name()
                + ": block size "
                + blockSize
                + " (expected: a multiple of 512 and of the logical block size "
                + lbs
                + ", at most "
                + MAX_BLOCK_SIZE
                + ")");
      }
      long sectors = device.sectors();
      if (startSector < 0
          || startSector > sectors
          || startSector % (lbs >>> Bio.SECTOR_SHIFT) != 0) {
        throw new IllegalArgumentException(
            "bufio on "
                + device.name()
                + ": start sector "
                + startSector
                + " (expected: 0 <= start <= "
                + sectors
                + ", a multiple of "
                + (lbs >>> Bio.SECTOR_SHIFT)
                + ")");
      }
      if (maxBlocks == 0) {
        maxBlocks = (int) Math.max(MIN_BUFFERS, DEFAULT_CACHE_BYTES / blockSize);
      }
      return new BufioClient(this);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Geometry

  public BlockDevice device() {
    return device;
  }

  /** Bytes per block ({@code dm_bufio_get_block_size}). */
  public int blockSize() {
    return blockSize;
  }

  /** The sector where block 0 starts. */
  public long startSector() {
    return start;
  }

  /** The cache bound, in blocks. */
  public int maxBlocks() {
    return maxBlocks;
  }

  /**
   * Whole blocks between the start sector and the device's end ({@code dm_bufio_get_device_size}).
   */
  public long blocks() {
    long s = device.sectors() - start;
    return s <= 0 ? 0 : s / sectorsPerBlock;
  }

  // ---------------------------------------------------------------------------------------------
  // Getting blocks

  private static final int READ = 0;
  private static final int NEW = 1;
  private static final int TRY = 2;

  /**
   * A shared hold on block {@code block}, read from the device unless cached, and checked by {@code
   * validator} (may be {@code null}: no check) the first time it is used with it ({@code
   * dm_bm_read_lock}). Waits while the block is held exclusively.
   *
   * @throws BlockIOException if the read failed, or the block lies beyond the device
   * @throws CorruptBlockException if the validator rejects the block, or the block is cached as
   *     checked by another validator
   * @throws IllegalStateException if this thread already holds the block, or after close
   */
  public HeldBlock read(long block, BlockValidator validator) throws IOException {
    return acquire(block, validator, false, READ);
  }

  /**
   * An exclusive hold on block {@code block}, as {@link #read} otherwise ({@code
   * dm_bm_write_lock}). Waits while the block is held, or while a write-back of it is in flight.
   *
   * @throws IllegalStateException also if the device is read-only
   */
  public HeldBlock readForWrite(long block, BlockValidator validator) throws IOException {
    return acquire(block, validator, true, READ);
  }

  /**
   * An exclusive hold on block {@code block} filled with zeros and marked dirty, without reading it
   * ({@code dm_bufio_new}, {@code dm_bm_write_lock_zero}); {@code validator} becomes the block's
   * validator unchecked. Waits as {@link #readForWrite} does.
   *
   * @throws BlockIOException if the block lies beyond the device
   */
  public HeldBlock newBlock(long block, BlockValidator validator) throws IOException {
    return acquire(block, validator, true, NEW);
  }

  /**
   * A shared hold if the block is cached, not being read, and not held exclusively; {@code null}
   * otherwise. Never reads and never waits ({@code dm_bufio_get}, {@code dm_bm_read_try_lock}).
   *
   * @throws CorruptBlockException as {@link #read}
   */
  public HeldBlock tryRead(long block, BlockValidator validator) throws CorruptBlockException {
    return tryAcquire(block, validator, false);
  }

  /**
   * An exclusive hold if the block is cached, not being read or written, and not held; {@code null}
   * otherwise. Never reads and never waits.
   *
   * @throws CorruptBlockException as {@link #read}
   */
  public HeldBlock tryReadForWrite(long block, BlockValidator validator)
      throws CorruptBlockException {
    return tryAcquire(block, validator, true);
  }

  private HeldBlock tryAcquire(long block, BlockValidator validator, boolean exclusive)
      throws CorruptBlockException {
    try {
      return acquire(block, validator, exclusive, TRY);
    } catch (CorruptBlockException e) {
      throw e;
    } catch (IOException e) {
      throw new AssertionError("a try never does I/O", e);
    }
  }

  private HeldBlock acquire(long nr, BlockValidator v, boolean exclusive, int how)
      throws IOException {
    if (nr < 0) {
      throw new IllegalArgumentException("block " + nr + " (expected: >= 0)");
    }
    if (exclusive && device.isReadOnly()) {
      throw new IllegalStateException(
          "block " + nr + ": " + device.name() + " is read-only; no exclusive holds");
    }
    long blocks = blocks();
    if (nr >= blocks) {
      if (how == TRY) {
        return null;
      }
      throw new BlockIOException(
          BlockStatus.IOERR,
          device.name(),
          sectorOfAny(nr),
          "bufio: block "
              + nr
              + " is beyond the end ("
              + blocks
              + " blocks of "
              + blockSize
              + " bytes from sector "
              + start
              + ")");
    }
    Thread me = Thread.currentThread();
    Buffer b;
    lock.lock();
    try {
      ensureOpen();
      b = map.get(nr);
      Bio read = null;
      if (b == null) {
        if (how == TRY) {
          return null;
        }
        makeRoom();
        ensureOpen();
        b = map.get(nr);
      }
      if (b == null) {
        b = insert(nr);
        if (how == NEW) {
          b.pins = 1;
          b.writer = me;
          b.validator = v;
          markDirtyLocked(b, 0, blockSize);
          HeldBlock h = new HeldBlock(this, b, true);
          h.dirtied = true;
          return h;
        }
        b.reading = true;
        read = readBio(b);
      } else {
        if (b.writer == me || b.readerThreads.contains(me)) {
          throw new IllegalStateException(
              "block " + nr + " is already held by this thread; it would wait for itself");
        }
        if (how == TRY) {
          if (b.reading || b.readError != null || b.invalid || !available(b, exclusive)) {
            return null;
          }
        } else if (how == READ && b.readError != null && !b.reading) {
          // an earlier read failed and its waiters have not all let go: try the device again
          b.readError = null;
          b.reading = true;
          read = readBio(b);
        }
        touch(b);
      }
      b.pins++;
      if (read != null) {
        lock.unlock();
        try {
          submit(read);
        } finally {
          lock.lock();
        }
      }
      while (b.reading) {
        b.changed.awaitUninterruptibly();
      }
      if (how == READ && b.readError != null) {
        BlockStatus s = b.readError;
        unpin(b);
        throw new BlockIOException(s, device.name(), sectorOf(nr), "bufio read of block " + nr);
      }
      while (!available(b, exclusive)) {
        b.changed.awaitUninterruptibly();
      }
      if (exclusive) {
        b.writer = me;
      } else {
        b.readers++;
        b.readerThreads.add(me);
      }
      if (how == NEW) {
        Arrays.fill(b.data.array(), (byte) 0);
        b.readError = null;
        b.invalid = false;
        b.validator = v;
        markDirtyLocked(b, 0, blockSize);
        HeldBlock h = new HeldBlock(this, b, true);
        h.dirtied = true;
        return h;
      }
      if (b.validator == v) {
        return new HeldBlock(this, b, exclusive);
      }
      if (b.validator != null) {
        CorruptBlockException e = mismatch(b, v);
        dropHold(b, exclusive, me);
        throw e;
      }
    } finally {
      lock.unlock();
    }
    // First use with this validator. The hold keeps the bytes still: no exclusive holder but us.
    try {
      v.check(b.view(false), nr);
    } catch (CorruptBlockException e) {
      lock.lock();
      try {
        b.invalid = !b.dirty;
        dropHold(b, exclusive, me);
      } finally {
        lock.unlock();
      }
      throw e.at(device.name(), sectorOf(nr));
    } catch (RuntimeException | Error e) {
      lock.lock();
      try {
        dropHold(b, exclusive, me);
      } finally {
        lock.unlock();
      }
      throw e;
    }
    lock.lock();
    try {
      if (b.validator == null) {
        b.validator = v;
      } else if (b.validator != v) {
        CorruptBlockException e = mismatch(b, v);
        dropHold(b, exclusive, me);
        throw e;
      }
    } finally {
      lock.unlock();
    }
    return new HeldBlock(this, b, exclusive);
  }

  private CorruptBlockException mismatch(Buffer b, BlockValidator v) {
    String old = b.validator == null ? "none" : b.validator.name();
    String now = v == null ? "none" : v.name();
    return new CorruptBlockException(
            now, b.nr, "validator mismatch (old=" + old + " vs new=" + now + ")")
        .at(device.name(), sectorOf(b.nr));
  }

  private static boolean available(Buffer b, boolean exclusive) {
    return exclusive ? b.writer == null && b.readers == 0 && !b.writing : b.writer == null;
  }

  /**
   * Starts reading blocks {@code [block, block + count)} that are not cached, without waiting and
   * without holding them ({@code dm_bufio_prefetch}). A hint: the range is cut at the device's end,
   * and it stops where the cache would have to grow past its bound or write anything back.
   */
  public void prefetch(long block, int count) {
    if (block < 0 || count < 0) {
      throw new IllegalArgumentException(
          "prefetch of " + count + " blocks from " + block + " (expected: both >= 0)");
    }
    long end = Math.min(blocks(), block + count);
    List<Bio> reads = new ArrayList<>();
    lock.lock();
    try {
      ensureOpen();
      for (long nr = block; nr < end; nr++) {
        if (map.containsKey(nr)) {
          continue;
        }
        if (map.size() >= maxBlocks && !evictOne()) {
          break;
        }
        Buffer b = insert(nr);
        b.reading = true;
        reads.add(readBio(b));
      }
    } finally {
      lock.unlock();
    }
    for (Bio r : reads) {
      submit(r);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Holds

  void markDirty(HeldBlock h, int from, int to) {
    if (from < 0 || to > blockSize || from >= to) {
      throw new IllegalArgumentException(
          "dirty range [" + from + ", " + to + ") (expected: 0 <= from < to <= " + blockSize + ")");
    }
    lock.lock();
    try {
      if (h.released) {
        throw new IllegalStateException(h + " was released");
      }
      if (!h.isExclusive()) {
        throw new IllegalStateException(
            "block " + h.number() + " is held shared; markDirty needs an exclusive hold");
      }
      markDirtyLocked(h.buffer, from, to);
      h.dirtied = true;
    } finally {
      lock.unlock();
    }
  }

  void release(HeldBlock h) {
    Buffer b = h.buffer;
    try {
      // Still exclusive here, so nobody else sees the validator's changes being made.
      if (h.isExclusive() && h.dirtied && !h.released && b.validator != null) {
        b.validator.prepareForWrite(b.view(true), b.nr);
      }
    } finally {
      lock.lock();
      try {
        if (h.released) {
          throw new IllegalStateException(h + " was already released");
        }
        h.released = true;
        dropHold(b, h.isExclusive(), h.owner);
      } finally {
        lock.unlock();
      }
    }
  }

  private void dropHold(Buffer b, boolean exclusive, Thread owner) {
    if (exclusive) {
      b.writer = null;
    } else {
      b.readers--;
      b.readerThreads.remove(owner);
    }
    b.changed.signalAll();
    unpin(b);
  }

  private void unpin(Buffer b) {
    if (--b.pins > 0 || !b.mapped) {
      return;
    }
    if ((b.readError != null && !b.reading) || (b.invalid && !b.dirty && !b.writing)) {
      remove(b); // nothing worth keeping: the next read goes to the device
    } else if (map.size() > maxBlocks) {
      evictDownToBound();
    }
  }

  private void markDirtyLocked(Buffer b, int from, int to) {
    if (!b.dirty) {
      b.dirty = true;
      b.dirtyStart = from;
      b.dirtyEnd = to;
      dirty.add(b);
    } else {
      b.dirtyStart = Math.min(b.dirtyStart, from);
      b.dirtyEnd = Math.max(b.dirtyEnd, to);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Writing back

  /**
   * Starts writing every dirty block that is not held exclusively, without waiting ({@code
   * dm_bufio_write_dirty_buffers_async}). Failures leave the block dirty for {@link #writeDirty}.
   */
  public void writeDirtyAsync() {
    List<Bio> writes = new ArrayList<>();
    lock.lock();
    try {
      ensureOpen();
      for (Buffer b : new ArrayList<>(dirty)) {
        if (b.writer == null) {
          writes.add(startWrite(b));
        }
      }
    } finally {
      lock.unlock();
    }
    for (Bio w : writes) {
      submit(w);
    }
  }

  /**
   * Writes every block that is dirty (or being written) when called, waits for those writes, then
   * flushes the device ({@code dm_bufio_write_dirty_buffers}). A block held exclusively by another
   * thread is written when that thread releases it.
   *
   * @throws BlockIOException the first failed write (the flush's failure added as suppressed), or
   *     the flush's failure
   * @throws IllegalStateException if this thread holds a dirty block exclusively, or after close
   */
  public void writeDirty() throws IOException {
    lock.lock();
    try {
      ensureOpen();
    } finally {
      lock.unlock();
    }
    writeDirtyAndFlush();
  }

  private void writeDirtyAndFlush() throws IOException {
    Thread me = Thread.currentThread();
    List<Buffer> targets = new ArrayList<>();
    List<Bio> writes = new ArrayList<>();
    boolean[] attempted;
    lock.lock();
    try {
      for (Buffer b : dirty) {
        if (b.writer == me) {
          throw new IllegalStateException(
              "block " + b.nr + " is dirty and held exclusively by this thread; release it first");
        }
      }
      for (Buffer b = lru.next; b != lru; b = b.next) {
        if (b.dirty || b.writing) {
          targets.add(b);
        }
      }
      attempted = new boolean[targets.size()];
      for (int i = 0; i < attempted.length; i++) {
        Buffer b = targets.get(i);
        b.pins++;
        if (b.dirty && b.writer == null) {
          writes.add(startWrite(b));
          attempted[i] = true;
        }
      }
    } finally {
      lock.unlock();
    }
    for (Bio w : writes) {
      submit(w);
    }
    BlockIOException failed = null;
    lock.lock();
    try {
      for (int i = 0; i < attempted.length; i++) {
        Buffer b = targets.get(i);
        while (true) {
          if (b.writing || (b.dirty && !attempted[i] && b.writer != null)) {
            b.changed.awaitUninterruptibly();
          } else if (b.dirty && !attempted[i]) {
            Bio w = startWrite(b);
            attempted[i] = true;
            lock.unlock();
            try {
              submit(w);
            } finally {
              lock.lock();
            }
          } else {
            // clean, or dirty again after our write: failed, or changed by a newer holder
            if (b.dirty && b.writeError != null && failed == null) {
              failed =
                  new BlockIOException(
                      b.writeError, device.name(), sectorOf(b.nr), "bufio write of block " + b.nr);
            }
            break;
          }
        }
        unpin(b);
      }
    } finally {
      lock.unlock();
    }
    try {
      device.flush();
    } catch (IOException e) {
      if (failed == null) {
        throw e;
      }
      failed.addSuppressed(e);
    }
    if (failed != null) {
      throw failed;
    }
  }

  /** Sends an empty flush to the device ({@code dm_bufio_issue_flush}). */
  public void flush() throws IOException {
    lock.lock();
    try {
      ensureOpen();
    } finally {
      lock.unlock();
    }
    device.flush();
  }

  /** Marks {@code b} clean and being written, and returns the bio that writes it. Lock held. */
  private Bio startWrite(Buffer b) {
    int from;
    int to;
    if (b.validator != null) {
      from = 0;
      to = blockSize;
    } else {
      from = b.dirtyStart & -writeAlign;
      to = (int) Math.min(blockSize, ((long) b.dirtyEnd + writeAlign - 1) & -writeAlign);
    }
    b.dirty = false;
    dirty.remove(b);
    b.writing = true;
    ByteBuffer src = b.data.duplicate().limit(to).position(from);
    return Bio.write(
        sectorOf(b.nr) + (from >>> Bio.SECTOR_SHIFT), src, bio -> writeDone(b, bio, from, to));
  }

  private void writeDone(Buffer b, Bio bio, int from, int to) {
    lock.lock();
    try {
      b.writing = false;
      BlockStatus s = bio.status();
      if (s == BlockStatus.OK) {
        b.writeError = null;
      } else {
        b.writeError = s;
        markDirtyLocked(b, from, to);
        LOG.log(
            System.Logger.Level.WARNING,
            "bufio: {0} error writing block {1} to {2}; it stays dirty",
            s.description(),
            b.nr,
            device.name());
      }
      b.changed.signalAll();
      if (b.pins == 0 && b.mapped && map.size() > maxBlocks) {
        evictDownToBound();
      }
    } finally {
      lock.unlock();
    }
  }

  private Bio readBio(Buffer b) {
    return Bio.read(sectorOf(b.nr), b.data.duplicate().clear(), bio -> readDone(b, bio));
  }

  private void readDone(Buffer b, Bio bio) {
    lock.lock();
    try {
      b.reading = false;
      if (bio.status() != BlockStatus.OK) {
        b.readError = bio.status();
        if (b.pins == 0 && b.mapped) {
          remove(b); // a prefetch nobody waits for
        }
      }
      b.changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Submits {@code bio}; a device that refuses it (closed under us) fails it instead. */
  private void submit(Bio bio) {
    try {
      device.submit(bio);
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.ERROR, "bufio: " + device.name() + " refused " + bio, e);
      if (!bio.isCompleted()) {
        bio.complete(BlockStatus.IOERR);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Cache contents

  /**
   * Makes room for one more block: drops the least recently used idle clean blocks, writing idle
   * dirty ones back first when there is no clean one, and starts background write-back when more
   * than 3/4 of the bound is dirty ({@code __check_watermark}). Lock held; drops it around I/O.
   */
  private void makeRoom() {
    while (map.size() >= maxBlocks) {
      if (evictOne()) {
        continue;
      }
      Buffer victim = null;
      for (Buffer b = lru.next; b != lru; b = b.next) {
        if (b.pins == 0 && b.dirty && !b.writing && b.writeError == null) {
          victim = b;
          break;
        }
      }
      if (victim == null) {
        break; // everything is held, busy or failing: over the bound until holds are released
      }
      Bio w = startWrite(victim);
      lock.unlock();
      try {
        submit(w);
      } finally {
        lock.lock();
      }
      while (victim.writing) {
        victim.changed.awaitUninterruptibly();
      }
    }
    if (dirty.size() > maxBlocks * 3L / 4) {
      List<Bio> writes = new ArrayList<>();
      for (Buffer b : new ArrayList<>(dirty)) {
        if (b.writer == null && b.writeError == null) {
          writes.add(startWrite(b));
        }
      }
      if (!writes.isEmpty()) {
        lock.unlock();
        try {
          for (Bio w : writes) {
            submit(w);
          }
        } finally {
          lock.lock();
        }
      }
    }
  }

  /** Drops the least recently used idle clean block; {@code false} if there is none. */
  private boolean evictOne() {
    for (Buffer b = lru.next; b != lru; b = b.next) {
      if (b.idleClean()) {
        remove(b);
        return true;
      }
    }
    return false;
  }

  private void evictDownToBound() {
    for (Buffer b = lru.next; b != lru && map.size() > maxBlocks; ) {
      Buffer next = b.next;
      if (b.idleClean()) {
        remove(b);
      }
      b = next;
    }
  }

  /**
   * Drops block {@code block} if it is cached, unheld, clean and not under I/O ({@code
   * dm_bufio_forget}: a hint, otherwise nothing happens).
   *
   * @return whether it was dropped
   */
  public boolean forget(long block) {
    lock.lock();
    try {
      ensureOpen();
      Buffer b = map.get(block);
      if (b != null && b.idleClean()) {
        remove(b);
        return true;
      }
      return false;
    } finally {
      lock.unlock();
    }
  }

  /**
   * {@link #forget(long)} for blocks {@code [block, block + count)} ({@code
   * dm_bufio_forget_buffers}).
   *
   * @return how many were dropped
   */
  public int forget(long block, long count) {
    if (block < 0 || count < 0) {
      throw new IllegalArgumentException(
          "forget " + count + " blocks from " + block + " (expected: both >= 0)");
    }
    lock.lock();
    try {
      ensureOpen();
      int n = 0;
      for (Buffer b = lru.next; b != lru; ) {
        Buffer next = b.next;
        if (b.nr >= block && b.nr - block < count && b.idleClean()) {
          remove(b);
          n++;
        }
        b = next;
      }
      return n;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Drops every cached block that is unheld, clean and not under I/O (what the kernel's shrinker
   * does under memory pressure).
   *
   * @return how many were dropped
   */
  public int evict() {
    return forget(0, Long.MAX_VALUE);
  }

  /** The numbers of the cached blocks, ascending. */
  public long[] cachedBlocks() {
    lock.lock();
    try {
      long[] nrs = new long[map.size()];
      int i = 0;
      for (Buffer b = lru.next; b != lru; b = b.next) {
        nrs[i++] = b.nr;
      }
      Arrays.sort(nrs);
      return nrs;
    } finally {
      lock.unlock();
    }
  }

  /** How many blocks are cached, held or not, clean or dirty. */
  public int residentBlocks() {
    lock.lock();
    try {
      return map.size();
    } finally {
      lock.unlock();
    }
  }

  /** How many cached blocks are dirty (not counting those being written). */
  public int dirtyBlocks() {
    lock.lock();
    try {
      return dirty.size();
    } finally {
      lock.unlock();
    }
  }

  private Buffer insert(long nr) {
    ByteBuffer data = ByteBuffer.allocate(blockSize).order(ByteOrder.LITTLE_ENDIAN);
    Buffer b = new Buffer(nr, data, lock.newCondition());
    map.put(nr, b);
    b.mapped = true;
    linkNewest(b);
    return b;
  }

  private void remove(Buffer b) {
    map.remove(b.nr);
    b.mapped = false;
    b.prev.next = b.next;
    b.next.prev = b.prev;
    b.prev = null;
    b.next = null;
  }

  private void touch(Buffer b) {
    b.prev.next = b.next;
    b.next.prev = b.prev;
    linkNewest(b);
  }

  private void linkNewest(Buffer b) {
    b.prev = lru.prev;
    b.next = lru;
    lru.prev.next = b;
    lru.prev = b;
  }

  private long sectorOf(long nr) {
    return start + nr * sectorsPerBlock;
  }

  /** {@link #sectorOf} for a block number that may lie anywhere, for messages. */
  private long sectorOfAny(long nr) {
    return nr > (Long.MAX_VALUE - start) / sectorsPerBlock ? Long.MAX_VALUE : sectorOf(nr);
  }

  private void ensureOpen() {
    if (closing || closed) {
      throw new IllegalStateException(this + " is closed");
    }
  }

  /**
   * Writes the dirty blocks back, flushes, and ends the client; see the class contract. A second
   * call does nothing.
   *
   * @throws IllegalStateException if blocks are still held (the client stays open)
   * @throws BlockIOException if a write or the flush failed (the client is closed all the same)
   */
  @Override
  public void close() throws IOException {
    lock.lock();
    try {
      if (closing || closed) {
        return;
      }
      List<Long> held = new ArrayList<>();
      for (Buffer b = lru.next; b != lru; b = b.next) {
        if (b.pins > 0) {
          held.add(b.nr);
        }
      }
      if (!held.isEmpty()) {
        throw new IllegalStateException(
            "cannot close " + this + ": blocks " + held + " are still held");
      }
      closing = true;
    } finally {
      lock.unlock();
    }
    try {
      writeDirtyAndFlush();
    } finally {
      lock.lock();
      try {
        for (Buffer b = lru.next; b != lru; b = b.next) {
          while (b.reading || b.writing) {
            b.changed.awaitUninterruptibly();
          }
        }
        closed = true;
        map.clear();
        dirty.clear();
        lru.next = lru;
        lru.prev = lru;
      } finally {
        lock.unlock();
      }
    }
  }

  @Override
  public String toString() {
    return "bufio client on "
        + device.name()
        + " ("
        + blockSize
        + "-byte blocks from sector "
        + start
        + ")";
  }
}
