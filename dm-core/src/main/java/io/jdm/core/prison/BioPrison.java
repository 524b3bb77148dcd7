package io.jdm.core.prison;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import java.util.Collection;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Holds bios that touch a block range while one of them works on it, the kernel's bio prison
 * ({@code drivers/md/dm-bio-prison-v1.c}).
 *
 * <p>A bio is <em>detained</em> under a {@link CellKey}. If no cell's key overlaps it, a new cell
 * takes the key and the bio becomes the cell's <em>holder</em>: the caller goes on with it and
 * later releases the cell. Otherwise the bio is queued in the overlapping cell (an <em>inmate</em>)
 * and the caller forgets it. Releasing a cell hands back the holder and the inmates in the order
 * they came ({@link #release}), the inmates only ({@link #releaseNoHolder}), completes them all
 * with an error ({@link #error}), or promotes the first inmate to holder ({@link
 * #promoteOrRelease}).
 *
 * <p>Cells come from the prison's pool ({@link #allocCell()}, {@link #freeCell}): the caller takes
 * one before detaining (it cannot fail later, under a lock, for want of memory) and returns it when
 * the prison did not use it or once it is released. Cells keep their inmate arrays when they go
 * back to the pool, so once the pool is warm, detaining and releasing allocate nothing: the
 * primitive-key {@link #detain(boolean, long, long, long, Bio, Cell)} is the fast path.
 *
 * <p>Cells are kept in sorted arrays, one per lock; a key's lock is chosen by {@code blockBegin /
 * MAX_RANGE}, which is why a key may not cross a multiple of {@link #MAX_RANGE} (the kernel's
 * per-region locks, {@code lock_nr}). Overlapping keys always share a lock. Cells in a prison never
 * overlap one another; a key overlapping two cells joins one of them.
 *
 * <p>Thread model: thread-safe; each lock guards its cells and their inmate queues. A cell's
 * holder, key and attachment are its owner's (the holder's thread) and are read without locking.
 * Bios are completed ({@link #error}) and handed back outside the locks, on the calling thread.
 */
public final class BioPrison {
  /** Largest key range, in blocks ({@code BIO_PRISON_MAX_RANGE}). */
  public static final int MAX_RANGE = 1024;

  /** {@code log2(MAX_RANGE)} ({@code BIO_PRISON_MAX_RANGE_SHIFT}). */
  public static final int MAX_RANGE_SHIFT = 10;

  /** Cells kept for reuse ({@code MIN_CELLS}, the kernel's mempool reserve). */
  static final int POOLED_CELLS = 1024;

  private final Stripe[] stripes;
  private final int stripeMask;
  private final Cell[] pool = new Cell[POOLED_CELLS]; // guarded by pool
  private int pooled; // guarded by pool

  private BioPrison(int locks) {
    stripes = new Stripe[locks];
    for (int i = 0; i < locks; i++) {
      stripes[i] = new Stripe();
    }
    stripeMask = locks - 1;
  }

  /** A prison with a lock per core, rounded up to a power of two, at most 64. */
  public static BioPrison create() {
    int cpus = Runtime.getRuntime().availableProcessors();
    return new BioPrison(Math.min(64, Integer.highestOneBit(Math.max(1, cpus - 1)) << 1));
  }

  /** Whether a prison can take this range ({@code dm_cell_key_has_valid_range}). */
  public static boolean hasValidRange(long blockBegin, long blockEnd) {
    return blockBegin >= 0
        && blockEnd > blockBegin
        && blockEnd - blockBegin <= MAX_RANGE
        && (blockBegin >>> MAX_RANGE_SHIFT) == ((blockEnd - 1) >>> MAX_RANGE_SHIFT);
  }

  static void checkRange(long blockBegin, long blockEnd) {
    if (!hasValidRange(blockBegin, blockEnd)) {
      throw new IllegalArgumentException(
          "key blocks ["
              + blockBegin
              + ", "
              + blockEnd
              + ") (expected: 0 <= begin < end, at most "
              + MAX_RANGE
              + " blocks, not crossing a multiple of "
              + MAX_RANGE
              + ")");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Cells

  /**
   * A locked range with its holder and queued inmates ({@code struct dm_bio_prison_cell}). Obtained
   * from {@link #allocCell()}; owned by the caller until it is returned with {@link #freeCell}.
   */
  public static final class Cell {
    private final BioPrison prison;
    private boolean virtual;
    private long dev;
    private long begin;
    private long end;
    private Bio holder;
    private Bio[] inmates = NO_BIOS;
    private int count;
    private boolean inPrison;
    private Object attachment;

    private static final Bio[] NO_BIOS = new Bio[0];

    private Cell(BioPrison prison) {
      this.prison = prison;
    }

    /** The key the cell was made for (allocates the record). */
    public CellKey key() {
      return new CellKey(virtual, dev, begin, end);
    }

    /** The bio holding the cell; {@code null} for a cell made by {@link #getCell}. */
    public Bio holder() {
      return holder;
    }

    /**
     * Inmate {@code i} (0 is the first queued). For a visitor in {@link #visitRelease}, or the
     * owner after release; inmates change while the cell is in the prison.
     */
    public Bio inmate(int i) {
      Objects.checkIndex(i, count);
      return inmates[i];
    }

    /** Number of inmates; see {@link #inmate}. */
    public int inmateCount() {
      return count;
    }

    /** The owner's own object ({@code user_list} in the kernel). */
    public Object attachment() {
      return attachment;
    }

    public void setAttachment(Object attachment) {
      this.attachment = attachment;
    }

    /** Whether the cell is in its prison (detained and not yet released). */
    public boolean isDetained() {
      Stripe s = prison.stripeOf(begin);
      synchronized (s) {
        return inPrison;
      }
    }

    private void enqueue(Bio bio) {
      if (count == inmates.length) {
        inmates = java.util.Arrays.copyOf(inmates, Math.max(4, count * 2));
      }
      inmates[count++] = bio;
    }

    /** Keeps the inmate array for reuse, drops the references. */
    private void clear() {
      holder = null;
      java.util.Arrays.fill(inmates, 0, count, null);
      count = 0;
      attachment = null;
    }

    @Override
    public String toString() {
      return "Cell["
          + (virtual ? "virtual " : "physical ")
          + dev
          + " ["
          + begin
          + ", "
          + end
          + "), "
          + count
          + " inmates"
          + (inPrison ? "" : ", released")
          + "]";
    }
  }

  /** One lock's cells, sorted by key ({@code struct prison_region}). */
  private static final class Stripe {
    Cell[] cells = new Cell[8];
    int size;

    /** Index of the cell overlapping the key, or {@code -(insertion point) - 1}. */
    int search(boolean virtual, long dev, long begin, long end) {
      int lo = 0;
      int hi = size - 1;
      while (lo <= hi) {
        int mid = (lo + hi) >>> 1;
        int c = compare(virtual, dev, begin, end, cells[mid]);
        if (c < 0) {
          hi = mid - 1;
        } else if (c > 0) {
          lo = mid + 1;
        } else {
          return mid;
        }
      }
      return -(lo + 1);
    }

    void insert(int at, Cell c) {
      if (size == cells.length) {
        cells = java.util.Arrays.copyOf(cells, size * 2);
      }
      System.arraycopy(cells, at, cells, at + 1, size - at);
      cells[at] = c;
      size++;
    }

    void remove(Cell c) {
      int at = search(c.virtual, c.dev, c.begin, c.end);
      if (at < 0 || cells[at] != c) {
        throw new IllegalStateException(c + " is not in the prison");
      }
      System.arraycopy(cells, at + 1, cells, at, size - at - 1);
      cells[--size] = null;
      c.inPrison = false;
    }
  }

  /** {@code cmp_keys}: space, then device, then ranges, overlapping ranges comparing equal. */
  private static int compare(boolean virtual, long dev, long begin, long end, Cell c) {
    if (virtual != c.virtual) {
      return virtual ? 1 : -1;
    }
    if (dev != c.dev) {
      return dev < c.dev ? -1 : 1;
    }
    if (end <= c.begin) {
      return -1;
    }
    if (begin >= c.end) {
      return 1;
    }
    return 0;
  }

  private Stripe stripeOf(long begin) {
    return stripes[(int) (begin >>> MAX_RANGE_SHIFT) & stripeMask];
  }

  /** A cell to detain with: from the pool, or new ({@code dm_bio_prison_alloc_cell}). */
  public Cell allocCell() {
    synchronized (pool) {
      if (pooled > 0) {
        Cell c = pool[--pooled];
        pool[pooled] = null;
        return c;
      }
    }
    return new Cell(this);
  }

  /**
   * Returns a cell the prison did not use, or one released ({@code dm_bio_prison_free_cell}).
   *
   * @throws IllegalStateException if the cell is still detained
   * @throws IllegalArgumentException if it belongs to another prison
   */
  public void freeCell(Cell cell) {
    checkOwn(cell);
    if (cell.isDetained()) {
      throw new IllegalStateException(cell + " is still detained");
    }
    cell.clear();
    synchronized (pool) {
      if (pooled < POOLED_CELLS) {
        pool[pooled++] = cell;
      }
    }
  }

  private void checkOwn(Cell cell) {
    if (cell.prison != this) {
      throw new IllegalArgumentException(cell + " belongs to another prison");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Detaining

  /**
   * Detains {@code inmate} under a key ({@code dm_bio_detain}). Returns {@code prealloc}, now in
   * the prison with {@code inmate} as its holder, if no cell overlapped the key; otherwise queues
   * {@code inmate} in the overlapping cell and returns {@code null} (free {@code prealloc} then,
   * and leave the bio alone: whoever releases that cell gets it back).
   *
   * @throws IllegalArgumentException for a range the prison cannot take, or a cell of another
   *     prison
   * @throws IllegalStateException if {@code prealloc} is in use
   */
  public Cell detain(
      boolean virtual, long dev, long blockBegin, long blockEnd, Bio inmate, Cell prealloc) {
    Objects.requireNonNull(inmate, "inmate");
    return detainOrGet(virtual, dev, blockBegin, blockEnd, inmate, prealloc);
  }

  /** {@link #detain(boolean, long, long, long, Bio, Cell)} with a key record. */
  public Cell detain(CellKey key, Bio inmate, Cell prealloc) {
    return detain(key.virtual(), key.dev(), key.blockBegin(), key.blockEnd(), inmate, prealloc);
  }

  /**
   * {@link #detain(CellKey, Bio, Cell)} with a cell from the pool, returned to it if not used.
   * Returns the new cell if {@code inmate} holds it, {@code null} if it was queued.
   */
  public Cell detain(CellKey key, Bio inmate) {
    Cell c = allocCell();
    Cell r = detain(key, inmate, c);
    if (r == null) {
      freeCell(c);
    }
    return r;
  }

  /**
   * The cell overlapping {@code key}, or {@code prealloc} put in the prison under it without a
   * holder ({@code dm_get_cell}). Free {@code prealloc} if another cell is returned.
   */
  public Cell getCell(CellKey key, Cell prealloc) {
    return detainOrGet(key.virtual(), key.dev(), key.blockBegin(), key.blockEnd(), null, prealloc);
  }

  private Cell detainOrGet(
      boolean virtual, long dev, long begin, long end, Bio inmate, Cell prealloc) {
    checkRange(begin, end);
    checkOwn(prealloc);
    Stripe s = stripeOf(begin);
    synchronized (s) {
      if (prealloc.inPrison || prealloc.holder != null || prealloc.count != 0) {
        throw new IllegalStateException(prealloc + " is in use");
      }
      int at = s.search(virtual, dev, begin, end);
      if (at >= 0) {
        Cell c = s.cells[at];
        if (inmate != null) {
          c.enqueue(inmate);
          return null;
        }
        return c;
      }
      prealloc.virtual = virtual;
      prealloc.dev = dev;
      prealloc.begin = begin;
      prealloc.end = end;
      prealloc.holder = inmate;
      prealloc.inPrison = true;
      s.insert(-(at + 1), prealloc);
      return prealloc;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Releasing

  /**
   * Takes the cell out of the prison and adds its holder (if any) and then its inmates, in the
   * order they came, to {@code bios} ({@code dm_cell_release}). The cell is then the caller's to
   * free.
   */
  public void release(Cell cell, Collection<? super Bio> bios) {
    Objects.requireNonNull(bios, "bios");
    remove(cell);
    if (cell.holder != null) {
      bios.add(cell.holder);
    }
    for (int i = 0; i < cell.count; i++) {
      bios.add(cell.inmates[i]);
    }
    cell.clear();
  }

  /** As {@link #release}, without the holder ({@code dm_cell_release_no_holder}). */
  public void releaseNoHolder(Cell cell, Collection<? super Bio> bios) {
    Objects.requireNonNull(bios, "bios");
    remove(cell);
    for (int i = 0; i < cell.count; i++) {
      bios.add(cell.inmates[i]);
    }
    cell.clear();
  }

  /** Releases the cell and completes the holder and every inmate with {@code status}. */
  public void error(Cell cell, BlockStatus status) {
    Objects.requireNonNull(status, "status");
    remove(cell);
    Bio holder = cell.holder;
    int n = cell.count;
    Bio[] bios = cell.inmates;
    cell.holder = null;
    cell.count = 0;
    if (holder != null) {
      holder.complete(status);
    }
    for (int i = 0; i < n; i++) {
      Bio b = bios[i];
      bios[i] = null;
      b.complete(status);
    }
  }

  /**
   * Runs {@code visitor} on the cell and takes the cell out of the prison, with no bio joining in
   * between ({@code dm_cell_visit_release}). The visitor runs under the cell's lock: it must be
   * short and must not use the prison.
   */
  public void visitRelease(Cell cell, Consumer<? super Cell> visitor) {
    checkOwn(cell);
    Stripe s = stripeOf(cell.begin);
    synchronized (s) {
      visitor.accept(cell);
      s.remove(cell);
    }
  }

  /**
   * Makes the first inmate the holder and returns {@code false}, or, if there is none, takes the
   * cell out of the prison and returns {@code true} ({@code dm_cell_promote_or_release}). Decided
   * under the cell's lock, so no bio can join a cell being released.
   */
  public boolean promoteOrRelease(Cell cell) {
    checkOwn(cell);
    Stripe s = stripeOf(cell.begin);
    synchronized (s) {
      if (cell.count == 0) {
        s.remove(cell);
        cell.holder = null;
        return true;
      }
      cell.holder = cell.inmates[0];
      System.arraycopy(cell.inmates, 1, cell.inmates, 0, cell.count - 1);
      cell.inmates[--cell.count] = null;
      return false;
    }
  }

  private void remove(Cell cell) {
    checkOwn(cell);
    Stripe s = stripeOf(cell.begin);
    synchronized (s) {
      s.remove(cell);
    }
  }
}
