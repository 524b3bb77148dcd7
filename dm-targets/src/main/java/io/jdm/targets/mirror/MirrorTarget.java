package io.jdm.targets.mirror;

import io.jdm.core.Bio;
import io.jdm.core.BioHoldList;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceArea;
import io.jdm.core.DmDev;
import io.jdm.core.EndIoResult;
import io.jdm.core.EndIoTarget;
import io.jdm.core.MapResult;
import io.jdm.core.StatusType;
import io.jdm.core.TargetContext;
import io.jdm.core.Workqueue;
import io.jdm.core.dirtylog.DirtyLog;
import io.jdm.core.io.DmIo;
import io.jdm.core.io.DmIoException;
import io.jdm.core.io.Kcopyd;
import io.jdm.core.region.Region;
import io.jdm.core.region.RegionHash;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One {@code mirror} table line: the kernel's {@code struct mirror_set} and its {@code kmirrord}
 * ({@code drivers/md/dm-raid1.c}, v1.14.0), built on the core's {@link DirtyLog}, {@link
 * RegionHash}, {@link DmIo} and {@link Kcopyd}.
 *
 * <h2>I/O</h2>
 *
 * <ul>
 *   <li>Reads of a region the log has in sync are remapped in {@link #map} to the default leg, or,
 *       if it has failed, to the next healthy leg searching backwards ({@code choose_mirror});
 *       other reads go through the worker, which reads them from the default leg (or a healthy one
 *       if the region is in sync by then). A failed read marks its leg {@code R} and is retried on
 *       another leg while the default one is healthy or the region is in sync; else it fails.
 *   <li>Every write, flush and discard goes through the worker: the region hash sorts a batch by
 *       region state, marks new dirty regions and flushes the log before the batch goes out; writes
 *       to in-sync regions, flushes and discards go to every leg through one {@link DmIo} request
 *       (keeping {@link Bio#FUA} and {@link Bio#PREFLUSH}), writes to out-of-sync regions to the
 *       default leg only, writes to regions being recovered wait for the recovery.
 *   <li>A write that failed on some leg marks the leg {@code D} and its region out of sync. Without
 *       {@code handle_errors} it then succeeds (all legs dead: {@code EIO}). With it, the failure
 *       raises a table event, moves the default leg to a healthy one (if the mirror was in sync or
 *       has {@code keep_log}), and the write is held until the device suspends: a {@code noflush}
 *       suspend pushes it back to the core, which reissues it after resume, any other fails it. A
 *       failed discard completes with {@code NOTSUPP} and fails no leg.
 * </ul>
 *
 * <p>jdm extension ({@link ReadBalance}, off unless the table asks with {@code
 * jdm_read_balance=...}, a feature no kernel table contains): reads of in-sync regions mapped
 * directly are spread over the healthy legs round-robin or to the leg with the fewest reads in
 * flight; everything else (retries, out-of-sync regions) is as the kernel's.
 *
 * <h2>Resync</h2>
 *
 * Regions the log does not have in sync are copied from the default leg to all others by {@link
 * Kcopyd}, one region at a time ({@code MAX_RECOVERY}), under {@link #resyncThrottle()}; a copy
 * error marks the leg {@code S}. Status shows {@code <in sync>/<regions>}; when every region is in
 * sync a table event is raised and the legs' error marks are cleared, as the kernel does.
 *
 * <h2>Threads</h2>
 *
 * {@link #map} never blocks: reads of in-sync regions are remapped in place; a write to a region
 * already dirty, whose mark is on disk, is counted by {@link RegionHash#tryStartWrite} and sent to
 * every leg at once (jdm's fast path: what the worker would do with it, without the thread hop),
 * and so is the first write to any in-sync region when the log's marks need no flush (the {@code
 * core} log: the region is marked dirty in {@code map}); everything else is queued (one lock-free
 * queue node per bio) for the worker, a single-thread {@link Workqueue} that runs the kernel's
 * {@code do_mirror} passes one at a time. Completions run on the lower devices' threads and only
 * record, queue and wake. Leg error state is atomic; the default leg is a volatile index. A write
 * of {@code PARALLEL_LEG_SECTORS} or more goes to the first leg from the submitting thread and to
 * the others from the {@code kmirror-legs} workqueue, so that legs which complete synchronously
 * copy side by side.
 *
 * <h2>Differences from the kernel</h2>
 *
 * <ul>
 *   <li>A recovery's write errors are matched to legs by the destinations recorded when the copy
 *       started, not by the default leg at completion (which may have moved meanwhile here).
 *   <li>{@link #presuspendUndo()} (a suspend given up) restarts recovery; the kernel has no undo
 *       and leaves it stopped until the next resume.
 *   <li>With a log in memory, a region that becomes clean is cleared in the log by the worker on
 *       its delayed timer, not at once (the kernel wakes {@code kmirrord} for every such region).
 * </ul>
 */
public final class MirrorTarget implements EndIoTarget {
  private static final System.Logger LOG = System.getLogger(MirrorTarget.class.getName());

  private static final int MAX_RECOVERY = 1;

  /** Writes of at least this many sectors (64 KiB) go to the legs side by side. */
  private static final int PARALLEL_LEG_SECTORS = 128;

  /** Delay before retrying writes to regions another node is recovering ({@code HZ / 5}). */
  private static final long DELAYED_WAKE_NANOS = TimeUnit.MILLISECONDS.toNanos(200);

  /**
   * jdm's read balancing, an extension off by default: which healthy leg serves a read of an
   * in-sync region. The kernel always uses the default leg ({@link #NONE}).
   */
  public enum ReadBalance {
    NONE(""),
    /** Each read to the next healthy leg in turn. */
    ROUND_ROBIN("round_robin"),
    /** The healthy leg with the fewest reads in flight (the default leg on a tie). */
    LEAST_PENDING("least_pending");

    final String word;

    ReadBalance(String word) {
      this.word = word;
    }

    static ReadBalance parse(String word) {
      for (ReadBalance b : values()) {
        if (b != NONE && b.word.equals(word)) {
          return b;
        }
      }
      return null;
    }
  }

  /** Kinds of leg failure, in the bit order of {@code enum dm_raid1_error}. */
  enum ErrorType {
    WRITE,
    FLUSH,
    SYNC,
    READ
  }

  /** One leg ({@code struct mirror}). */
  static final class Leg {
    final int index;
    final DmDev dev;
    final BlockDevice bdev;
    final long offset;
    final AtomicInteger errorCount = new AtomicInteger();
    final AtomicInteger errorType = new AtomicInteger();

    /** Reads in flight, counted only under {@link ReadBalance#LEAST_PENDING}. */
    final AtomicInteger readsInFlight = new AtomicInteger();

    Leg(int index, DmDev dev, long offset) {
      this.index = index;
      this.dev = dev;
      this.bdev = dev.bdev();
      this.offset = offset;
    }

    /** Sets the bit of {@code t}; returns whether it was set already ({@code test_and_set_bit}). */
    boolean testAndSetError(ErrorType t) {
      int bit = 1 << t.ordinal();
      return (errorType.getAndUpdate(v -> v | bit) & bit) != 0;
    }

    boolean hasError(ErrorType t) {
      return (errorType.get() & (1 << t.ordinal())) != 0;
    }

    /** The worst error seen ({@code device_status_char}). */
    char statusChar() {
      if (errorCount.get() == 0) {
        return 'A';
      }
      return hasError(ErrorType.FLUSH)
          ? 'F'
          : hasError(ErrorType.WRITE)
              ? 'D'
              : hasError(ErrorType.SYNC) ? 'S' : hasError(ErrorType.READ) ? 'R' : 'U';
    }
  }

  /** The log's flush callback ({@code mirror_flush}), bound once the target exists. */
  static final class FlushHook implements DirtyLog.FlushCallback {
    private volatile MirrorTarget target;

    void bind(MirrorTarget t) {
      target = t;
    }

    @Override
    public void flush() throws IOException {
      MirrorTarget t = target;
      if (t != null) {
        t.flushLegs();
      }
    }
  }

  private final TargetContext ctx;
  private final long begin;
  private final long length;
  private final DirtyLog log;
  private final RegionHash rh;
  private final Leg[] legs;
  private final boolean handleErrors;
  private final boolean keepLog;
  private final ReadBalance balance;
  private final AtomicInteger nextLeg = new AtomicInteger();
  private final long nrRegions;
  private final long regionSize;
  private final int regionShift;
  private final List<DeviceArea> areas;

  private final Workqueue kmirrord;
  private final Workqueue legSubmitter;
  private final Kcopyd kcopyd;
  private final Kcopyd.Throttle throttle;
  private final BioHoldList holds;

  private final ConcurrentLinkedQueue<Bio> reads = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<Bio> writes = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<Bio> failures = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean workPending = new AtomicBoolean();
  private final AtomicBoolean timerPending = new AtomicBoolean();
  private final Runnable doMirror = this::doMirror;

  private volatile int defaultMirror;
  private volatile boolean inSync;
  private volatile boolean logFailure;
  private volatile boolean legFailure;
  private volatile boolean closed;

  /** {@code ms->suspend}; guarded by {@code holdLock} for holding. */
  private volatile boolean suspend;

  private final Object holdLock = new Object();
  private final Object recoveryWaiters = new Object();
  private boolean recoveryRunning; // control path only

  MirrorTarget(
      TargetContext ctx,
      long begin,
      long length,
      DirtyLog log,
      Leg[] legs,
      boolean handleErrors,
      boolean keepLog,
      ReadBalance balance,
      int throttlePercent) {
    this.ctx = ctx;
    this.begin = begin;
    this.length = length;
    this.log = log;
    this.legs = legs;
    this.handleErrors = handleErrors;
    this.keepLog = keepLog;
    this.balance = balance;
    this.regionSize = log.regionSize();
    this.regionShift = Long.numberOfTrailingZeros(regionSize);
    this.nrRegions = (length + regionSize - 1) / regionSize;
    List<DeviceArea> a = new ArrayList<>(legs.length);
    for (Leg l : legs) {
      a.add(new DeviceArea(l.dev, l.offset, length));
    }
    this.areas = List.copyOf(a);
    this.rh =
        RegionHash.create(
            log,
            begin,
            MAX_RECOVERY,
            new RegionHash.Callbacks() {
              @Override
              public void dispatchBios(List<Bio> bios) {
                writes.addAll(bios);
                wakeup();
              }

              @Override
              public void wakeupWorkers() {
                wakeup();
              }

              @Override
              public void regionCleaned() {
                // A log in memory loses nothing by clearing the region a little later: spare the
                // writer a worker wake-up per write (the kernel wakes kmirrord each time).
                if (log.marksNeedFlush()) {
                  wakeup();
                } else {
                  delayedWake();
                }
              }

              @Override
              public void wakeupAllRecoveryWaiters() {
                synchronized (recoveryWaiters) {
                  recoveryWaiters.notifyAll();
                }
              }
            });
    this.holds = ctx.holdList(BlockStatus.IOERR);
    this.kmirrord = ctx.workqueue("kmirrord", 1);
    this.legSubmitter = ctx.workqueue("kmirror-legs", 1);
    this.throttle = new Kcopyd.Throttle(ctx.clock(), throttlePercent);
    this.kcopyd =
        Kcopyd.builder("mirror-" + ctx.deviceName())
            .throttle(throttle)
            .workqueue(ctx.workqueue("kcopyd", 1))
            .build();
    wakeup();
  }

  // ---------------------------------------------------------------------------------------------
  // Accessors

  /** The share of time resync may spend in I/O ({@code raid1_resync_throttle}); settable. */
  public Kcopyd.Throttle resyncThrottle() {
    return throttle;
  }

  /** Index of the default leg (the one reads go to and resync copies from). */
  public int defaultLeg() {
    return defaultMirror;
  }

  /** Number of regions. */
  public long regionCount() {
    return nrRegions;
  }

  /** Regions in sync now (the log's {@code get_sync_count}). */
  public long syncCount() {
    return log.syncCount();
  }

  /** Write bios held for the next suspend (with {@code handle_errors}). */
  public int heldWrites() {
    return holds.size();
  }

  /**
   * Waits until the worker has run every pass queued before the call ({@code flush_workqueue}).
   * Must not be called from a completion or the worker.
   */
  public void flushWorker() {
    kmirrord.flush();
  }

  // ---------------------------------------------------------------------------------------------
  // Legs

  private Leg defaultMirror() {
    return legs[defaultMirror];
  }

  /** The first leg without errors ({@code get_valid_mirror}). */
  private Leg validMirror() {
    for (Leg m : legs) {
      if (m.errorCount.get() == 0) {
        return m;
      }
    }
    return null;
  }

  /** {@code fail_mirror}: never blocks. */
  void failMirror(Leg m, ErrorType type) {
    legFailure = true;
    m.errorCount.incrementAndGet();
    if (m.testAndSetError(type)) {
      return;
    }
    if (!handleErrors) {
      return;
    }
    if (m == defaultMirror()) {
      if (!inSync && !keepLog) {
        // Better to keep using a failing leg than to risk returning stale data.
        LOG.log(
            System.Logger.Level.ERROR,
            "Primary mirror ({0}) failed while out-of-sync: Reads may fail.",
            m.dev.name());
      } else {
        Leg n = validMirror();
        if (n != null) {
          defaultMirror = n.index;
        } else {
          LOG.log(System.Logger.Level.WARNING, "All sides of mirror have failed.");
        }
      }
    }
    ctx.triggerEvent();
  }

  /** {@code mirror_flush}: an empty flush to every leg, the log's flush callback. */
  void flushLegs() throws IOException {
    List<DmIo.Region> io = new ArrayList<>(legs.length);
    for (Leg m : legs) {
      io.add(new DmIo.Region(m.bdev, 0, 0));
    }
    try {
      DmIo.run(Bio.Op.FLUSH, 0, io, null);
    } catch (DmIoException e) {
      long bits = e.errorBits();
      for (int i = 0; i < legs.length; i++) {
        if ((bits & (1L << i)) != 0) {
          failMirror(legs[i], ErrorType.FLUSH);
        }
      }
      throw e;
    }
  }

  /** {@code choose_mirror}: the default leg if healthy, else the next healthy one backwards. */
  private Leg chooseMirror() {
    int d = defaultMirror;
    int i = d;
    do {
      Leg m = legs[i];
      if (m.errorCount.get() == 0) {
        return m;
      }
      i = i == 0 ? legs.length - 1 : i - 1;
    } while (i != d);
    return null;
  }

  /** A healthy leg by the {@link ReadBalance} rule (reads of in-sync regions only). */
  private Leg balancedMirror() {
    int n = legs.length;
    if (balance == ReadBalance.ROUND_ROBIN) {
      int start = Math.floorMod(nextLeg.getAndIncrement(), n);
      for (int k = 0; k < n; k++) {
        Leg m = legs[(start + k) % n];
        if (m.errorCount.get() == 0) {
          return m;
        }
      }
      return null;
    }
    Leg best = chooseMirror(); // the kernel's choice wins ties
    if (best == null) {
      return null;
    }
    int least = best.readsInFlight.get();
    for (Leg m : legs) {
      int p;
      if (m.errorCount.get() == 0 && (p = m.readsInFlight.get()) < least) {
        best = m;
        least = p;
      }
    }
    return best;
  }

  private boolean defaultOk() {
    return defaultMirror().errorCount.get() == 0;
  }

  /** {@code mirror_available}: the region is in sync and some leg is healthy. */
  private boolean mirrorAvailable(long sector) {
    long region = (sector - begin) >>> regionShift;
    return log.inSync(region, false) == DirtyLog.SyncState.IN_SYNC && chooseMirror() != null;
  }

  private long mapSector(Leg m, Bio bio) {
    return bio.op() == Bio.Op.FLUSH ? 0 : m.offset + (bio.sector() - begin);
  }

  private void mapBio(Leg m, Bio bio) {
    bio.remap(m.bdev, mapSector(m, bio));
  }

  private long bioToRegion(Bio bio) {
    return (bio.sector() - begin) >>> regionShift;
  }

  // ---------------------------------------------------------------------------------------------
  // The worker

  private void wakeup() {
    if (!workPending.get() && workPending.compareAndSet(false, true)) {
      try {
        kmirrord.execute(doMirror);
      } catch (IllegalStateException e) {
        workPending.set(false); // the table is gone
      }
    }
  }

  /** {@code delayed_wake}: runs the worker again a little later. */
  private void delayedWake() {
    if (timerPending.compareAndSet(false, true)) {
      try {
        kmirrord.schedule(
            () -> {
              timerPending.set(false);
              wakeup();
            },
            DELAYED_WAKE_NANOS);
      } catch (IllegalStateException e) {
        timerPending.set(false);
      }
    }
  }

  private static List<Bio> drain(ConcurrentLinkedQueue<Bio> q) {
    Bio b = q.poll();
    if (b == null) {
      return List.of();
    }
    List<Bio> l = new ArrayList<>();
    do {
      l.add(b);
    } while ((b = q.poll()) != null);
    return l;
  }

  /** {@code do_mirror}: one pass of the worker. */
  private void doMirror() {
    workPending.set(false);
    List<Bio> r = drain(reads);
    List<Bio> w = drain(writes);
    List<Bio> f = drain(failures);
    try {
      rh.updateStates(handleErrors);
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "mirror log flush failed: " + e.getMessage());
    }
    doRecovery();
    doReads(r);
    doWrites(w);
    doFailures(f);
  }

  private void doRecovery() {
    rh.recoveryPrepare();
    Region reg;
    while ((reg = rh.recoveryStart()) != null) {
      recover(reg);
    }
    if (!inSync && log.syncCount() == nrRegions) {
      ctx.triggerEvent();
      inSync = true;
      resetFlags();
    }
  }

  private void resetFlags() {
    legFailure = false;
    for (Leg m : legs) {
      m.errorCount.set(0);
      m.errorType.set(0);
    }
  }

  /** {@code recover}: copies one region from the default leg to every other. */
  private void recover(Region reg) {
    long key = reg.key();
    Leg from = defaultMirror();
    long start = rh.regionToSector(key);
    long count = regionSize;
    if (key == nrRegions - 1) {
      long rest = length & (regionSize - 1);
      if (rest != 0) {
        count = rest;
      }
    }
    List<DmIo.Region> to = new ArrayList<>(legs.length - 1);
    Leg[] dests = new Leg[legs.length - 1];
    for (Leg m : legs) {
      if (m == from) {
        continue;
      }
      dests[to.size()] = m;
      to.add(new DmIo.Region(m.bdev, m.offset + start, count));
    }
    try {
      kcopyd.copy(
          new DmIo.Region(from.bdev, from.offset + start, count),
          to,
          handleErrors ? 0 : Kcopyd.IGNORE_ERROR,
          (readErr, writeErr) -> recoveryComplete(reg, from, dests, readErr, writeErr));
    } catch (IllegalStateException e) {
      rh.recoveryEnd(reg, false); // kcopyd closed under us: the region stays out of sync
    }
  }

  private void recoveryComplete(Region reg, Leg from, Leg[] dests, boolean readErr, long writeErr) {
    if (readErr) {
      LOG.log(System.Logger.Level.ERROR, "Unable to read primary mirror during recovery");
      failMirror(from, ErrorType.SYNC);
    }
    if (writeErr != 0) {
      LOG.log(
          System.Logger.Level.ERROR,
          "Write error during recovery (error = 0x" + Long.toHexString(writeErr) + ")");
      for (int i = 0; i < dests.length; i++) {
        if ((writeErr & (1L << i)) != 0) {
          failMirror(dests[i], ErrorType.SYNC);
        }
      }
    }
    rh.recoveryEnd(reg, !(readErr || writeErr != 0));
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  private boolean regionInSync(long region) {
    RegionHash.State s = rh.state(region, true);
    return s == RegionHash.State.CLEAN || s == RegionHash.State.DIRTY;
  }

  private void doReads(List<Bio> list) {
    for (Bio bio : list) {
      long region = bioToRegion(bio);
      Leg m = defaultMirror();
      if (regionInSync(region)) {
        m = chooseMirror();
      } else if (m.errorCount.get() != 0) {
        m = null;
      }
      if (m == null) {
        bio.setTargetContext(null);
        bio.complete(BlockStatus.IOERR);
        continue;
      }
      readFrom(m, bio);
    }
  }

  /** Sends a read to {@code m}, remembering where it was for a retry ({@code dm_bio_record}). */
  private void readFrom(Leg m, Bio bio) {
    if (balance == ReadBalance.LEAST_PENDING) {
      m.readsInFlight.incrementAndGet();
    }
    bio.setTargetContext(m);
    bio.setTargetLong(bio.sector());
    mapBio(m, bio);
    submitBelow(bio);
  }

  private static void submitBelow(Bio bio) {
    try {
      bio.submit();
    } catch (IllegalStateException e) {
      if (bio.isCompleted()) {
        throw e;
      }
      bio.complete(BlockStatus.IOERR); // the leg refused it: closed or removed
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Writes

  private void doWrites(List<Bio> list) {
    if (list.isEmpty()) {
      return;
    }
    RegionHash.WriteBatch batch = rh.startWrites(list);
    if (!batch.requeue().isEmpty()) {
      writes.addAll(batch.requeue());
      delayedWake();
    }
    if (batch.logFailure() != null) {
      // Once the log failed, only the user can clear it (with a new table).
      logFailure = true;
    }
    if (logFailure && handleErrors) {
      failures.addAll(batch.sync());
      wakeup();
    } else {
      for (Bio bio : batch.sync()) {
        doWrite(bio);
      }
    }
    for (Bio bio : batch.nosync()) {
      if (legFailure && handleErrors && !keepLog) {
        failures.add(bio);
        wakeup();
      } else {
        mapBio(defaultMirror(), bio);
        submitBelow(bio);
      }
    }
  }

  /** {@code do_write}: the bio to every leg through dm-io. */
  private void doWrite(Bio bio) {
    int flags = bio.flags() & (Bio.FUA | Bio.PREFLUSH);
    Bio.Op op = bio.op();
    if (op == Bio.Op.WRITE && bio.sectors() >= PARALLEL_LEG_SECTORS) {
      new LegWrites(bio, flags).start();
      return;
    }
    List<DmIo.Region> io = new ArrayList<>(legs.length);
    for (Leg m : legs) {
      io.add(new DmIo.Region(m.bdev, mapSector(m, bio), op == Bio.Op.FLUSH ? 0 : bio.sectors()));
    }
    ByteBuffer data = op == Bio.Op.WRITE ? bio.payload() : null;
    try {
      DmIo.submit(op, flags, io, data, bits -> writeCallback(bio, bits));
    } catch (IllegalArgumentException e) {
      LOG.log(System.Logger.Level.ERROR, "mirror: cannot write " + bio + ": " + e.getMessage());
      bio.complete(BlockStatus.IOERR);
    }
  }

  /**
   * A large write sent to the legs side by side: the first leg's dm-io request from this thread,
   * the other legs' from {@link #legSubmitter} (one thread, so every leg sees these writes in the
   * order they were mapped), so that legs which complete synchronously (memory devices, a page
   * cache) copy in parallel instead of one after the other. The per-leg error bits are gathered as
   * one dm-io request would report them.
   */
  private final class LegWrites implements Runnable {
    private final Bio bio;
    private final int flags;
    private final AtomicInteger remaining = new AtomicInteger(legs.length);
    private final AtomicLong errors = new AtomicLong();

    LegWrites(Bio bio, int flags) {
      this.bio = bio;
      this.flags = flags;
    }

    void start() {
      try {
        legSubmitter.execute(this);
      } catch (IllegalStateException e) {
        run(); // the table is going away: submit from here
      }
      leg(0);
    }

    /** Submits every leg but the first. */
    @Override
    public void run() {
      for (int i = 1; i < legs.length; i++) {
        leg(i);
      }
    }

    private void leg(int i) {
      Leg m = legs[i];
      ByteBuffer data = bio.payload().duplicate();
      try {
        DmIo.submit(
            Bio.Op.WRITE,
            flags,
            List.of(new DmIo.Region(m.bdev, mapSector(m, bio), bio.sectors())),
            data,
            bits -> done(i, bits));
      } catch (IllegalArgumentException e) {
        LOG.log(System.Logger.Level.ERROR, "mirror: cannot write " + bio + ": " + e.getMessage());
        done(i, 1);
      }
    }

    private void done(int i, long bits) {
      if (bits != 0) {
        errors.getAndAccumulate(1L << i, (a, b) -> a | b);
      }
      if (remaining.decrementAndGet() == 0) {
        writeCallback(bio, errors.get());
      }
    }
  }

  /** {@code write_callback}: runs on the thread that completed the last leg's I/O. */
  private void writeCallback(Bio bio, long error) {
    if (error == 0) {
      bio.complete(BlockStatus.OK);
      return;
    }
    if (bio.op() == Bio.Op.DISCARD) {
      bio.complete(BlockStatus.NOTSUPP); // an error, but no reason to degrade the mirror
      return;
    }
    for (int i = 0; i < legs.length; i++) {
      if ((error & (1L << i)) != 0) {
        failMirror(legs[i], ErrorType.WRITE);
      }
    }
    failures.add(bio);
    wakeup();
  }

  /** {@code do_failures}. */
  private void doFailures(List<Bio> list) {
    for (Bio bio : list) {
      if (!logFailure) {
        inSync = false;
        rh.markNosync(bio);
      }
      if (validMirror() == null || (keepLog && logFailure)) {
        bio.complete(BlockStatus.IOERR);
      } else if (handleErrors && !keepLog) {
        holdBio(bio);
      } else {
        bio.complete(BlockStatus.OK);
      }
    }
  }

  /** {@code hold_bio}: keeps a write until the device suspends. */
  private void holdBio(Bio bio) {
    synchronized (holdLock) {
      if (!suspend) {
        holds.hold(bio);
        return;
      }
    }
    letGo(bio);
  }

  private void letGo(Bio bio) {
    bio.complete(ctx.noflushSuspending() ? BlockStatus.DM_REQUEUE : BlockStatus.IOERR);
  }

  // ---------------------------------------------------------------------------------------------
  // Target

  @Override
  public MapResult map(Bio bio) {
    Bio.Op op = bio.op();
    if (op != Bio.Op.READ) {
      // Writes, flushes and discards: the region is kept for endIo ({@code write_region}).
      boolean counted = op == Bio.Op.WRITE && !bio.hasFlag(Bio.PREFLUSH);
      bio.setTargetLong(counted ? bioToRegion(bio) : -1);
      bio.setTargetContext(null);
      if (counted && !(logFailure && handleErrors) && rh.tryStartWrite(bio)) {
        // jdm's fast path: a dirty region whose mark is on disk needs no worker pass; the write
        // goes to every leg now, exactly as do_writes would send it
        doWrite(bio);
        return MapResult.SUBMITTED;
      }
      writes.add(bio);
      wakeup();
      return MapResult.SUBMITTED;
    }
    DirtyLog.SyncState s = log.inSync(bioToRegion(bio), false);
    if (s != DirtyLog.SyncState.IN_SYNC) {
      if (bio.hasFlag(Bio.RAHEAD)) {
        return MapResult.KILL;
      }
      bio.setTargetContext(null);
      reads.add(bio);
      wakeup();
      return MapResult.SUBMITTED;
    }
    Leg m = balance == ReadBalance.NONE ? chooseMirror() : balancedMirror();
    if (m == null) {
      return MapResult.KILL;
    }
    if (balance == ReadBalance.LEAST_PENDING) {
      m.readsInFlight.incrementAndGet();
    }
    bio.setTargetContext(m);
    bio.setTargetLong(bio.sector());
    mapBio(m, bio);
    return MapResult.REMAPPED;
  }

  @Override
  public EndIoResult endIo(Bio bio, BlockStatus status) {
    if (bio.op() != Bio.Op.READ) {
      long region = bio.targetLong();
      if (region >= 0) {
        rh.dec(region);
      }
      return EndIoResult.DONE;
    }
    Leg m = (Leg) bio.targetContext();
    bio.setTargetContext(null);
    if (m != null && balance == ReadBalance.LEAST_PENDING) {
      m.readsInFlight.decrementAndGet();
    }
    if (status == BlockStatus.NOTSUPP || bio.hasFlag(Bio.RAHEAD) || !status.isError()) {
      return EndIoResult.DONE;
    }
    if (m == null) {
      LOG.log(System.Logger.Level.ERROR, "Mirror read failed.");
      return EndIoResult.DONE;
    }
    LOG.log(
        System.Logger.Level.ERROR,
        "Mirror read failed from {0}. Trying alternative device.",
        m.dev.name());
    failMirror(m, ErrorType.READ);
    long sector = bio.targetLong();
    if (defaultOk() || mirrorAvailable(sector)) {
      bio.setSector(sector);
      bio.setStatus(BlockStatus.OK);
      if (closed) {
        return EndIoResult.DONE;
      }
      reads.add(bio);
      wakeup();
      return EndIoResult.INCOMPLETE;
    }
    LOG.log(System.Logger.Level.ERROR, "All replicated volumes dead, failing I/O");
    return EndIoResult.DONE;
  }

  @Override
  public void presuspend() {
    Bio[] held;
    synchronized (holdLock) {
      suspend = true;
      List<Bio> l = new ArrayList<>();
      holds.release(l::add);
      held = l.toArray(new Bio[0]);
    }
    // Let held writes go first: their pending counts may be what a recovery waits for.
    for (Bio b : held) {
      letGo(b);
    }
    if (recoveryRunning) {
      rh.stopRecovery();
      recoveryRunning = false;
    }
    awaitRecoveryStopped();
    try {
      log.presuspend();
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "log presuspend failed");
    }
    // Recovery is stopped and the writes it held are queued: push them out.
    kmirrord.flush();
  }

  private void awaitRecoveryStopped() {
    boolean interrupted = false;
    synchronized (recoveryWaiters) {
      while (rh.recoveryInFlight() != 0) {
        try {
          recoveryWaiters.wait();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void presuspendUndo() {
    suspend = false;
    if (!recoveryRunning) {
      rh.startRecovery();
      recoveryRunning = true;
    }
  }

  @Override
  public void postsuspend() {
    try {
      log.postsuspend();
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "log postsuspend failed");
    }
  }

  @Override
  public void resume() {
    suspend = false;
    try {
      log.resume();
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "log resume failed");
    }
    if (!recoveryRunning) {
      rh.startRecovery();
      recoveryRunning = true;
    }
  }

  @Override
  public String status(StatusType type) {
    StringBuilder sb = new StringBuilder(64);
    if (type == StatusType.INFO) {
      sb.append(legs.length).append(' ');
      char[] chars = new char[legs.length];
      for (Leg m : legs) {
        sb.append(m.dev.name()).append(' ');
        chars[m.index] = m.statusChar();
      }
      sb.append(log.syncCount()).append('/').append(nrRegions).append(" 1 ");
      sb.append(chars).append(' ').append(log.status(StatusType.INFO));
      return sb.toString();
    }
    sb.append(log.status(StatusType.TABLE)).append(legs.length);
    for (Leg m : legs) {
      sb.append(' ').append(m.dev.name()).append(' ').append(m.offset);
    }
    int features =
        (handleErrors ? 1 : 0) + (keepLog ? 1 : 0) + (balance != ReadBalance.NONE ? 1 : 0);
    if (features > 0) {
      sb.append(' ').append(features);
      if (handleErrors) {
        sb.append(" handle_errors");
      }
      if (keepLog) {
        sb.append(" keep_log");
      }
      if (balance != ReadBalance.NONE) {
        sb.append(' ').append(MirrorTargetType.READ_BALANCE).append(balance.word);
      }
    }
    return sb.toString();
  }

  @Override
  public List<DeviceArea> devices() {
    return areas;
  }

  @Override
  public long maxIoSectors() {
    return regionSize;
  }

  @Override
  public int numFlushBios() {
    return 1;
  }

  @Override
  public int numDiscardBios() {
    return 1;
  }

  @Override
  public void close() {
    closed = true;
    kcopyd.close();
    kmirrord.flush();
    try {
      rh.close(); // closes the log too
    } catch (IllegalStateException e) {
      LOG.log(System.Logger.Level.WARNING, "mirror closed with " + e.getMessage());
      log.close();
    }
  }

  @Override
  public String toString() {
    return "mirror[" + legs.length + " legs, " + nrRegions + " regions of " + regionSize + "]";
  }
}
