package io.jdm.core;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * A block I/O request: the unit that flows through a stack of {@link BlockDevice}s, as the kernel's
 * {@code struct bio} ({@code include/linux/blk_types.h}).
 *
 * <p>A bio describes an operation ({@link Op}), flags ({@link #FUA}, {@link #PREFLUSH}, ...), a
 * range of 512-byte sectors and, for {@link Op#READ} and {@link Op#WRITE}, a payload: the bytes
 * {@code [dataOffset(), dataOffset() + bytes())} of a {@link ByteBuffer}. The stack never changes
 * that buffer's position or limit, so several parts of one bio can be served concurrently.
 *
 * <p>Completion: whoever owns the bio at the bottom of the stack calls {@link
 * #complete(BlockStatus)}; the bio then unwinds through every layer that remapped it (each layer's
 * end-I/O hook sees the bio as that layer left it, as the kernel's clone would) and finally calls
 * the submitter's {@link BioCallback} exactly once. A second final completion is a bug and throws
 * {@link IllegalStateException}.
 *
 * <p>Remapping is done in place: a mapped device records the bio's sector, device and flags in a
 * frame on the bio before a target changes them, and restores them on the way back up. This is what
 * lets a bio pass through a stack of mapped devices without any allocation (the kernel allocates a
 * clone per layer from a mempool). Splitting ({@link #split(int)}), chaining ({@link
 * #chainSlice(int, int)}, {@link #chain(Op, int, long, int, ByteBuffer)}) and fan-out ({@link
 * #clone(BioCallback)}) do allocate.
 *
 * <p>Chaining, the kernel's {@code bio_chain}: a split part or a chained child is a bio of its own,
 * submitted to any device, whose completion is counted into its parent's instead of calling a
 * callback. The parent's completion waits for its own share (the parent itself being completed, as
 * always) and for every child, and takes the first error among them. All of them share one join
 * counter, kept in a frame on the parent at the layer that chained them, so a part may itself be
 * remapped, split and chained again below.
 *
 * <p>Thread model: a bio is handled by one thread at a time; the thread that completes it runs the
 * end-I/O hooks and the callback. Only the join counters of a split or chained bio are touched
 * concurrently: its parts may complete on any threads, and the last one to complete continues the
 * parent's completion. Bios are mutable and not thread-safe otherwise.
 */
public final class Bio {

  /** The operation, as the kernel's {@code REQ_OP_*}. */
  public enum Op {
    READ,
    WRITE,
    /** An empty cache flush (the kernel's empty {@code REQ_PREFLUSH} write). */
    FLUSH,
    DISCARD,
    WRITE_ZEROES;

    /** {@code true} for operations that carry a payload ({@link #READ}, {@link #WRITE}). */
    public boolean hasData() {
      return this == READ || this == WRITE;
    }

    /** {@code true} for operations that change the device, as the kernel's {@code op_is_write}. */
    public boolean isWrite() {
      return this != READ;
    }
  }

  /** Force unit access: the write is durable when it completes. */
  public static final int FUA = 1;

  /** Flush the device's volatile cache before this write ({@code REQ_PREFLUSH}). */
  public static final int PREFLUSH = 1 << 1;

  /** Synchronous I/O hint ({@code REQ_SYNC}). */
  public static final int SYNC = 1 << 2;

  /** Metadata I/O hint ({@code REQ_META}). */
  public static final int META = 1 << 3;

  /** Fail with {@link BlockStatus#AGAIN} rather than wait ({@code REQ_NOWAIT}). */
  public static final int NOWAIT = 1 << 4;

  /** Read-ahead: may be failed at will ({@code REQ_RAHEAD}). */
  public static final int RAHEAD = 1 << 5;

  /** For {@link Op#WRITE_ZEROES}: do not deallocate ({@code REQ_NOUNMAP}). */
  public static final int NOUNMAP = 1 << 6;

  private static final int ALL_FLAGS = FUA | PREFLUSH | SYNC | META | NOWAIT | RAHEAD | NOUNMAP;

  /** Sector size: 512 bytes, as everywhere in the device-mapper. */
  public static final int SECTOR_SHIFT = 9;

  public static final int SECTOR_SIZE = 1 << SECTOR_SHIFT;

  private static final VarHandle COMPLETED;

  static {
    try {
      COMPLETED = MethodHandles.lookup().findVarHandle(Bio.class, "completed", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private static final Frame[] NO_FRAMES = new Frame[0];

  private Op op;
  private int flags;
  private long sector;
  private int sectors;
  private ByteBuffer data;
  private int dataOffset;
  private BlockDevice device;
  private BioCallback callback;
  private Object attachment;
  private BlockStatus status = BlockStatus.OK;

  /** The first failed sector known, in this bio's current address space; -1 for none. */
  private long errorSector = -1;

  /** A child in its parent's address space (split, slice, copy), whose failed sector carries up. */
  private boolean sameSpace;

  private int targetBioNr;

  private Frame[] frames = NO_FRAMES;
  private int depth;

  private Bio parent;
  private Frame parentJoin;

  @SuppressWarnings("unused") // accessed through COMPLETED
  private volatile int completed;

  private Bio() {}

  // ---------------------------------------------------------------------------------------------
  // Construction

  /**
   * A read of {@code dst.remaining()} bytes (a multiple of 512) into {@code dst} from its position
   * on. The buffer's position is not changed.
   */
  public static Bio read(long sector, ByteBuffer dst, BioCallback callback) {
    return new Bio().reset(Op.READ, 0, sector, dst, callback);
  }

  /** A write of {@code src.remaining()} bytes (a multiple of 512) from {@code src}. */
  public static Bio write(long sector, ByteBuffer src, BioCallback callback) {
    return new Bio().reset(Op.WRITE, 0, sector, src, callback);
  }

  /** A write with flags, for instance {@link #FUA} or {@link #PREFLUSH}. */
  public static Bio write(long sector, ByteBuffer src, int flags, BioCallback callback) {
    return new Bio().reset(Op.WRITE, flags, sector, src, callback);
  }

  /** An empty cache flush. */
  public static Bio flush(BioCallback callback) {
    return new Bio().reset(Op.FLUSH, 0, 0, 0, callback);
  }

  /** A discard of {@code sectors} sectors from {@code sector}. */
  public static Bio discard(long sector, int sectors, BioCallback callback) {
    return new Bio().reset(Op.DISCARD, 0, sector, sectors, callback);
  }

  /** A write of zeroes over {@code sectors} sectors from {@code sector}. */
  public static Bio writeZeroes(long sector, int sectors, BioCallback callback) {
    return new Bio().reset(Op.WRITE_ZEROES, 0, sector, sectors, callback);
  }

  /**
   * Any operation. For {@link Op#READ} and {@link Op#WRITE} the payload is {@code data}'s remaining
   * bytes and {@code sectors} must match it; for the others {@code data} must be {@code null}.
   */
  public static Bio of(
      Op op, int flags, long sector, int sectors, ByteBuffer data, BioCallback callback) {
    Bio bio = new Bio();
    if (op.hasData()) {
      bio.reset(op, flags, sector, Objects.requireNonNull(data, "data"), callback);
      if (bio.sectors != sectors) {
        throw new IllegalArgumentException(
            "sectors " + sectors + " does not match the payload (" + bio.sectors + " sectors)");
      }
      return bio;
    }
    if (data != null) {
      throw new IllegalArgumentException(op + " carries no payload");
    }
    return bio.reset(op, flags, sector, sectors, callback);
  }

  /**
   * Makes this bio a new data request, for callers that reuse bios. Only allowed when the bio is
   * not in flight.
   */
  public Bio reset(Op op, int flags, long sector, ByteBuffer data, BioCallback callback) {
    if (!op.hasData()) {
      throw new IllegalArgumentException(op + " carries no payload");
    }
    int bytes = data.remaining();
    if ((bytes & (SECTOR_SIZE - 1)) != 0) {
      throw new IllegalArgumentException(
          "payload of " + bytes + " bytes is not a multiple of " + SECTOR_SIZE);
    }
    init(op, flags, sector, bytes >>> SECTOR_SHIFT, callback);
    this.data = data;
    this.dataOffset = data.position();
    return this;
  }

  /** Makes this bio a new request without payload (flush, discard, write-zeroes). */
  public Bio reset(Op op, int flags, long sector, int sectors, BioCallback callback) {
    if (op.hasData()) {
      throw new IllegalArgumentException(op + " needs a payload");
    }
    if (op == Op.FLUSH && sectors != 0) {
      throw new IllegalArgumentException("a flush has no sectors, got " + sectors);
    }
    init(op, flags, sector, sectors, callback);
    this.data = null;
    this.dataOffset = 0;
    return this;
  }

  private void init(Op op, int flags, long sector, int sectors, BioCallback callback) {
    if (depth != 0) {
      throw new IllegalStateException("bio is in flight: " + this);
    }
    if ((flags & ~ALL_FLAGS) != 0) {
      throw new IllegalArgumentException("unknown flags 0x" + Integer.toHexString(flags));
    }
    if (sectors < 0) {
      throw new IllegalArgumentException("sectors " + sectors + " < 0");
    }
    this.op = Objects.requireNonNull(op, "op");
    this.flags = flags;
    this.sector = sector;
    this.sectors = sectors;
    this.callback = Objects.requireNonNull(callback, "callback");
    this.device = null;
    this.attachment = null;
    this.status = BlockStatus.OK;
    this.errorSector = -1;
    this.sameSpace = false;
    this.targetBioNr = 0;
    this.parent = null;
    this.parentJoin = null;
    COMPLETED.setRelease(this, 0);
  }

  // ---------------------------------------------------------------------------------------------
  // Accessors

  public Op op() {
    return op;
  }

  public int flags() {
    return flags;
  }

  public boolean hasFlag(int flag) {
    return (flags & flag) != 0;
  }

  public void setFlags(int flags) {
    if ((flags & ~ALL_FLAGS) != 0) {
      throw new IllegalArgumentException("unknown flags 0x" + Integer.toHexString(flags));
    }
    this.flags = flags;
  }

  /** First sector, in 512-byte units, on {@link #device()}. */
  public long sector() {
    return sector;
  }

  /** Length in 512-byte sectors (0 for a flush). */
  public int sectors() {
    return sectors;
  }

  /** One past the last sector. */
  public long endSector() {
    return sector + sectors;
  }

  /** Length in bytes of the payload ({@code sectors() * 512}). */
  public int bytes() {
    return sectors << SECTOR_SHIFT;
  }

  /** The buffer holding the payload, or {@code null} for operations without one. */
  public ByteBuffer data() {
    return data;
  }

  /** Absolute index in {@link #data()} of the first payload byte. */
  public int dataOffset() {
    return dataOffset;
  }

  /** The device the bio is being submitted to, set by {@link #remap} or {@link #setDevice}. */
  public BlockDevice device() {
    return device;
  }

  /** The status the bio is completing with; {@link BlockStatus#OK} before completion. */
  public BlockStatus status() {
    return status;
  }

  /**
   * For a bio that failed, the first sector known to have failed, as the submitter addresses it:
   * the start of the failed part that lies lowest, after the core split the bio at target ends and
   * I/O limits and each layer remapped it (a {@code dust} bad block inside a long read names its
   * own sector, not the read's first). {@code -1} when the bio did not fail or no part says where
   * (then the whole request is to blame). Children from {@link #chain} carry no sector up: they
   * address some other place; their layer names the start of its own part instead.
   */
  public long errorSector() {
    return status == BlockStatus.OK ? -1 : errorSector;
  }

  /**
   * Overrides the completion status: a target's end-I/O hook may change the error it passes up, and
   * a target returning {@link MapResult#KILL} may choose the status (default {@link
   * BlockStatus#IOERR}).
   */
  public void setStatus(BlockStatus status) {
    this.status = Objects.requireNonNull(status, "status");
  }

  /** The submitter's own object ({@code bi_private}); never touched by the stack. */
  public Object attachment() {
    return attachment;
  }

  public void setAttachment(Object attachment) {
    this.attachment = attachment;
  }

  /**
   * Which copy this is when the core sends several copies of one flush, discard or write-zeroes to
   * a target ({@code dm_bio_get_target_bio_nr}): 0 .. n-1.
   */
  public int targetBioNr() {
    return targetBioNr;
  }

  void setTargetBioNr(int nr) {
    this.targetBioNr = nr;
  }

  public void setSector(long sector) {
    this.sector = sector;
  }

  public void setDevice(BlockDevice device) {
    this.device = device;
  }

  /** Points the bio at {@code sector} of {@code device} (what a target's {@code map} does). */
  public void remap(BlockDevice device, long sector) {
    this.device = device;
    this.sector = sector;
  }

  /** Submits the bio to {@link #device()}. */
  public void submit() {
    device.submit(this);
  }

  /** Points the bio at {@code device} and submits it there. */
  public void submit(BlockDevice device) {
    this.device = device;
    device.submit(this);
  }

  /**
   * Changes the length of a bio without payload, for targets that narrow a discard or write-zeroes
   * copy to the part they own.
   */
  public void setSectors(int sectors) {
    if (op.hasData()) {
      throw new IllegalStateException("cannot resize a bio with payload; split it");
    }
    if (sectors < 0) {
      throw new IllegalArgumentException("sectors " + sectors + " < 0");
    }
    this.sectors = sectors;
  }

  // ---------------------------------------------------------------------------------------------
  // Per-target data (the kernel's per-bio data)

  /** The current layer's private object; {@code null} until set. Valid in map and endIo. */
  public Object targetContext() {
    return topFrame().context;
  }

  public void setTargetContext(Object context) {
    topFrame().context = context;
  }

  /** A primitive companion to {@link #targetContext()}, so targets need not box. */
  public long targetLong() {
    return topFrame().contextLong;
  }

  public void setTargetLong(long value) {
    topFrame().contextLong = value;
  }

  /** The frame of the layer that owns the bio now (join frames are not a layer's). */
  private Frame topFrame() {
    for (int d = depth - 1; d >= 0; d--) {
      if (frames[d].owner != null) {
        return frames[d];
      }
    }
    throw new IllegalStateException("no target owns this bio");
  }

  // ---------------------------------------------------------------------------------------------
  // Payload helpers

  /** Fills the payload with zeros. */
  public void zeroFill() {
    fillZeros(data, dataOffset, bytes());
  }

  /** Zeros {@code length} bytes of the payload from byte {@code offset} on. */
  public void zeroFill(int offset, int length) {
    Objects.checkFromIndexSize(offset, length, bytes());
    fillZeros(data, dataOffset + offset, length);
  }

  private static final byte[] ZEROS = new byte[8192];

  static void fillZeros(ByteBuffer buffer, int index, int length) {
    while (length > 0) {
      int n = Math.min(length, ZEROS.length);
      buffer.put(index, ZEROS, 0, n);
      index += n;
      length -= n;
    }
  }

  /**
   * A new buffer view of the payload (position 0, limit {@link #bytes()}, same byte order).
   * Allocates the view; hot paths use {@link #data()} and {@link #dataOffset()} with absolute
   * operations.
   */
  public ByteBuffer payload() {
    if (data == null) {
      throw new IllegalStateException(op + " has no payload");
    }
    return data.slice(dataOffset, bytes()).order(data.order());
  }

  // ---------------------------------------------------------------------------------------------
  // Split and clone

  /**
   * Cuts the first {@code sectors} sectors off this bio into a new child bio (the kernel's {@code
   * bio_split} + {@code bio_chain}); this bio keeps the rest. The caller submits both. This bio's
   * completion waits until it and every child split off it at this layer have completed, and takes
   * the first error among them.
   */
  public Bio split(int sectors) {
    if (sectors <= 0 || sectors >= this.sectors) {
      throw new IllegalArgumentException(
          "split at " + sectors + " (expected: 0 < sectors < " + this.sectors + ")");
    }
    Bio child = chained(op, flags, sector, sectors, data, dataOffset, device, targetBioNr);
    child.sameSpace = true;
    if (data != null) {
      dataOffset += sectors << SECTOR_SHIFT;
    }
    sector += sectors;
    this.sectors -= sectors;
    return child;
  }

  /**
   * A child bio over sectors {@code [offset, offset + sectors)} of this bio, sharing that part of
   * the payload (the kernel's {@code bio_alloc_clone} + {@code bio_trim} + {@code bio_chain}),
   * without changing this bio. The child has this bio's operation and flags and points at {@code
   * sector() + offset} of {@link #device()}; the caller may {@link #remap} it anywhere and submits
   * it. This bio's completion waits for the child too, as for {@link #split}: the caller still
   * completes (or submits) this bio itself, and its callback runs once that and every child have
   * completed, with the first error.
   *
   * <p>Only the bio's owner may chain to it, before this bio's own share has completed (or while
   * another child keeps it from completing).
   *
   * @throws IllegalArgumentException if the range is not inside this bio
   * @throws IllegalStateException if this bio has already completed
   */
  public Bio chainSlice(int offset, int sectors) {
    if (offset < 0 || sectors < 0 || sectors > this.sectors - offset) {
      throw new IllegalArgumentException(
          "slice of "
              + sectors
              + " sectors at "
              + offset
              + " (expected: 0 <= offset <= offset + sectors <= "
              + this.sectors
              + ")");
    }
    Bio child =
        chained(
            op,
            flags,
            sector + offset,
            sectors,
            data,
            data == null ? 0 : dataOffset + (offset << SECTOR_SHIFT),
            device,
            targetBioNr);
    child.sameSpace = true;
    return child;
  }

  /**
   * A new child bio with its own request and buffer (the kernel's {@code bio_alloc} + {@code
   * bio_chain}): any operation, flags, sector and payload, as {@link #of}, with no device until it
   * is submitted. Its completion counts toward this bio's as in {@link #chainSlice}: a crypt-like
   * target writes a bounce buffer through a child, a copy-out reads into its own buffer.
   *
   * @throws IllegalArgumentException as {@link #of} does
   * @throws IllegalStateException if this bio has already completed
   */
  public Bio chain(Op op, int flags, long sector, int sectors, ByteBuffer data) {
    checkRequest(op, flags, sectors, data);
    return chained(
        op, flags, sector, sectors, data, data == null ? 0 : data.position(), null, targetBioNr);
  }

  /** The checks of {@link #of} and {@link #reset}, for a request that is not built by them. */
  private static void checkRequest(Op op, int flags, int sectors, ByteBuffer data) {
    Objects.requireNonNull(op, "op");
    if ((flags & ~ALL_FLAGS) != 0) {
      throw new IllegalArgumentException("unknown flags 0x" + Integer.toHexString(flags));
    }
    if (sectors < 0) {
      throw new IllegalArgumentException("sectors " + sectors + " < 0");
    }
    if (!op.hasData()) {
      if (data != null) {
        throw new IllegalArgumentException(op + " carries no payload");
      }
      if (op == Op.FLUSH && sectors != 0) {
        throw new IllegalArgumentException("a flush has no sectors, got " + sectors);
      }
      return;
    }
    Objects.requireNonNull(data, "data");
    if ((long) sectors << SECTOR_SHIFT != data.remaining()) {
      throw new IllegalArgumentException(
          "sectors "
              + sectors
              + " does not match the payload ("
              + data.remaining()
              + " bytes, expected: a multiple of "
              + SECTOR_SIZE
              + ")");
    }
  }

  /**
   * An independent copy (same operation, flags, range, payload buffer and device) that completes
   * through {@code callback}, for targets that fan a bio out (mirror legs, copy-on-write).
   */
  public Bio clone(BioCallback callback) {
    Bio copy = new Bio();
    copy.op = op;
    copy.flags = flags;
    copy.sector = sector;
    copy.sectors = sectors;
    copy.data = data;
    copy.dataOffset = dataOffset;
    copy.device = device;
    copy.targetBioNr = targetBioNr;
    copy.callback = Objects.requireNonNull(callback, "callback");
    return copy;
  }

  /**
   * A copy of this bio chained to it like a split part (its completion counts toward this bio's),
   * without shrinking this bio: the core's duplicate flush/discard bios.
   */
  Bio chainedCopy(long sector, int sectors, int targetBioNr) {
    Bio child =
        chained(
            op,
            flags,
            sector,
            sectors,
            data,
            data == null ? 0 : dataOffset + (int) ((sector - this.sector) << SECTOR_SHIFT),
            device,
            targetBioNr);
    child.sameSpace = true;
    return child;
  }

  /**
   * The one way a child is made: split parts, slices, own-buffer children and the core's copies all
   * count into the join frame of this layer, which the last of them (or this bio's own share) pops.
   */
  private Bio chained(
      Op op,
      int flags,
      long sector,
      int sectors,
      ByteBuffer data,
      int dataOffset,
      BlockDevice device,
      int targetBioNr) {
    if (isCompleted()) {
      throw new IllegalStateException("cannot chain to a completed bio: " + this);
    }
    Frame join = openJoin();
    join.addPending();
    Bio child = new Bio();
    child.op = op;
    child.flags = flags;
    child.sector = sector;
    child.sectors = sectors;
    child.data = data;
    child.dataOffset = dataOffset;
    child.device = device;
    child.targetBioNr = targetBioNr;
    child.parent = this;
    child.parentJoin = join;
    return child;
  }

  private Frame openJoin() {
    if (depth > 0) {
      Frame top = frames[depth - 1];
      if (top.owner == null) {
        return top;
      }
    }
    Frame join = push();
    join.owner = null;
    join.initJoin();
    return join;
  }

  // ---------------------------------------------------------------------------------------------
  // Frames: what a remapping layer saved, restored on completion

  /** A layer's saved state. Package-private: only mapped devices push frames. */
  static final class Frame {
    private static final VarHandle PENDING;
    private static final VarHandle FIRST_ERROR;
    private static final VarHandle ERROR_SECTOR;

    static {
      try {
        MethodHandles.Lookup l = MethodHandles.lookup();
        PENDING = l.findVarHandle(Frame.class, "pending", int.class);
        FIRST_ERROR = l.findVarHandle(Frame.class, "firstError", BlockStatus.class);
        ERROR_SECTOR = l.findVarHandle(Frame.class, "errorSector", long.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    /** The layer that pushed the frame; {@code null} marks a join frame. */
    FrameOwner owner;

    Target target;
    int kind;
    long sector;
    int sectors;
    int flags;
    int dataOffset;
    BlockDevice device;
    long startNanos;
    Object context;
    long contextLong;
    Object ownerData;

    @SuppressWarnings("unused")
    private volatile int pending;

    @SuppressWarnings("unused")
    private volatile BlockStatus firstError;

    /** The lowest failed sector a part reported; {@code Long.MAX_VALUE} for none. */
    @SuppressWarnings("unused")
    private volatile long errorSector;

    void initJoin() {
      PENDING.setRelease(this, 1);
      FIRST_ERROR.setRelease(this, (BlockStatus) null);
      ERROR_SECTOR.setRelease(this, Long.MAX_VALUE);
    }

    void addPending() {
      PENDING.getAndAdd(this, 1);
    }

    /**
     * Records a part's status; {@code true} when it was the last part. The first error wins, except
     * that a push-back ({@link BlockStatus#DM_REQUEUE}) supersedes any other error, as in the
     * kernel's {@code dm_io_set_error}: the whole bio is then retried.
     */
    boolean arrive(BlockStatus status, long errorSector) {
      if (status == BlockStatus.DM_REQUEUE) {
        FIRST_ERROR.setVolatile(this, status);
      } else if (status != BlockStatus.OK) {
        FIRST_ERROR.compareAndSet(this, (BlockStatus) null, status);
        if (errorSector >= 0) {
          long was = (long) ERROR_SECTOR.getVolatile(this);
          while (errorSector < was
              && !ERROR_SECTOR.compareAndSet(this, was, errorSector)) { // keep the lowest
            was = (long) ERROR_SECTOR.getVolatile(this);
          }
        }
      }
      return (int) PENDING.getAndAdd(this, -1) == 1;
    }

    BlockStatus joinedStatus() {
      BlockStatus s = (BlockStatus) FIRST_ERROR.getAcquire(this);
      return s == null ? BlockStatus.OK : s;
    }

    long joinedErrorSector() {
      long e = (long) ERROR_SECTOR.getAcquire(this);
      return e == Long.MAX_VALUE ? -1 : e;
    }

    /**
     * Drops what a target left here. The owner, target and device references are overwritten by the
     * next push; not clearing them saves stores on every completion.
     */
    void clear() {
      context = null;
      ownerData = null;
    }
  }

  /** The layer that owns a frame: called when the bio unwinds through it. */
  interface FrameOwner {
    /**
     * Called with the bio as the layer below left it. Returns {@code true} to pop the frame (which
     * restores sector, length, flags and device) and continue upwards, {@code false} when the layer
     * keeps the bio (end-I/O said INCOMPLETE, or the bio was requeued after {@link #popFrame}).
     */
    boolean endIo(Bio bio, Frame frame);
  }

  Frame pushFrame(FrameOwner owner) {
    Frame f = push();
    f.owner = owner;
    f.sector = sector;
    f.sectors = sectors;
    f.flags = flags;
    f.dataOffset = dataOffset;
    f.device = device;
    return f;
  }

  private Frame push() {
    Frame[] fs = frames;
    int d = depth;
    if (d == fs.length) {
      fs = growFrames();
    }
    Frame f = fs[d];
    if (f == null) {
      f = fs[d] = new Frame();
    }
    depth = d + 1;
    return f;
  }

  private Frame[] growFrames() {
    Frame[] grown = new Frame[Math.max(2, frames.length * 2)];
    System.arraycopy(frames, 0, grown, 0, frames.length);
    frames = grown;
    return grown;
  }

  /** Pops the top (owner) frame and restores what it saved. */
  void popFrame() {
    Frame f = frames[--depth];
    if (status != BlockStatus.OK) {
      errorSector = errorSectorAbove(f);
    }
    sector = f.sector;
    sectors = f.sectors;
    flags = f.flags;
    dataOffset = f.dataOffset;
    device = f.device;
    f.clear();
  }

  /**
   * The failed sector (or, when no part named one, the start of this layer's part) in the address
   * space of the layer that pushed {@code f}: a remap moves the whole bio by one offset, and a
   * split since the push advanced the sector and the payload together, so the payload offset says
   * how far into the frame's range the failure lies. {@code -1} when that cannot be known.
   */
  private long errorSectorAbove(Frame f) {
    long e = errorSector >= 0 ? errorSector : sector;
    long rel;
    if (data != null) {
      rel = e - sector + ((long) (dataOffset - f.dataOffset) >> SECTOR_SHIFT);
    } else {
      rel = sectors == f.sectors ? e - sector : -1;
    }
    return rel >= 0 && rel < Math.max(f.sectors, 1) ? f.sector + rel : -1;
  }

  int depth() {
    return depth;
  }

  // ---------------------------------------------------------------------------------------------
  // Completion

  /**
   * Completes the bio with {@code status}: runs the end-I/O hook of every layer that remapped it
   * and then the submitter's callback. Called once per submission by whoever owns the bio.
   *
   * @throws IllegalStateException if the bio had already completed
   */
  public void complete(BlockStatus status) {
    this.status = Objects.requireNonNull(status, "status");
    this.errorSector = status == BlockStatus.OK ? -1 : sector;
    unwind();
  }

  private void unwind() {
    while (depth > 0) {
      Frame f = frames[depth - 1];
      FrameOwner owner = f.owner;
      if (owner == null) {
        if (!f.arrive(status, errorSector)) {
          return; // other parts are still in flight; the last one continues from here
        }
        status = f.joinedStatus();
        errorSector = f.joinedErrorSector();
        depth--;
        f.clear();
        continue;
      }
      if (!owner.endIo(this, f)) {
        return;
      }
      popFrame();
    }
    finish();
  }

  private void finish() {
    if (!COMPLETED.compareAndSet(this, 0, 1)) {
      throw new IllegalStateException("bio completed twice: " + this);
    }
    Bio p = parent;
    if (p != null) {
      p.childArrived(parentJoin, status, sameSpace ? errorSector : -1);
      return;
    }
    callback.done(this);
  }

  private void childArrived(Frame join, BlockStatus childStatus, long childErrorSector) {
    if (!join.arrive(childStatus, childErrorSector)) {
      return;
    }
    // Every part is done and the parent's own part already stopped at the join frame on top.
    status = join.joinedStatus();
    errorSector = join.joinedErrorSector();
    depth--;
    join.clear();
    unwind();
  }

  /** {@code true} once the submitter's callback has been called. */
  public boolean isCompleted() {
    return (int) COMPLETED.getAcquire(this) != 0;
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("Bio[").append(op);
    if (flags != 0) {
      if (hasFlag(FUA)) sb.append("|FUA");
      if (hasFlag(PREFLUSH)) sb.append("|PREFLUSH");
      if (hasFlag(SYNC)) sb.append("|SYNC");
      if (hasFlag(META)) sb.append("|META");
      if (hasFlag(NOWAIT)) sb.append("|NOWAIT");
      if (hasFlag(RAHEAD)) sb.append("|RAHEAD");
      if (hasFlag(NOUNMAP)) sb.append("|NOUNMAP");
    }
    sb.append(" sector=").append(sector).append(" sectors=").append(sectors);
    if (device != null) {
      sb.append(" device=").append(device.name());
    }
    if (status != BlockStatus.OK) {
      sb.append(" status=").append(status);
    }
    return sb.append(']').toString();
  }
}
