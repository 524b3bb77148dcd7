package io.jdm.core;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A device built from a mapping table, named in a {@link DeviceMapper}: the kernel's {@code struct
 * mapped_device} ({@code drivers/md/dm.c}, {@code dm-ioctl.c}).
 *
 * <p>It has a <em>live</em> table that serves I/O and an <em>inactive</em> slot that {@link #load}
 * fills. {@link #resume()} swaps the inactive table in atomically: the device is suspended first if
 * it is not (new I/O is held, I/O in flight drains), the new table goes live, the held I/O is
 * reissued in arrival order, and the old table's targets are closed. While suspended, new I/O is
 * queued ({@link Bio#NOWAIT} bios fail with {@link BlockStatus#AGAIN}, read-ahead with {@link
 * BlockStatus#IOERR}).
 *
 * <p>I/O path ({@link #submit}): one volatile read of the live table, a per-thread-striped
 * in-flight counter, a binary search for the target, and the target's {@code map}. A bio that fits
 * in one target is remapped in place and passed down without allocation; one that crosses a target
 * boundary or a target's {@link Target#maxIoSectors()} is split, the parts mapped separately and
 * the bio completed when all have, with the first error.
 *
 * <p>Text: {@link #table()}, {@link #status()}, {@link #info()} and {@link #message} return what
 * {@code dmsetup table}, {@code status}, {@code info} and {@code message} print.
 *
 * <p>Thread-safe. Control operations (load, suspend, resume, clear, remove) are serialised per
 * device; I/O runs concurrently with them and with itself.
 *
 * <p>{@link #close()} removes the device from its {@link DeviceMapper}, which is refused while the
 * device is open or used by another table.
 */
public final class MappedDevice implements BlockDevice, AllocationMap {
  private static final System.Logger LOG = System.getLogger(MappedDevice.class.getName());

  /** Frame kinds: a whole bio mapped by one target, a part of a split bio, a split bio's parent. */
  private static final int PIECE = 0;

  private static final int COPY = 1;
  private static final int ACCOUNT = 2;
  private static final int KIND_MASK = 3;

  /** Set on a frame whose target refused the bio in map: its endIo is not called. */
  private static final int REFUSED = 4;

  /** Set on a frame whose target has no endIo of its own: nothing to call. */
  private static final int NO_ENDIO = 8;

  /** The kernel's default read-ahead for dm devices, in sectors. */
  private static final int READ_AHEAD = 256;

  private final DeviceMapper dm;
  private final DeviceNumber number;
  private volatile String name;
  private volatile String uuid;

  private volatile Table live;
  private volatile Table inactive; // written under control
  private volatile IoLimits limits = IoLimits.DEFAULT;

  private volatile boolean suspended;
  private volatile boolean removed;
  private volatile boolean deferredRemove;

  private final IoCounters counters = new IoCounters();
  private final SuspendGate gate = new SuspendGate();

  private final AtomicInteger eventNr = new AtomicInteger();
  private final Object eventLock = new Object();
  private final AtomicInteger openCount = new AtomicInteger();
  private final ReentrantLock control = new ReentrantLock();

  private final boolean timing;
  private final Clock clock;
  private final Owner owner = new Owner();
  private final BioCallback preflushDone = this::preflushDone;

  MappedDevice(DeviceMapper dm, String name, String uuid, DeviceNumber number) {
    this.dm = dm;
    this.name = name;
    this.uuid = uuid;
    this.number = number;
    this.timing = dm.ioTiming();
    this.clock = dm.clock();
  }

  // ---------------------------------------------------------------------------------------------
  // BlockDevice

  @Override
  public String name() {
    return name;
  }

  /** The device's uuid, if one was set. */
  public Optional<String> uuid() {
    return Optional.ofNullable(uuid);
  }

  /** {@code 253:N}. */
  public DeviceNumber number() {
    return number;
  }

  /** Size of the live table; 0 without one. */
  @Override
  public long sectors() {
    Table t = live;
    return t == null ? 0 : t.size;
  }

  @Override
  public IoLimits limits() {
    return limits;
  }

  /** Whether the live table was loaded read-only. */
  @Override
  public boolean isReadOnly() {
    Table t = live;
    return t != null && t.readOnly;
  }

  /**
   * {@inheritDoc}
   *
   * @throws IllegalStateException if the device has been removed
   */
  @Override
  public void submit(Bio bio) {
    int g = IoCounters.group(bio.op());
    IoCounters.Cell cell = counters.cell();
    counters.start(cell, g);
    if (gate.isBlocked()) {
      unstart(cell, g);
      blocked(bio);
      return;
    }
    dispatch(bio, g, cell);
  }

  /**
   * Takes back a start that will not be dispatched. A suspend summing the counters may have seen
   * the start and be waiting for it, so wake it.
   */
  private void unstart(IoCounters.Cell cell, int g) {
    counters.unstart(cell, g);
    gate.wake();
  }

  /** Routes a counted bio. */
  private void dispatch(Bio bio, int g, IoCounters.Cell cell) {
    Table t = live;
    Bio.Op op = bio.op();
    long sector = bio.sector();
    int n = bio.sectors();
    if (t == null
        || (op != Bio.Op.FLUSH
            && (sector < 0 || n > t.size - sector || ((sector | n) & t.lbsMask) != 0))) {
      // no table, beyond the end of the device, or not aligned to its logical block size
      reject(
          bio,
          cell,
          g,
          t == null || sector < 0 || n > t.size - sector ? BlockStatus.IOERR : BlockStatus.INVAL);
      return;
    }
    if (op.hasData() && (bio.flags() & Bio.PREFLUSH) == 0) {
      if (op == Bio.Op.WRITE && t.readOnly) {
        reject(bio, cell, g, BlockStatus.IOERR);
        return;
      }
      mapRw(t, bio, sector, n, cell);
      return;
    }
    slowPath(t, bio, g, cell);
  }

  private void mapRw(Table t, Bio bio, long sector, int n, IoCounters.Cell cell) {
    int idx = t.find(sector);
    long limit = t.pieceLimit(idx, sector);
    if (n <= limit) {
      mapPiece(t, idx, bio, PIECE, cell);
    } else {
      splitAndMap(t, bio, idx, limit, cell);
    }
  }

  private void mapPiece(Table t, int idx, Bio bio, int kind, IoCounters.Cell cell) {
    Target target = t.targets[idx];
    Bio.Frame f = bio.pushFrame(owner);
    f.target = target;
    f.kind = t.hasEndIo[idx] ? kind : kind | NO_ENDIO;
    f.ownerData = cell;
    f.startNanos = timing ? clock.nanoTime() : 0;
    MapResult r;
    try {
      r = target.map(bio);
    } catch (RuntimeException e) {
      // A target bug. Assume it threw before handing the bio on (argument checks and the like)
      // and fail the bio, so that it is not lost and a suspend does not wait for it forever.
      LOG.log(System.Logger.Level.ERROR, name + ": target map failed on " + bio, e);
      bio.setStatus(BlockStatus.IOERR);
      r = MapResult.KILL;
    }
    if (r == MapResult.REMAPPED) {
      submitBelow(bio);
    } else if (r != MapResult.SUBMITTED) {
      refused(bio, f, r);
    }
  }

  /**
   * Passes a remapped bio down. Nothing is caught here: once handed on, the bio may have completed
   * (and even been reused by its owner), so an exception from below, such as one thrown by a
   * completion callback, must not lead to a second completion.
   */
  private void submitBelow(Bio bio) {
    bio.device().submit(bio);
  }

  /** {@code KILL} or {@code REQUEUE} from map: complete through our frame, skipping endIo. */
  private void refused(Bio bio, Bio.Frame f, MapResult r) {
    f.kind |= REFUSED;
    if (r == MapResult.KILL) {
      BlockStatus s = bio.status();
      bio.complete(s == BlockStatus.OK ? BlockStatus.IOERR : s);
    } else {
      bio.complete(BlockStatus.DM_REQUEUE);
    }
  }

  private void splitAndMap(Table t, Bio bio, int idx, long limit, IoCounters.Cell cell) {
    Bio.Frame acct = bio.pushFrame(owner);
    acct.target = null;
    acct.kind = ACCOUNT;
    acct.ownerData = cell;
    acct.startNanos = timing ? clock.nanoTime() : 0;
    while (true) {
      if (bio.sectors() <= limit) {
        mapPiece(t, idx, bio, COPY, null);
        return;
      }
      mapPiece(t, idx, bio.split((int) limit), COPY, null);
      long sector = bio.sector();
      idx = t.find(sector);
      limit = t.pieceLimit(idx, sector);
    }
  }

  private void slowPath(Table t, Bio bio, int g, IoCounters.Cell cell) {
    switch (bio.op()) {
      case FLUSH:
        if (!limits.writeCache()) {
          reject(bio, cell, g, BlockStatus.OK); // no volatile cache anywhere below
        } else {
          emptyFlush(t, bio, cell);
        }
        break;
      case READ:
      case WRITE:
        if (!limits.writeCache()) {
          // Nothing to flush ({@code submit_bio_noacct} strips PREFLUSH and FUA then).
          bio.setFlags(bio.flags() & ~(Bio.PREFLUSH | Bio.FUA));
          mapRw(t, bio, bio.sector(), bio.sectors(), cell);
          break;
        }
        // A write with PREFLUSH: an empty flush first, then the data without the flag.
        unstart(cell, g);
        Bio flush = Bio.flush(preflushDone);
        flush.setFlags(Bio.SYNC);
        flush.setAttachment(bio);
        submit(flush);
        break;
      case DISCARD:
      case WRITE_ZEROES:
        rangeOp(t, bio, g, cell);
        break;
      default:
        throw new AssertionError(bio.op());
    }
  }

  private void preflushDone(Bio flush) {
    Bio data = (Bio) flush.attachment();
    if (flush.status() != BlockStatus.OK) {
      data.complete(flush.status());
      return;
    }
    data.setFlags(data.flags() & ~Bio.PREFLUSH);
    try {
      submit(data);
    } catch (IllegalStateException e) {
      data.complete(BlockStatus.IOERR); // removed between the flush and the data
    }
  }

  /**
   * An empty flush goes to every target that asked for flush bios, as many copies as it asked for;
   * when every target lets flushes bypass map (linear, striped), one copy goes straight to each
   * distinct underlying device instead.
   */
  private void emptyFlush(Table t, Bio bio, IoCounters.Cell cell) {
    Bio.Frame acct = bio.pushFrame(owner);
    acct.target = null;
    acct.kind = ACCOUNT;
    acct.ownerData = cell;
    acct.startNanos = timing ? clock.nanoTime() : 0;
    if (t.flushBypassesMap) {
      for (BlockDevice d : t.flushDevices) {
        Bio copy = bio.chainedCopy(0, 0, 0);
        copy.setDevice(d);
        submitBelow(copy);
      }
    } else {
      for (int i = 0; i < t.targets.length; i++) {
        int copies = t.targets[i].numFlushBios();
        for (int j = 0; j < copies; j++) {
          mapPiece(t, i, bio.chainedCopy(0, 0, j), COPY, null);
        }
      }
    }
    bio.complete(BlockStatus.OK); // this bio's own share; the copies complete it
  }

  /**
   * Discard and write-zeroes: split at target boundaries and the device limit, then sent to each
   * target as the number of copies it asked for. Refused with {@link BlockStatus#NOTSUPP} before
   * anything is sent if the device or any target in the range does not support the operation.
   */
  private void rangeOp(Table t, Bio bio, int g, IoCounters.Cell cell) {
    Bio.Op op = bio.op();
    if (t.readOnly) {
      reject(bio, cell, g, BlockStatus.IOERR);
      return;
    }
    IoLimits l = limits;
    long max = op == Bio.Op.DISCARD ? l.maxDiscardSectors() : l.maxWriteZeroesSectors();
    long sector = bio.sector();
    long end = bio.endSector();
    if (max == 0) {
      reject(bio, cell, g, BlockStatus.NOTSUPP);
      return;
    }
    if (sector == end) {
      reject(bio, cell, g, BlockStatus.OK);
      return;
    }
    for (int idx = t.find(sector); ; idx++) {
      if (copies(t.targets[idx], op) == 0) {
        reject(bio, cell, g, BlockStatus.NOTSUPP);
        return;
      }
      if (t.ends[idx] >= end) {
        break;
      }
    }
    Bio.Frame acct = bio.pushFrame(owner);
    acct.target = null;
    acct.kind = ACCOUNT;
    acct.ownerData = cell;
    acct.startNanos = timing ? clock.nanoTime() : 0;
    while (sector < end) {
      int idx = t.find(sector);
      long pieceEnd = Math.min(Math.min(end, t.ends[idx]), sector + max);
      int copies = copies(t.targets[idx], op);
      for (int j = 0; j < copies; j++) {
        mapPiece(t, idx, bio.chainedCopy(sector, (int) (pieceEnd - sector), j), COPY, null);
      }
      sector = pieceEnd;
    }
    bio.complete(BlockStatus.OK);
  }

  private static int copies(Target t, Bio.Op op) {
    return op == Bio.Op.DISCARD ? t.numDiscardBios() : t.numWriteZeroesBios();
  }

  private void reject(Bio bio, IoCounters.Cell cell, int g, BlockStatus status) {
    unstart(cell, g);
    bio.complete(status);
  }

  /** The device is suspended: hold the bio until resume, or fail it as the kernel does. */
  private void blocked(Bio bio) {
    if (removed) {
      throw new IllegalStateException(name + " has been removed");
    }
    if (bio.hasFlag(Bio.NOWAIT)) {
      bio.complete(BlockStatus.AGAIN);
      return;
    }
    if (bio.hasFlag(Bio.RAHEAD)) {
      bio.complete(BlockStatus.IOERR);
      return;
    }
    switch (gate.hold(bio)) {
      case HELD:
        return;
      case CLOSED:
        throw new IllegalStateException(name + " has been removed");
      case OPEN:
      default:
        submit(bio); // resumed meanwhile
    }
  }

  /** Completion of a bio through one of this device's frames. */
  private final class Owner implements Bio.FrameOwner {
    @Override
    public boolean endIo(Bio bio, Bio.Frame f) {
      int kind = f.kind;
      Target target = f.target;
      if (target != null && (kind & (REFUSED | NO_ENDIO)) == 0) {
        EndIoResult r;
        try {
          r = ((EndIoTarget) target).endIo(bio, bio.status());
        } catch (RuntimeException e) {
          LOG.log(System.Logger.Level.ERROR, name + ": target endIo failed on " + bio, e);
          bio.setStatus(BlockStatus.IOERR);
          r = EndIoResult.DONE;
        }
        if (r == EndIoResult.INCOMPLETE) {
          return false;
        }
        if (r == EndIoResult.REQUEUE) {
          bio.setStatus(BlockStatus.DM_REQUEUE);
        }
      }
      int k = kind & KIND_MASK;
      if (k == COPY) {
        return true; // the parent accounts for the whole bio
      }
      int g = IoCounters.group(bio.op());
      IoCounters.Cell cell = (IoCounters.Cell) f.ownerData;
      if (bio.status() == BlockStatus.DM_REQUEUE) {
        if (gate.holdRequeued(bio)) {
          counters.abandon(cell, g);
          gate.wake();
          return false;
        }
        bio.setStatus(BlockStatus.IOERR);
      }
      if ((kind & REFUSED) != 0 && k == PIECE) {
        counters.abandon(cell, g);
      } else {
        counters.done(
            cell, g, f.sectors, timing ? Math.max(1, clock.nanoTime() - f.startNanos) : 0);
      }
      gate.wake();
      return true;
    }
  }

  /** {@code dm_noflush_suspending}: a {@link SuspendMode#NOFLUSH} suspend is under way. */
  boolean isNoflushSuspending() {
    return gate.isNoflushSuspending();
  }

  /** Whether new I/O is being held (for tests). */
  boolean isIoBlocked() {
    return gate.isBlocked();
  }

  // ---------------------------------------------------------------------------------------------
  // Control

  /** Loads table text into the inactive slot (read-write). */
  public void load(String table) {
    load(TableSpec.parse(table), false);
  }

  /** Loads table text into the inactive slot; {@code readOnly} as {@code dmsetup --readonly}. */
  public void load(String table, boolean readOnly) {
    load(TableSpec.parse(table), readOnly);
  }

  /**
   * Constructs the table's targets (opening their devices) and puts it in the inactive slot,
   * replacing and destroying any table already there. The live table and I/O are not affected.
   *
   * @throws TableException if the table is bad; nothing it opened stays open and the device is
   *     unchanged
   */
  public void load(TableSpec spec, boolean readOnly) {
    Objects.requireNonNull(spec, "spec");
    control.lock();
    try {
      ensureNotRemoved();
      Table t;
      try (Table.Loader loader = new Table.Loader(dm, this, readOnly)) {
        t = loader.load(spec);
      }
      Table lv = live;
      if (lv != null
          && lv.immutableType != null
          && lv.immutableType != t.immutableType
          && !t.hasWildcard) {
        t.destroy();
        throw new TableException(
            0, null, "can't replace immutable target type " + lv.immutableType.name());
      }
      Table old = inactive;
      inactive = t;
      if (old != null) {
        old.destroy();
      }
    } finally {
      dm.loadFinished(this);
      control.unlock();
    }
  }

  /** Drops the inactive table ({@code dmsetup clear}). */
  public void clear() {
    control.lock();
    try {
      ensureNotRemoved();
      Table old = inactive;
      inactive = null;
      if (old != null) {
        old.destroy();
      }
    } finally {
      control.unlock();
    }
  }

  /** {@link #suspend(SuspendMode)} with {@link SuspendMode#FLUSH}. */
  public void suspend() {
    suspend(SuspendMode.FLUSH);
  }

  /**
   * Quiesces the device: runs the targets' presuspend hooks, flushes unless {@code mode} says not
   * to, holds new I/O, waits for every I/O in flight to finish, runs the postsuspend hooks. A
   * device that is already suspended is left as it is. Waits as long as I/O takes; see {@link
   * #suspend(SuspendMode, Duration)} for a bounded wait.
   */
  public void suspend(SuspendMode mode) {
    Objects.requireNonNull(mode, "mode");
    control.lock();
    try {
      ensureNotRemoved();
      if (!suspended) {
        doSuspend(mode, Long.MAX_VALUE);
      }
    } finally {
      control.unlock();
    }
  }

  /**
   * As {@link #suspend(SuspendMode)}, but gives up if I/O in flight has not drained within {@code
   * timeout}: the suspend is then undone (held I/O is reissued, presuspend undone) and {@code
   * false} returned.
   */
  public boolean suspend(SuspendMode mode, Duration timeout) {
    Objects.requireNonNull(mode, "mode");
    long nanos = timeout.toNanos();
    control.lock();
    try {
      ensureNotRemoved();
      return suspended || doSuspend(mode, System.nanoTime() + nanos);
    } finally {
      control.unlock();
    }
  }

  /**
   * {@code __dm_suspend}: presuspend hooks, hold new I/O, wait for I/O in flight, then (for {@link
   * SuspendMode#FLUSH}) flush the table's devices, postsuspend hooks. With {@code NOFLUSH},
   * pushed-back I/O is kept while this runs.
   */
  private boolean doSuspend(SuspendMode mode, long deadline) {
    Table t = live;
    boolean noflush = mode == SuspendMode.NOFLUSH;
    gate.setNoflushSuspending(noflush);
    boolean done = false;
    try {
      if (t != null) {
        t.presuspend();
      }
      gate.block();
      if (t != null) {
        t.startSuspendingHolds();
      }
      if (!gate.awaitIdle(counters, deadline)) {
        if (t != null) {
          t.stopSuspendingHolds();
          t.presuspendUndo();
        }
        return false;
      }
      if (mode == SuspendMode.FLUSH && t != null && limits.writeCache()) {
        flushPastTheBlock();
      }
      suspended = true;
      done = true;
    } finally {
      gate.setNoflushSuspending(false);
      if (!done) {
        replayDeferred(); // undo: reissue what was held, unblock
      }
    }
    if (t != null) {
      t.postsuspend();
    }
    return true;
  }

  /**
   * Flushes the live table's devices while new I/O is held (jdm's stand-in for the kernel freezing
   * a file system on the device). A failure is logged and does not stop the suspend.
   */
  private void flushPastTheBlock() {
    SyncIo.Waiter w = new SyncIo.Waiter();
    Bio f = Bio.flush(w);
    f.setFlags(Bio.SYNC);
    int g = IoCounters.FLUSH;
    IoCounters.Cell cell = counters.cell();
    counters.start(cell, g);
    dispatch(f, g, cell);
    w.await();
    if (f.status() != BlockStatus.OK) {
      LOG.log(System.Logger.Level.WARNING, name + ": flush while suspending failed: " + f.status());
    }
  }

  /**
   * Makes the device serve I/O again ({@code dmsetup resume}). If a table is loaded in the inactive
   * slot it is swapped in first (suspending the device if it is running), and the old live table is
   * destroyed once the new one serves. Held I/O is reissued in the order it arrived.
   *
   * @throws DmException if the device is suspended with no table to resume with, or a target
   *     refused to resume (the device then stays suspended)
   */
  public void resume() {
    resume(SuspendMode.FLUSH);
  }

  /**
   * As {@link #resume()}, suspending with {@code mode} if a table swap needs the device suspended
   * ({@code dmsetup resume --noflush / --nolockfs}).
   */
  public void resume(SuspendMode mode) {
    Objects.requireNonNull(mode, "mode");
    control.lock();
    Table old = null;
    try {
      ensureNotRemoved();
      Table next = inactive;
      if (next != null) {
        if (!suspended) {
          doSuspend(mode, Long.MAX_VALUE);
        }
        inactive = null;
        old = live;
        IoLimits l = !next.hasDataDevices && old != null ? next.restrict(limits) : next.limits;
        next.bindEvents(this);
        limits = l;
        live = next;
        dm.globalEvent();
      }
      if (suspended) {
        Table t = live;
        if (t == null || t.size == 0) {
          throw new DmException(Errno.EINVAL, name + ": cannot resume without a table");
        }
        try {
          t.preresume();
        } catch (DmException e) {
          throw e;
        } catch (RuntimeException e) {
          throw new DmException(Errno.EINVAL, name + ": preresume failed: " + e.getMessage(), e);
        }
        t.resumeTargets();
        t.stopSuspendingHolds();
        suspended = false;
        replayDeferred();
      }
    } finally {
      control.unlock();
      if (old != null) {
        old.destroy();
      }
    }
  }

  /**
   * Unblocks I/O and reissues the held bios in the order they arrived, as the kernel's {@code
   * dm_queue_flush} + {@code dm_wq_work}: new I/O may run alongside the replay from here on (so a
   * completion callback that does I/O on this device does not wait behind the replay).
   */
  private void replayDeferred() {
    for (Bio b : gate.unblock()) {
      int g = IoCounters.group(b.op());
      IoCounters.Cell cell = counters.cell();
      counters.start(cell, g);
      dispatch(b, g, cell);
    }
  }

  public boolean isSuspended() {
    return suspended;
  }

  /** Whether a table is loaded in the inactive slot. */
  public boolean hasInactiveTable() {
    control.lock();
    try {
      return inactive != null;
    } finally {
      control.unlock();
    }
  }

  /** The live table, if any. */
  public Optional<Table> liveTable() {
    return Optional.ofNullable(live);
  }

  /**
   * The live table's allocation ({@link AllocationMap}): each target that implements {@link
   * AllocationMap} ({@code linear}, {@code zero}) is asked, the others count as data. Empty without
   * a live table.
   */
  @Override
  public List<Extent> extents(long sector, long sectors) throws IOException {
    Table t = refLive();
    if (t == null) {
      return List.of();
    }
    try {
      return TableAllocation.extents(t, sector, sectors);
    } finally {
      t.unref();
    }
  }

  /** What {@code dmsetup table} prints (a lone newline when there is no live table). */
  public String table() {
    return liveText(StatusType.TABLE);
  }

  /** The live table's text, read with a reference held so a resume cannot destroy it meanwhile. */
  private String liveText(StatusType type) {
    Table t = refLive();
    if (t == null) {
      return "\n";
    }
    try {
      return t.text(type);
    } finally {
      t.unref();
    }
  }

  /** The live table with a reference held (so it is not destroyed meanwhile), or null. */
  private Table refLive() {
    while (true) {
      Table t = live;
      if (t == null || t.ref()) {
        return t;
      }
      Thread.onSpinWait(); // being swapped out: the next read sees its successor
    }
  }

  /** {@code dmsetup table --inactive}. */
  public String inactiveTable() {
    control.lock();
    try {
      return inactive == null ? "\n" : inactive.toString();
    } finally {
      control.unlock();
    }
  }

  /** What {@code dmsetup status} prints (a lone newline when there is no live table). */
  public String status() {
    return liveText(StatusType.INFO);
  }

  /** What {@code dmsetup info} reports. */
  public DeviceInfo info() {
    Table t = live;
    boolean inactivePresent;
    control.lock();
    try {
      inactivePresent = inactive != null;
    } finally {
      control.unlock();
    }
    return new DeviceInfo(
        name,
        suspended,
        t != null && t.readOnly,
        deferredRemove,
        READ_AHEAD,
        t != null,
        inactivePresent,
        openCount.get(),
        eventNr.get(),
        number,
        t == null ? 0 : t.targetCount(),
        Optional.ofNullable(uuid));
  }

  /** I/O statistics, the fields of {@code /proc/diskstats}. */
  public IoStats stats() {
    return counters.snapshot();
  }

  /** I/Os started and not yet finished at this device. */
  public long inFlight() {
    return Math.max(0, counters.inFlight());
  }

  /**
   * Sends a message to the target at {@code sector} ({@code dmsetup message}), or to the core for
   * words starting with {@code @}. Returns the reply, "" when there is none.
   *
   * @throws TargetException with the kernel's text when the message is refused
   */
  public String message(long sector, String... argv) {
    if (argv.length == 0) {
      throw new TargetException("Empty message received.");
    }
    if (argv[0].startsWith("@")) {
      if (ArgSet.equalsIgnoreCase(argv[0], "@cancel_deferred_remove")) {
        if (argv.length != 1) {
          throw new TargetException("Invalid arguments for @cancel_deferred_remove");
        }
        cancelDeferredRemove();
        return "";
      }
      throw new TargetException("Unsupported message sent to DM core: " + argv[0]);
    }
    Table t = refLive();
    if (t == null) {
      throw new TargetException("The device has no table.");
    }
    try {
      if (removed) {
        throw new TargetException(Errno.ENXIO, "device has been removed");
      }
      if (sector < 0 || sector >= t.size) {
        throw new TargetException("Target message sector outside device.");
      }
      String reply = t.targets[t.find(sector)].message(argv.clone());
      return reply == null ? "" : reply;
    } finally {
      t.unref();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Events, open count, dependencies

  /** The event number: raised by target events, rename and remove, never by table swaps. */
  public int eventNr() {
    return eventNr.get();
  }

  /**
   * Waits until the event number differs from {@code eventNr} ({@code dmsetup wait}) or the timeout
   * passes; returns the current event number.
   */
  public int awaitEvent(int eventNr, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (eventLock) {
      while (this.eventNr.get() == eventNr) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          break;
        }
        TimeUnit.NANOSECONDS.timedWait(eventLock, left);
      }
      return this.eventNr.get();
    }
  }

  void raiseEvent() {
    eventNr.incrementAndGet();
    synchronized (eventLock) {
      eventLock.notifyAll();
    }
  }

  /** Openers, including tables of other devices that use this one. */
  public int openCount() {
    return openCount.get();
  }

  /**
   * Opens the device ({@code open(2)} on {@code /dev/mapper/NAME}): the returned handle submits to
   * this device, and the device cannot be removed until the handle is closed.
   */
  public BlockDevice open() {
    dm.openHandle(this);
    return new Opener(this);
  }

  /**
   * The {@link FileChannel} view, holding the device open until the channel is closed: {@code
   * remove} fails with {@code EBUSY} meanwhile (as with an open {@code /dev/mapper} node), and if
   * the device goes away all the same (its device mapper closed), the channel's operations fail
   * with an {@link java.io.IOException} saying "device removed".
   *
   * @throws IllegalStateException if the device has been removed
   */
  @Override
  public FileChannel asFileChannel() {
    BlockDevice handle = open();
    return new BlockDeviceChannel(handle, () -> removed, handle);
  }

  /** Called by the device mapper with its lock held, after checking the device is still there. */
  void acquireOpen() {
    openCount.incrementAndGet();
  }

  /** An opener went away; removes the device if a deferred remove waits for that. */
  void releaseOpen() {
    if (dm.releaseOpener(this)) {
      try {
        dm.removeDeferred(this);
      } catch (DmException e) {
        LOG.log(System.Logger.Level.WARNING, name + ": deferred remove failed", e);
      }
    }
  }

  /** Called by the device mapper with its lock held: true when a deferred remove is due. */
  boolean dropOpener() {
    return openCount.decrementAndGet() == 0 && deferredRemove && !removed;
  }

  void markDeferredRemove() {
    deferredRemove = true;
  }

  private void cancelDeferredRemove() {
    if (removed) {
      throw new TargetException(Errno.EBUSY, "device is being removed");
    }
    deferredRemove = false;
  }

  /** Devices the live and inactive tables use ({@code dmsetup deps}). */
  public List<DeviceNumber> deps() {
    Set<DeviceNumber> s = new LinkedHashSet<>();
    control.lock();
    try {
      for (Table t : new Table[] {live, inactive}) {
        if (t != null) {
          for (DmDev d : t.devices) {
            s.add(d.number());
          }
        }
      }
    } finally {
      control.unlock();
    }
    return List.copyOf(s);
  }

  /** Mapped devices the live and inactive tables use, for dependency-loop checks. */
  List<MappedDevice> mappedDeps() {
    List<MappedDevice> l = new ArrayList<>();
    for (Table t : new Table[] {live, inactive}) {
      if (t != null) {
        for (DmDevImpl d : t.devices) {
          if (d.mapped() != null) {
            l.add(d.mapped());
          }
        }
      }
    }
    return l;
  }

  // ---------------------------------------------------------------------------------------------
  // Removal

  ReentrantLock controlLock() {
    return control;
  }

  boolean isRemoved() {
    return removed;
  }

  void setName(String name) {
    this.name = name;
  }

  void setUuid(String uuid) {
    this.uuid = uuid;
  }

  /**
   * Tears the device down: holds new I/O, waits for I/O in flight, fails held I/O, destroys both
   * tables. Called by {@link DeviceMapper} with the control lock held.
   */
  void teardown() {
    if (!suspended && live != null) {
      doSuspend(SuspendMode.NOLOCKFS, Long.MAX_VALUE);
    }
    removed = true;
    for (Bio b : gate.close()) {
      b.complete(BlockStatus.IOERR);
    }
    Table l = live;
    Table i = inactive;
    live = null;
    inactive = null;
    if (l != null) {
      l.destroy();
    }
    if (i != null) {
      i.destroy();
    }
    raiseEvent();
  }

  private void ensureNotRemoved() {
    if (removed) {
      throw new DmException(Errno.ENXIO, name + ": device has been removed");
    }
  }

  /**
   * Removes the device from its device mapper ({@code dmsetup remove}); does nothing if it is
   * already removed.
   *
   * @throws DmException ({@link Errno#EBUSY}) while the device is open or used by another table
   */
  public void remove() {
    if (!removed) {
      dm.remove(this);
    }
  }

  /**
   * {@link #remove()}: the end of the device for whoever made it. A mapped device is a {@link
   * BlockDevice}, and a closed block device refuses I/O (the conformance suite holds every device
   * to that), so {@code close()} cannot leave it serving. Code that only looks a device up ({@link
   * DeviceMapper#device}) and wants to keep it from being removed while it works uses the handle
   * from {@link #open()}, whose {@code close()} only releases the handle.
   *
   * @throws DmException ({@link Errno#EBUSY}) while the device is open or used by another table
   */
  @Override
  public void close() {
    remove();
  }

  @Override
  public String toString() {
    return "MappedDevice[" + name + " " + number + "]";
  }

  /** A handle from {@link #open()}. */
  private static final class Opener implements BlockDevice, AllocationMap {
    private final MappedDevice md;
    private volatile boolean closed;

    Opener(MappedDevice md) {
      this.md = md;
    }

    @Override
    public String name() {
      return md.name();
    }

    @Override
    public long sectors() {
      return md.sectors();
    }

    @Override
    public IoLimits limits() {
      return md.limits();
    }

    @Override
    public boolean isReadOnly() {
      return md.isReadOnly();
    }

    @Override
    public void submit(Bio bio) {
      if (closed) {
        throw new IllegalStateException(md.name() + ": handle is closed");
      }
      md.submit(bio);
    }

    @Override
    public List<Extent> extents(long sector, long sectors) throws IOException {
      return md.extents(sector, sectors);
    }

    @Override
    public void close() {
      boolean first;
      synchronized (this) {
        first = !closed;
        closed = true;
      }
      if (first) {
        md.releaseOpen();
      }
    }

    @Override
    public String toString() {
      return "open " + md;
    }
  }
}
