package io.jdm.targets.thin;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.Clock;
import io.jdm.core.DeviceNumber;
import io.jdm.core.Errno;
import io.jdm.core.TargetException;
import io.jdm.core.Workqueue;
import io.jdm.core.io.DmIo.Region;
import io.jdm.core.io.Kcopyd;
import io.jdm.core.prison.BioPrison;
import io.jdm.core.prison.InFlightEpochs;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A thin pool: the kernel's {@code struct pool} ({@code drivers/md/dm-thin.c}), which outlives the
 * {@code thin-pool} tables that control it (a reload finds it again by its metadata device) and is
 * shared by every {@code thin} device on it.
 *
 * <p>Thread model: one worker thread (the kernel's {@code pool->wq}) runs every metadata operation
 * and every deferred bio, holding the pool's monitor; messages, status and the lifecycle hooks take
 * the same monitor. Bio and copy completions only queue work. The thins' map path reads {@link
 * #dataDev}, {@link #suspended} and their {@link MappingCache} and touches nothing else.
 */
final class Pool {
  static final long MIN_BLOCK_SECTORS = 64 * 1024 >> Bio.SECTOR_SHIFT;
  static final long MAX_BLOCK_SECTORS = 1024 * 1024 * 1024 >> Bio.SECTOR_SHIFT;
  static final long MAX_DEV_ID = (1L << 24) - 1;
  static final long METADATA_BLOCK_SECTORS = 8;
  static final long METADATA_MAX_SECTORS = 255L * ((1 << 14) - 64) * METADATA_BLOCK_SECTORS;
  static final long COMMIT_PERIOD_NANOS = TimeUnit.SECONDS.toNanos(1);
  static final long NO_SPACE_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(60);

  /** {@code enum pool_mode}, in the kernel's order (later is worse). */
  enum Mode {
    WRITE,
    OUT_OF_DATA_SPACE,
    OUT_OF_METADATA_SPACE,
    READ_ONLY,
    FAIL
  }

  /** {@code struct pool_features}. */
  record Features(
      boolean zeroNewBlocks,
      boolean discardEnabled,
      boolean discardPassdown,
      boolean readOnly,
      boolean errorIfNoSpace) {}

  final String name;
  final DeviceNumber metadataNumber;
  final DeviceNumber dataNumber;
  final BlockDevice metadataDev;
  final long blockSectors;
  final int blockShift; // -1 when the block size is not a power of two
  final PoolMetadata pmd;
  final BioPrison prison = BioPrison.create();
  final InFlightEpochs inFlight = new InFlightEpochs();
  final CopyOnWriteArrayList<ThinTarget> activeThins = new CopyOnWriteArrayList<>();
  private final Clock clock;
  private final Workqueue worker;
  private final Kcopyd kcopyd;
  private final System.Logger log;
  private final ConcurrentLinkedQueue<Runnable> work = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean workQueued = new AtomicBoolean();

  volatile BlockDevice dataDev;
  volatile boolean suspended;
  private volatile Mode mode = Mode.WRITE;
  // guarded by this
  private boolean zeroNewBlocks = true;
  boolean discardEnabled = true;
  private boolean discardPassdown = true;
  private boolean errorIfNoSpace;
  private ThinPoolTarget ti;
  private long lowWaterBlocks;
  private boolean lowWaterTriggered;
  private long lastCommitNanos;
  private Clock.Timeout waker;
  private Clock.Timeout noSpaceTimeout;
  private final List<Bio> deferredFlushes = new ArrayList<>();
  private final List<Bio> deferredCompletions = new ArrayList<>();
  private final Map<Long, OpenThin> openThins = new HashMap<>();
  private int refs = 1;

  /** A thin device's metadata, opened once for every table that maps it (with a count). */
  static final class OpenThin {
    final ThinDeviceMetadata td;
    int opens;

    OpenThin(ThinDeviceMetadata td) {
      this.td = td;
    }
  }

  Pool(
      String name,
      DmDevs devs,
      long blockSectors,
      boolean readOnly,
      PoolMetadataOpener opener,
      Clock clock,
      System.Logger log) {
    this.name = name;
    this.metadataNumber = devs.metadataNumber;
    this.dataNumber = devs.dataNumber;
    this.metadataDev = devs.metadata;
    this.dataDev = devs.data;
    this.blockSectors = blockSectors;
    this.blockShift =
        Long.bitCount(blockSectors) == 1 ? Long.numberOfTrailingZeros(blockSectors) : -1;
    this.clock = clock;
    this.log = log;
    try {
      this.pmd = opener.open(devs.metadata, blockSectors, !readOnly);
    } catch (IOException | RuntimeException e) {
      throw new TargetException(Errno.EINVAL, "Error creating metadata object", e);
    }
    this.worker = Workqueue.create("jdm-" + name + "-thin-pool", 1, clock);
    this.kcopyd = Kcopyd.builder("thin-" + name).build();
    this.lastCommitNanos = clock.nanoTime();
  }

  /** The devices a pool is made on. */
  record DmDevs(
      BlockDevice metadata,
      DeviceNumber metadataNumber,
      BlockDevice data,
      DeviceNumber dataNumber) {}

  // ---------------------------------------------------------------------------------------------
  // The pool table: pools by mapped device name and by metadata device

  /** {@code dm_thin_pool_table}, one per device mapper. */
  static final class Table {
    private final Map<String, Pool> byName = new HashMap<>();
    private final Map<DeviceNumber, Pool> byMetadata = new HashMap<>();

    /** {@code __pool_find}: the pool to control, made if new; counted. */
    synchronized Pool find(
        String poolName,
        DmDevs devs,
        long blockSectors,
        boolean readOnly,
        PoolMetadataOpener opener,
        Clock clock,
        System.Logger log,
        boolean[] created) {
      Pool p = byMetadata.get(devs.metadataNumber);
      if (p != null) {
        if (!p.name.equals(poolName)) {
          throw new TargetException(Errno.EBUSY, "metadata device already in use by a pool");
        }
        if (!p.dataNumber.equals(devs.dataNumber)) {
          throw new TargetException(Errno.EBUSY, "data device already in use by a pool");
        }
        p.inc();
        return p;
      }
      p = byName.get(poolName);
      if (p != null) {
        if (!p.metadataNumber.equals(devs.metadataNumber)
            || !p.dataNumber.equals(devs.dataNumber)) {
          throw new TargetException(Errno.EINVAL, "different pool cannot replace a pool");
        }
        p.inc();
        return p;
      }
      p = new Pool(poolName, devs, blockSectors, readOnly, opener, clock, log);
      byName.put(poolName, p);
      byMetadata.put(devs.metadataNumber, p);
      created[0] = true;
      return p;
    }

    /** {@code __pool_table_lookup}. */
    synchronized Pool lookup(String poolName) {
      Pool p = byName.get(poolName);
      if (p != null) {
        p.inc();
      }
      return p;
    }

    /** {@code __pool_dec}: the last reference destroys the pool. */
    void dec(Pool p) {
      boolean last;
      synchronized (this) {
        last = p.decRef();
        if (last) {
          byName.remove(p.name, p);
          byMetadata.remove(p.metadataNumber, p);
        }
      }
      if (last) {
        p.destroy();
      }
    }

    /** Takes a reference on a pool found otherwise (through its live table). */
    synchronized void inc(Pool p) {
      p.inc();
    }
  }

  private synchronized void inc() {
    refs++;
  }

  private synchronized boolean decRef() {
    return --refs == 0;
  }

  /** {@code __pool_destroy}: commits (as closing the kernel's metadata does) and closes. */
  private void destroy() {
    synchronized (this) {
      cancelTimers();
    }
    worker.shutdown();
    kcopyd.close();
    synchronized (this) {
      if (mode.compareTo(Mode.OUT_OF_METADATA_SPACE) < 0) {
        try {
          pmd.commit();
        } catch (IOException e) {
          log.log(System.Logger.Level.WARNING, name + ": commit on close failed", e);
        }
      }
      for (OpenThin o : openThins.values()) {
        o.td.close();
      }
      openThins.clear();
      try {
        pmd.close();
      } catch (IOException e) {
        log.log(System.Logger.Level.WARNING, name + ": dm_pool_metadata_close() failed.", e);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Thin devices

  synchronized ThinDeviceMetadata openThin(long devId) throws IOException {
    OpenThin o = openThins.get(devId);
    if (o == null) {
      o = new OpenThin(pmd.openThin(devId));
      openThins.put(devId, o);
    }
    o.opens++;
    return o.td;
  }

  synchronized void closeThin(long devId) {
    OpenThin o = openThins.get(devId);
    if (o != null && --o.opens == 0) {
      openThins.remove(devId);
      o.td.close();
    }
  }

  /** Forgets cached mappings of device {@code devId} in every active thin. */
  void invalidate(long devId, long begin, long end) {
    for (ThinTarget t : activeThins) {
      if (t.devId == devId) {
        t.cache.clear(begin, end);
      }
    }
  }

  private void invalidateAll() {
    for (ThinTarget t : activeThins) {
      t.cache.clearAll();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The worker

  /** Queues {@code w} for the worker ({@code wake_worker}). */
  void defer(Runnable w) {
    work.add(w);
    wake();
  }

  private void wake() {
    if (workQueued.compareAndSet(false, true)) {
      try {
        worker.execute(this::doWork);
      } catch (IllegalStateException e) {
        workQueued.set(false); // destroyed: nothing left to serve
      }
    }
  }

  /** {@code do_worker}: everything queued, then the commit that flushes wait for. */
  private void doWork() {
    workQueued.set(false);
    synchronized (this) {
      Runnable w;
      while ((w = work.poll()) != null) {
        try {
          w.run();
        } catch (RuntimeException e) {
          log.log(System.Logger.Level.ERROR, name + ": thin-pool worker failed", e);
        }
      }
      processDeferredFlushes();
    }
  }

  private void processDeferredFlushes() {
    boolean due = clock.nanoTime() - lastCommitNanos >= COMMIT_PERIOD_NANOS;
    if (deferredFlushes.isEmpty()
        && deferredCompletions.isEmpty()
        && !(due && pmd.changedThisTransaction())) {
      return;
    }
    List<Bio> bios = new ArrayList<>(deferredFlushes);
    List<Bio> done = new ArrayList<>(deferredCompletions);
    deferredFlushes.clear();
    deferredCompletions.clear();
    if (!commit()) {
      bios.addAll(done);
      for (Bio b : bios) {
        b.complete(BlockStatus.IOERR);
      }
      return;
    }
    lastCommitNanos = clock.nanoTime();
    for (Bio b : done) {
      b.complete(BlockStatus.OK);
    }
    for (Bio b : bios) {
      if (b.op() == Bio.Op.FLUSH) {
        b.complete(BlockStatus.OK); // the data device was flushed by the commit
      } else {
        b.submit();
      }
    }
  }

  /** Holds {@code bio} until the next commit, then submits it (or completes a flush). Worker. */
  void deferUntilCommit(Bio bio) {
    deferredFlushes.add(bio);
  }

  /** Completes {@code bio} after the next commit. Worker. */
  void completeAfterCommit(Bio bio) {
    deferredCompletions.add(bio);
  }

  /** {@code do_waker}: wakes the worker every second so changes get committed. */
  private void startWaker() {
    if (waker != null) {
      waker.cancel();
    }
    try {
      waker =
          worker.schedule(
              () -> {
                synchronized (this) {
                  if (!suspended) {
                    startWaker();
                  }
                }
                wake();
              },
              COMMIT_PERIOD_NANOS);
    } catch (IllegalStateException e) {
      waker = null;
    }
  }

  private void cancelTimers() {
    if (waker != null) {
      waker.cancel();
      waker = null;
    }
    if (noSpaceTimeout != null) {
      noSpaceTimeout.cancel();
      noSpaceTimeout = null;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Commit, modes, space

  Mode mode() {
    return mode;
  }

  /** {@code commit}: false if the pool cannot commit (read-only or worse) or the commit failed. */
  synchronized boolean commit() {
    if (mode.compareTo(Mode.OUT_OF_METADATA_SPACE) >= 0) {
      return false;
    }
    try {
      pmd.commit();
    } catch (IOException e) {
      metadataOperationFailed("dm_pool_commit_metadata", e);
      return false;
    }
    checkForMetadataSpace();
    checkForDataSpace();
    return true;
  }

  private void checkForMetadataSpace() {
    String reason = null;
    try {
      if (pmd.freeMetadataBlocks() == 0) {
        reason = "No free metadata blocks";
      }
    } catch (IOException e) {
      reason = "Could not get free metadata blocks";
    }
    if (reason != null && !isReadOnly(mode)) {
      log.log(System.Logger.Level.ERROR, reason);
      setMode(Mode.OUT_OF_METADATA_SPACE);
    }
  }

  private void checkForDataSpace() {
    if (mode != Mode.OUT_OF_DATA_SPACE) {
      return;
    }
    try {
      if (pmd.freeDataBlocks() > 0) {
        setMode(Mode.WRITE);
        requeueBios();
      }
    } catch (IOException e) {
      // as the kernel: stay out of space
    }
  }

  static boolean isReadOnly(Mode m) {
    return m == Mode.OUT_OF_METADATA_SPACE || m == Mode.READ_ONLY;
  }

  /** {@code set_pool_mode}. */
  synchronized void setMode(Mode newMode) {
    Mode old = mode;
    if (newMode == Mode.WRITE && pmd.needsCheck()) {
      log.log(
          System.Logger.Level.ERROR,
          name + ": unable to switch pool to write mode until repaired.");
      newMode = old != newMode ? old : Mode.READ_ONLY;
    }
    if (old == Mode.FAIL) {
      newMode = old;
    }
    switch (newMode) {
      case FAIL:
        pmd.setReadOnly(true);
        invalidateAll();
        break;
      case OUT_OF_METADATA_SPACE:
      case READ_ONLY:
        pmd.setReadOnly(true);
        break;
      case OUT_OF_DATA_SPACE:
        if (!errorIfNoSpace && noSpaceTimeout == null) {
          try {
            noSpaceTimeout = worker.schedule(this::noSpaceTimedOut, NO_SPACE_TIMEOUT_NANOS);
          } catch (IllegalStateException e) {
            noSpaceTimeout = null;
          }
        }
        break;
      case WRITE:
        if (noSpaceTimeout != null) {
          noSpaceTimeout.cancel();
          noSpaceTimeout = null;
        }
        if (ti != null) {
          errorIfNoSpace = ti.requested.errorIfNoSpace();
        }
        pmd.setReadOnly(false);
        break;
      default:
        throw new AssertionError(newMode);
    }
    mode = newMode;
    if (old != newMode) {
      log.log(
          System.Logger.Level.INFO, name + ": switching pool to " + describe(newMode) + " mode");
      if (newMode == Mode.FAIL || isReadOnly(newMode)) {
        errorRetryList(BlockStatus.IOERR);
      }
      event();
    }
  }

  private static String describe(Mode m) {
    switch (m) {
      case WRITE:
        return "write";
      case OUT_OF_DATA_SPACE:
        return "out-of-data-space";
      case OUT_OF_METADATA_SPACE:
        return "out-of-metadata-space";
      case READ_ONLY:
        return "read-only";
      default:
        return "failure";
    }
  }

  /** {@code do_no_space_timeout}: queued bios wait no longer than this. */
  private void noSpaceTimedOut() {
    synchronized (this) {
      noSpaceTimeout = null;
      if (mode != Mode.OUT_OF_DATA_SPACE || errorIfNoSpace) {
        return;
      }
      errorIfNoSpace = true;
      event();
    }
    errorRetryList(BlockStatus.NOSPC);
  }

  private void errorRetryList(BlockStatus status) {
    for (ThinTarget t : activeThins) {
      t.holds.fail(status);
    }
  }

  /** {@code requeue_bios}: the bios held for space or resume go back to the worker. */
  void requeueBios() {
    for (ThinTarget t : activeThins) {
      t.holds.release(b -> defer(() -> t.process(b)));
    }
  }

  /** {@code metadata_operation_failed}: abort, mark for checking, go read-only. */
  synchronized void metadataOperationFailed(String op, IOException e) {
    log.log(
        System.Logger.Level.ERROR,
        name + ": metadata operation '" + op + "' failed: error = " + errnoOf(e),
        e);
    log.log(System.Logger.Level.ERROR, name + ": aborting current metadata transaction");
    invalidateAll();
    try {
      pmd.abort();
    } catch (IOException x) {
      log.log(System.Logger.Level.ERROR, name + ": failed to abort metadata transaction", x);
      setMode(Mode.FAIL);
    }
    try {
      pmd.setNeedsCheck();
    } catch (IOException x) {
      log.log(
          System.Logger.Level.ERROR, name + ": failed to set 'needs_check' flag in metadata", x);
      setMode(Mode.FAIL);
    }
    setMode(Mode.READ_ONLY);
  }

  static int errnoOf(IOException e) {
    return e instanceof PoolMetadataException pe ? -pe.errno().number() : -Errno.EIO.number();
  }

  private void event() {
    ThinPoolTarget t = ti;
    if (t != null) {
      t.ctx.triggerEvent();
    }
  }

  /**
   * {@code alloc_data_block}: a free data block, or -1 when there is none (the pool is then out of
   * data space) or the metadata failed (the pool is then read-only). Worker.
   */
  long allocDataBlock() {
    if (mode != Mode.WRITE) {
      return -1;
    }
    try {
      long free = pmd.freeDataBlocks();
      checkLowWaterMark(free);
      if (free == 0) {
        if (!commit()) {
          return -1;
        }
        if (pmd.freeDataBlocks() == 0) {
          setMode(Mode.OUT_OF_DATA_SPACE);
          return -1;
        }
      }
    } catch (IOException e) {
      metadataOperationFailed("dm_pool_get_free_block_count", e);
      return -1;
    }
    long b;
    try {
      b = pmd.allocDataBlock();
    } catch (PoolMetadataException e) {
      if (e.errno() == Errno.ENOSPC) {
        setMode(Mode.OUT_OF_DATA_SPACE);
      } else {
        metadataOperationFailed("dm_pool_alloc_data_block", e);
      }
      return -1;
    } catch (IOException e) {
      metadataOperationFailed("dm_pool_alloc_data_block", e);
      return -1;
    }
    try {
      if (pmd.freeMetadataBlocks() == 0 && !commit()) {
        return -1;
      }
    } catch (IOException e) {
      metadataOperationFailed("dm_pool_get_free_metadata_block_count", e);
      return -1;
    }
    return b;
  }

  private void checkLowWaterMark(long free) {
    if (free <= lowWaterBlocks && !lowWaterTriggered) {
      log.log(
          System.Logger.Level.WARNING,
          name + ": reached low water mark for data device: sending event.");
      lowWaterTriggered = true;
      event();
    }
  }

  /**
   * What to do with a bio that needs space the pool cannot give ({@code
   * should_error_unserviceable_bio}): the status to fail it with, or {@code null} to hold it until
   * the pool resumes.
   */
  BlockStatus unserviceableStatus() {
    switch (mode) {
      case OUT_OF_DATA_SPACE:
        return errorIfNoSpace ? BlockStatus.NOSPC : null;
      default:
        return BlockStatus.IOERR;
    }
  }

  boolean zeroNewBlocks() {
    return zeroNewBlocks;
  }

  boolean discardPassdown() {
    return discardPassdown;
  }

  boolean errorIfNoSpace() {
    return errorIfNoSpace;
  }

  long metadataThreshold() {
    long blocks = Math.min(metadataDev.sectors(), METADATA_MAX_SECTORS) / METADATA_BLOCK_SECTORS;
    return Math.min(1024, blocks / 4);
  }

  // ---------------------------------------------------------------------------------------------
  // Copies and zeroing

  void zero(long dataBlock, Kcopyd.Callback done) {
    kcopyd.zero(List.of(new Region(dataDev, dataBlock * blockSectors, blockSectors)), 0, done);
  }

  void zeroRange(long sector, long count, Kcopyd.Callback done) {
    kcopyd.zero(List.of(new Region(dataDev, sector, count)), 0, done);
  }

  void copy(BlockDevice from, long fromSector, long dataBlock, long count, Kcopyd.Callback done) {
    kcopyd.copy(
        new Region(from, fromSector, count),
        List.of(new Region(dataDev, dataBlock * blockSectors, count)),
        0,
        done);
  }

  // ---------------------------------------------------------------------------------------------
  // Control target binding and lifecycle (called by ThinPoolTarget)

  /** {@code bind_control_target} and the rest of {@code pool_preresume}. */
  synchronized void preresume(ThinPoolTarget t) {
    ti = t;
    lowWaterBlocks = t.lowWaterBlocks;
    dataDev = t.dataDev.bdev();
    zeroNewBlocks = t.adjusted.zeroNewBlocks();
    discardEnabled = t.adjusted.discardEnabled();
    discardPassdown = t.adjusted.discardPassdown();
    Mode old = mode;
    Mode wanted = t.adjusted.readOnly() ? Mode.READ_ONLY : Mode.WRITE;
    if (wanted == Mode.WRITE && old == Mode.OUT_OF_DATA_SPACE) {
      wanted = old;
    }
    errorIfNoSpace = t.requested.errorIfNoSpace();
    setMode(wanted);
    boolean needCommit = false;
    long dataBlocks = t.length / blockSectors;
    try {
      long sb = pmd.dataBlocks();
      if (dataBlocks < sb) {
        String msg = name + ": pool target (" + dataBlocks + " blocks) too small: expected " + sb;
        log.log(System.Logger.Level.ERROR, msg);
        if (mode != Mode.FAIL) {
          throw new TargetException(Errno.EINVAL, msg);
        }
      } else if (dataBlocks > sb) {
        if (pmd.needsCheck()) {
          log.log(
              System.Logger.Level.ERROR, name + ": unable to grow the data device until repaired.");
        } else {
          if (sb != 0) {
            log.log(
                System.Logger.Level.INFO,
                name + ": growing the data device from " + sb + " to " + dataBlocks + " blocks");
          }
          pmd.resizeDataDev(dataBlocks);
          needCommit = true;
        }
      }
      long metaBlocks =
          Math.min(metadataDev.sectors(), METADATA_MAX_SECTORS) / METADATA_BLOCK_SECTORS;
      long sbMeta = pmd.metadataBlocks();
      if (metaBlocks > sbMeta && !pmd.needsCheck()) {
        if (mode == Mode.OUT_OF_METADATA_SPACE) {
          setMode(Mode.WRITE);
        }
        pmd.resizeMetadataDev(metaBlocks);
        needCommit = true;
      }
    } catch (IOException e) {
      metadataOperationFailed("dm_pool_resize_data_dev", e);
      if (mode != Mode.FAIL) {
        throw new TargetException(
            Errno.EIO, name + ": resizing the pool failed: " + e.getMessage());
      }
    }
    if (needCommit) {
      commit();
    }
  }

  /** {@code pool_resume}. */
  void resume() {
    synchronized (this) {
      lowWaterTriggered = false;
      suspended = false;
      startWaker();
    }
    requeueBios();
    wake();
  }

  void presuspend() {
    suspended = true;
  }

  void presuspendUndo() {
    suspended = false;
    requeueBios();
  }

  /** {@code pool_postsuspend}: no timers, no work, no data I/O in flight, then a commit. */
  void postsuspend() {
    synchronized (this) {
      cancelTimers();
    }
    worker.flush();
    kcopyd.flush();
    worker.flush();
    awaitInFlight();
    commit();
  }

  /** Blocks until every data bio in flight now has completed. Not on the worker. */
  void awaitInFlight() {
    CountDownLatch l = new CountDownLatch(1);
    inFlight.afterInFlight(l::countDown);
    boolean interrupted = false;
    while (true) {
      try {
        l.await();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /** {@code unbind_control_target}. */
  synchronized void unbind(ThinPoolTarget t) {
    if (ti == t) {
      ti = null;
    }
  }

  synchronized ThinPoolTarget boundTarget() {
    return ti;
  }

  // ---------------------------------------------------------------------------------------------
  // Messages (pool_message)

  synchronized String message(String[] argv) {
    if (mode.compareTo(Mode.OUT_OF_METADATA_SPACE) >= 0) {
      log.log(
          System.Logger.Level.ERROR,
          name + ": unable to service pool target messages in READ_ONLY or FAIL mode");
      throw new TargetException(
          Errno.EOPNOTSUPP, "unable to service pool target messages in READ_ONLY or FAIL mode");
    }
    String cmd = io.jdm.core.ArgSet.toLowerAscii(argv[0]);
    switch (cmd) {
      case "create_thin":
        {
          checkArgCount(argv, 2);
          long id = readDevId(argv[1]);
          try {
            pmd.createThin(id);
          } catch (IOException e) {
            throw failed(
                e, "Creation of new thinly-provisioned device with id " + argv[1] + " failed.");
          }
          break;
        }
      case "create_snap":
        {
          checkArgCount(argv, 3);
          long id = readDevId(argv[1]);
          long origin = readDevId(argv[2]);
          // The kernel asks for the origin to be suspended; a live origin's map path must not
          // write a block that is about to be shared, so its cache goes and its I/O drains first.
          invalidate(origin, 0, Long.MAX_VALUE);
          awaitInFlight();
          try {
            pmd.createSnap(id, origin);
          } catch (IOException e) {
            throw failed(
                e, "Creation of new snapshot " + argv[1] + " of device " + argv[2] + " failed.");
          }
          break;
        }
      case "delete":
        {
          checkArgCount(argv, 2);
          long id = readDevId(argv[1]);
          if (openThins.containsKey(id)) {
            throw failed(
                new PoolMetadataException(Errno.EBUSY, "thin device " + id + " is open"),
                "Deletion of thin device " + argv[1] + " failed.");
          }
          try {
            pmd.deleteThin(id);
          } catch (IOException e) {
            throw failed(e, "Deletion of thin device " + argv[1] + " failed.");
          }
          break;
        }
      case "set_transaction_id":
        {
          checkArgCount(argv, 3);
          long old = ArgSetParse.u64(argv[1]);
          if (old < 0) {
            throw warn(
                Errno.EINVAL, "set_transaction_id message: Unrecognised id " + argv[1] + ".");
          }
          long next = ArgSetParse.u64(argv[2]);
          if (next < 0) {
            throw warn(
                Errno.EINVAL, "set_transaction_id message: Unrecognised new id " + argv[2] + ".");
          }
          try {
            pmd.setTransactionId(old, next);
          } catch (IOException e) {
            throw failed(
                e, "Failed to change transaction id from " + argv[1] + " to " + argv[2] + ".");
          }
          break;
        }
      case "reserve_metadata_snap":
        checkArgCount(argv, 1);
        commit();
        try {
          pmd.reserveMetadataSnap();
        } catch (IOException e) {
          throw failed(e, "reserve_metadata_snap message failed.");
        }
        break;
      case "release_metadata_snap":
        checkArgCount(argv, 1);
        try {
          pmd.releaseMetadataSnap();
        } catch (IOException e) {
          throw failed(e, "release_metadata_snap message failed.");
        }
        break;
      default:
        throw warn(Errno.EINVAL, "Unrecognised thin pool target message received: " + argv[0]);
    }
    commit();
    return "";
  }

  private TargetException warn(Errno errno, String text) {
    log.log(System.Logger.Level.WARNING, text);
    return new TargetException(errno, text);
  }

  private TargetException failed(IOException e, String text) {
    Errno errno = e instanceof PoolMetadataException pe ? pe.errno() : Errno.EIO;
    log.log(System.Logger.Level.WARNING, text, e);
    return new TargetException(errno, text + " (" + e.getMessage() + ")", e);
  }

  private void checkArgCount(String[] argv, int required) {
    if (argv.length != required) {
      throw warn(
          Errno.EINVAL,
          "Message received with " + argv.length + " arguments instead of " + required + ".");
    }
  }

  private long readDevId(String arg) {
    long id = ArgSetParse.u64(arg);
    if (id < 0 || id > MAX_DEV_ID) {
      throw warn(Errno.EINVAL, "Message received with invalid device id: " + arg);
    }
    return id;
  }

  /** {@code kstrtoull(s, 10)}: a decimal u64 (here at most {@code Long.MAX_VALUE}), else -1. */
  static final class ArgSetParse {
    private ArgSetParse() {}

    static long u64(String s) {
      return io.jdm.core.ArgSet.parseDecimal(s);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Status (pool_status)

  synchronized String statusInfo() {
    if (mode == Mode.FAIL) {
      return "Fail";
    }
    if (!suspended) {
      commit();
    }
    try {
      long tid = pmd.transactionId();
      long freeMeta = pmd.freeMetadataBlocks();
      long meta = pmd.metadataBlocks();
      long freeData = pmd.freeDataBlocks();
      long data = pmd.dataBlocks();
      long held = pmd.metadataSnap();
      StringBuilder sb = new StringBuilder();
      sb.append(tid).append(' ');
      sb.append(meta - freeMeta).append('/').append(meta).append(' ');
      sb.append(data - freeData).append('/').append(data).append(' ');
      sb.append(held != 0 ? Long.toString(held) : "-").append(' ');
      Mode m = mode;
      sb.append(m == Mode.OUT_OF_DATA_SPACE ? "out_of_data_space " : isReadOnly(m) ? "ro " : "rw ");
      sb.append(
          !discardEnabled
              ? "ignore_discard "
              : discardPassdown ? "discard_passdown " : "no_discard_passdown ");
      sb.append(errorIfNoSpace ? "error_if_no_space " : "queue_if_no_space ");
      sb.append(pmd.needsCheck() ? "needs_check " : "- ");
      sb.append(metadataThreshold()).append(' ');
      return sb.toString();
    } catch (IOException e) {
      log.log(System.Logger.Level.ERROR, name + ": reading the pool status failed", e);
      return "Error";
    }
  }
}
