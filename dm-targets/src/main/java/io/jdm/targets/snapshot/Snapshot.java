package io.jdm.targets.snapshot;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceArea;
import io.jdm.core.DeviceNumber;
import io.jdm.core.DmDev;
import io.jdm.core.EndIoResult;
import io.jdm.core.EndIoTarget;
import io.jdm.core.IoLimits;
import io.jdm.core.MapResult;
import io.jdm.core.StatusType;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.Workqueue;
import io.jdm.core.io.DmIo;
import io.jdm.core.io.Kcopyd;
import io.jdm.core.prison.DeferredSet;
import java.io.IOException;
import java.util.AbstractCollection;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.TreeMap;

/**
 * One {@code snapshot} or {@code snapshot-merge} line: the kernel's {@code struct dm_snapshot} and
 * its map, end-I/O, suspend and resume methods ({@code drivers/md/dm-snap.c}).
 *
 * <p>Reads of a chunk with an exception go to the COW device, others to the origin. A write to a
 * chunk without one allocates a COW chunk, copies the origin chunk there (kcopyd; skipped when the
 * write covers the chunk), commits the exception and then writes. Origin writes reach the snapshot
 * through {@link OriginRegistry}, which makes the same kind of pending exception and holds the
 * write until the copy is committed. A pending exception is copied once however many writes wait
 * for it; exceptions are committed in the order they were allocated.
 *
 * <p>Reads that went to the origin are counted in a {@link DeferredSet}: a finished exception
 * releases the origin writes it held only when every read that could still be reading the old chunk
 * from the origin has completed ({@code track_chunk}, {@code __check_for_conflicting_io}).
 *
 * <p>Thread model: the read path takes no lock (a volatile validity flag, a lock-free {@link
 * ExceptionTable} lookup and the deferred set's counter); writes, pending exceptions and state
 * changes are under this object's monitor. Copies finish on kcopyd's worker; commits, exception
 * completion and the store's I/O run on one ordered worker of the table ({@code ksnapd}); a merge
 * runs on its own worker ({@code kmerge}).
 */
final class Snapshot implements EndIoTarget {
  /** {@code snapshot-merge} rather than {@code snapshot}. */
  final boolean merge;

  final DeviceNumber originKey;
  final DeviceNumber cowKey;

  private final TargetContext ctx;
  private final System.Logger log;
  private final long begin;
  private final long length;
  private final DmDev origin;
  private final DmDev cow;
  private final OriginRegistry registry;
  private final boolean discardZeroesCow;
  private final boolean discardPassdownOrigin;
  private final Kcopyd kcopyd;
  private final Workqueue worker;
  private final Workqueue mergeWorker;
  private final DeferredSet<Runnable> tracked = new DeferredSet<>();
  private final Collection<Runnable> toWorker;

  private volatile int chunkSize;
  private volatile int chunkShift;
  private volatile long chunkMask;

  // guarded by this (store and complete also swapped by a handover, with no I/O running)
  private ExceptionStore store;
  private volatile ExceptionTable complete = new ExceptionTable();
  private final HashMap<Long, Pending> pending = new HashMap<>();
  private long startSequence;
  private int pendingCount;
  private int metadataWrites;
  private volatile boolean valid = true;
  private volatile boolean overflowed;
  private volatile boolean active;
  private volatile boolean suspended;
  private boolean mergeFailed;
  private long firstMergingChunk;
  private int numMergingChunks;
  private final List<Bio> queuedDuringMerge = new ArrayList<>();

  // confined to the worker
  private long completeSequence;
  private final TreeMap<Long, Pending> outOfOrder = new TreeMap<>();

  // merge state, guarded by mergeLock
  private final Object mergeLock = new Object();
  private boolean mergeRunning;
  private boolean mergeShutdown;

  /** Set at construction when this snapshot takes the exceptions over from a live one at resume. */
  private boolean handoverDest;

  /** An exception being made: the kernel's {@code struct dm_snap_pending_exception}. */
  static final class Pending {
    final Snapshot snap;
    final long oldChunk;
    long newChunk;
    ExceptionStore store; // the store that allocated it, and commits it
    long sequence;
    boolean started;
    boolean startDeferred;
    boolean copyError;
    boolean error;
    Bio fullBio;
    final List<Bio> originBios = new ArrayList<>(2);
    final List<Bio> snapshotBios = new ArrayList<>(2);

    Pending(Snapshot snap, long oldChunk) {
      this.snap = snap;
      this.oldChunk = oldChunk;
    }
  }

  Snapshot(
      TargetContext ctx,
      boolean merge,
      long begin,
      long length,
      DmDev origin,
      DmDev cow,
      ExceptionStore store,
      boolean discardZeroesCow,
      boolean discardPassdownOrigin) {
    this.ctx = ctx;
    this.log = ctx.logger();
    this.merge = merge;
    this.begin = begin;
    this.length = length;
    this.origin = origin;
    this.cow = cow;
    this.originKey = origin.number();
    this.cowKey = cow.number();
    this.store = store;
    this.discardZeroesCow = discardZeroesCow;
    this.discardPassdownOrigin = discardPassdownOrigin;
    this.registry = ctx.shared(OriginRegistry.class, OriginRegistry::new);
    this.worker = ctx.workqueue("ksnapd", 1);
    this.mergeWorker = merge ? ctx.workqueue("kmerge", 1) : null;
    this.kcopyd =
        Kcopyd.builder("snapshot-" + ctx.deviceName())
            .workqueue(ctx.workqueue("kcopyd", 1))
            .build();
    Workqueue w = worker;
    this.toWorker =
        new AbstractCollection<>() {
          @Override
          public boolean add(Runnable r) {
            w.execute(r);
            return true;
          }

          @Override
          public Iterator<Runnable> iterator() {
            return Collections.emptyIterator();
          }

          @Override
          public int size() {
            return 0;
          }
        };
  }

  /**
   * The rest of {@code snapshot_ctr}: registers with the origin, then reads the store unless a live
   * snapshot of the same COW hands its exceptions over at resume.
   *
   * @throws TargetException with the kernel's text
   */
  void load() {
    Snapshot src;
    try {
      src = registry.register(this);
    } catch (TargetException e) {
      kcopyd.close();
      throw e;
    }
    if (src != null) {
      handoverDest = true;
      setChunk(src.chunkSize());
      return;
    }
    int r;
    try {
      r = store.readMetadata(this::addException);
    } catch (IOException | RuntimeException e) {
      registry.unregister(this);
      kcopyd.close();
      throw new TargetException("Failed to read snapshot metadata: " + e.getMessage(), e);
    }
    if (r > 0) {
      valid = false;
      log.log(System.Logger.Level.WARNING, "Snapshot is marked invalid.");
    }
    if (store.chunkSize == 0) {
      registry.unregister(this);
      kcopyd.close();
      throw new TargetException("Chunk size not set");
    }
    setChunk(store.chunkSize);
  }

  private void setChunk(int size) {
    chunkSize = size;
    chunkShift = Integer.numberOfTrailingZeros(size);
    chunkMask = size - 1;
  }

  private void addException(long oldChunk, long newChunk) {
    complete.insert(oldChunk, newChunk);
  }

  int chunkSize() {
    return chunkSize;
  }

  synchronized ExceptionStore store() {
    return store;
  }

  boolean isActive() {
    return active;
  }

  // ---------------------------------------------------------------------------------------------
  // Map

  @Override
  public MapResult map(Bio bio) {
    if (merge) {
      return mergeMap(bio);
    }
    if (bio.op() == Bio.Op.FLUSH) {
      bio.remap(cow.bdev(), bio.sector());
      return MapResult.REMAPPED;
    }
    long chunk = bio.sector() >>> chunkShift;
    if (!valid) {
      return MapResult.KILL;
    }
    switch (bio.op()) {
      case READ:
        {
          DeferredSet.Entry e = tracked.inc();
          bio.setTargetContext(e);
          long nc = complete.lookup(chunk);
          if (nc >= 0) {
            remapCow(bio, nc);
          } else {
            bio.remap(origin.bdev(), bio.sector());
          }
          return MapResult.REMAPPED;
        }
      case WRITE:
        return mapWrite(bio, chunk);
      case DISCARD:
        return mapDiscard(bio, chunk);
      default:
        return MapResult.KILL;
    }
  }

  private void remapCow(Bio bio, long newChunk) {
    bio.remap(cow.bdev(), (newChunk << chunkShift) | (bio.sector() & chunkMask));
  }

  private MapResult mapWrite(Bio bio, long chunk) {
    Pending startFull = null;
    Pending startCopy = null;
    boolean full = false;
    synchronized (this) {
      if (!valid || overflowed) {
        return MapResult.KILL;
      }
      long nc = complete.lookup(chunk);
      if (nc >= 0) {
        remapCow(bio, nc);
        return MapResult.REMAPPED;
      }
      Pending pe = pending.get(chunk);
      if (pe == null) {
        pe = insertPending(chunk);
        if (pe == null) {
          full = true;
        }
      }
      if (!full) {
        remapCow(bio, pe.newChunk);
        if (!pe.started && bio.sectors() == chunkSize) {
          pe.started = true;
          pe.fullBio = bio;
          startFull = pe;
        } else {
          pe.snapshotBios.add(bio);
          if (!pe.started) {
            pe.started = true;
            startCopy = pe;
          }
        }
      } else if (store.userspaceSupportsOverflow) {
        if (valid && !overflowed) {
          overflowed = true;
          log.log(System.Logger.Level.ERROR, "Snapshot overflowed: Unable to allocate exception.");
        }
        return MapResult.KILL;
      }
    }
    if (full) {
      invalidate("Invalidating snapshot: Unable to allocate exception.");
      return MapResult.KILL;
    }
    if (startFull != null) {
      startFullBio(startFull, bio);
    } else if (startCopy != null) {
      startCopy(startCopy);
    }
    return MapResult.SUBMITTED;
  }

  private MapResult mapDiscard(Bio bio, long chunk) {
    if (overflowed) {
      return MapResult.KILL;
    }
    if (discardPassdownOrigin && bio.targetBioNr() != 0) {
      bio.setTargetContext(tracked.inc());
      bio.remap(origin.bdev(), bio.sector());
      return MapResult.REMAPPED;
    }
    long nc = complete.lookup(chunk);
    if (nc >= 0) {
      remapCow(bio, nc);
      if (bio.sectors() == chunkSize) {
        kcopyd.zero(
            List.of(new DmIo.Region(cow.bdev(), bio.sector(), chunkSize)),
            0,
            (readErr, writeErr) ->
                bio.complete(writeErr != 0 ? BlockStatus.IOERR : BlockStatus.OK));
        return MapResult.SUBMITTED;
      }
      return MapResult.REMAPPED;
    }
    bio.complete(BlockStatus.OK);
    return MapResult.SUBMITTED;
  }

  /** {@code __insert_pending_exception}; under the lock. Returns {@code null} when full. */
  private Pending insertPending(long chunk) {
    Pending pe = new Pending(this, chunk);
    if (!store.prepareException(pe)) {
      return null;
    }
    pe.store = store;
    pe.sequence = startSequence++;
    pending.put(chunk, pe);
    pendingCount++;
    return pe;
  }

  /**
   * One snapshot's part of {@code __origin_write}: {@code null} if the chunk of {@code sector}
   * needs nothing here, {@link #WAITING} if a copy is under way and {@code bio} was not queued
   * (null, or queued on an earlier snapshot), or the pending exception {@code bio} now waits for
   * ({@link Pending#startDeferred} set if the caller must start its copy last).
   */
  Object originWrite(long sector, Bio bio) {
    if (merge || sector >= begin + length) {
      return null;
    }
    Pending startNow = null;
    Object r;
    synchronized (this) {
      if (!valid || !active) {
        return null;
      }
      long chunk = sector >>> chunkShift;
      Pending pe = pending.get(chunk);
      if (pe == null) {
        if (complete.lookup(chunk) >= 0) {
          return null;
        }
        pe = insertPending(chunk);
      }
      if (pe == null) {
        r = null;
      } else {
        r = WAITING;
        if (bio != null) {
          pe.originBios.add(bio);
          r = pe;
          if (!pe.started) {
            pe.started = true;
            pe.startDeferred = true;
          }
        }
        if (!pe.started) {
          pe.started = true;
          startNow = pe;
        }
      }
    }
    if (r == null) {
      invalidate("Invalidating snapshot: Unable to allocate exception.");
      return null;
    }
    if (startNow != null) {
      startCopy(startNow);
    }
    return r;
  }

  static final Object WAITING = new Object();

  // ---------------------------------------------------------------------------------------------
  // Copy, commit, complete

  /** {@code start_copy}: the origin chunk (cut at the origin's end) to its COW chunk. */
  void startCopy(Pending pe) {
    long src = pe.oldChunk << chunkShift;
    long count = Math.min(chunkSize, origin.bdev().sectors() - src);
    kcopyd.copy(
        new DmIo.Region(origin.bdev(), src, count),
        List.of(new DmIo.Region(cow.bdev(), pe.newChunk << chunkShift, count)),
        0,
        (readErr, writeErr) -> copyDone(pe, readErr || writeErr != 0));
  }

  /** {@code start_full_bio}: the write covers the chunk, so it is the copy. */
  private void startFullBio(Pending pe, Bio bio) {
    Bio copy = bio.clone(b -> copyDone(pe, b.status() != BlockStatus.OK));
    copy.submit();
  }

  /** {@code copy_callback}, moved to the ordered worker where completion runs in sequence. */
  private void copyDone(Pending pe, boolean error) {
    worker.execute(() -> sequenceDone(pe, error));
  }

  private void sequenceDone(Pending pe, boolean error) {
    pe.copyError = error;
    if (pe.sequence == completeSequence) {
      completeSequence++;
      completeException(pe);
      Pending next;
      while ((next = outOfOrder.remove(completeSequence)) != null) {
        completeSequence++;
        completeException(next);
      }
    } else {
      outOfOrder.put(pe.sequence, pe);
    }
  }

  private void completeException(Pending pe) {
    pe.store.commitException(pe, !pe.copyError, ok -> pendingComplete(pe, ok));
  }

  /** {@code pending_complete}: on the worker, after the store committed (or failed). */
  private void pendingComplete(Pending pe, boolean success) {
    if (!success) {
      invalidate("Invalidating snapshot: Error reading/writing.");
      pe.error = true;
      finishPending(pe);
      return;
    }
    synchronized (this) {
      if (!valid) {
        pe.error = true;
      } else {
        complete.insert(pe.oldChunk, pe.newChunk);
      }
    }
    if (pe.error) {
      finishPending(pe);
      return;
    }
    // origin writes held by pe may overwrite the chunk only when reads of it from the origin end
    Runnable finish = () -> finishPending(pe);
    if (!tracked.addWork(finish)) {
      finish.run();
    }
  }

  private void finishPending(Pending pe) {
    synchronized (this) {
      pending.remove(pe.oldChunk);
    }
    registry.pendingDone();
    if (pe.error) {
      if (pe.fullBio != null) {
        pe.fullBio.complete(BlockStatus.IOERR);
      }
      for (Bio b : pe.snapshotBios) {
        b.complete(BlockStatus.IOERR);
      }
    } else {
      if (pe.fullBio != null) {
        pe.fullBio.complete(BlockStatus.OK);
      }
      for (Bio b : pe.snapshotBios) {
        b.submit();
      }
    }
    for (Bio b : pe.originBios) {
      if (registry.originWrite(originKey, b) == MapResult.REMAPPED) {
        b.submit();
      }
    }
    synchronized (this) {
      if (--pendingCount == 0) {
        notifyAll();
      }
    }
  }

  /**
   * {@code __invalidate_snapshot}: marks the store invalid and writes its header, raises an event.
   */
  void invalidate(String why) {
    ExceptionStore s;
    synchronized (this) {
      if (!valid) {
        return;
      }
      log.log(System.Logger.Level.ERROR, why);
      s = store;
      s.dropSnapshot();
      valid = false;
      metadataWrites++;
    }
    worker.execute(
        () -> {
          try {
            s.writeInvalid();
          } catch (IOException e) {
            log.log(System.Logger.Level.WARNING, "write header failed", e);
          } finally {
            synchronized (this) {
              metadataWrites--;
              notifyAll();
            }
          }
        });
    ctx.triggerEvent();
  }

  @Override
  public EndIoResult endIo(Bio bio, BlockStatus status) {
    Object c = bio.targetContext();
    if (c instanceof DeferredSet.Entry) {
      bio.setTargetContext(null);
      tracked.dec((DeferredSet.Entry) c, toWorker);
    }
    return EndIoResult.DONE;
  }

  // ---------------------------------------------------------------------------------------------
  // snapshot-merge

  private MapResult mergeMap(Bio bio) {
    if (bio.op() == Bio.Op.FLUSH) {
      bio.remap(bio.targetBioNr() == 0 ? origin.bdev() : cow.bdev(), bio.sector());
      return MapResult.REMAPPED;
    }
    if (bio.op() == Bio.Op.DISCARD) {
      bio.complete(BlockStatus.OK);
      return MapResult.SUBMITTED;
    }
    long chunk = bio.sector() >>> chunkShift;
    boolean write = bio.op() == Bio.Op.WRITE;
    synchronized (this) {
      if (valid) {
        long nc = complete.lookup(chunk);
        if (nc >= 0) {
          if (write && chunk >= firstMergingChunk && chunk < firstMergingChunk + numMergingChunks) {
            bio.remap(origin.bdev(), bio.sector());
            queuedDuringMerge.add(bio);
            return MapResult.SUBMITTED;
          }
          remapCow(bio, nc);
          if (write) {
            bio.setTargetContext(tracked.inc());
          }
          return MapResult.REMAPPED;
        }
      }
    }
    bio.remap(origin.bdev(), bio.sector());
    if (write) {
      return registry.originWrite(originKey, bio);
    }
    return MapResult.REMAPPED;
  }

  private void startMerge() {
    synchronized (mergeLock) {
      if (mergeRunning) {
        return;
      }
      mergeRunning = true;
    }
    mergeWorker.execute(this::mergeNextChunks);
  }

  private void stopMerge() {
    boolean interrupted = false;
    synchronized (mergeLock) {
      mergeShutdown = true;
      while (mergeRunning) {
        try {
          mergeLock.wait();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      mergeShutdown = false;
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private void mergeShutdownDone() {
    synchronized (mergeLock) {
      mergeRunning = false;
      mergeLock.notifyAll();
    }
  }

  /** {@code snapshot_merge_next_chunks}, on the merge worker. */
  private void mergeNextChunks() {
    synchronized (mergeLock) {
      if (mergeShutdown) {
        mergeShutdownDone();
        return;
      }
    }
    if (!valid) {
      log.log(System.Logger.Level.ERROR, "Snapshot is invalid: can't merge");
      mergeShutdownDone();
      return;
    }
    long[] last = new long[2];
    int n;
    try {
      n = store().prepareMerge(last);
    } catch (IOException e) {
      log.log(System.Logger.Level.ERROR, "Read error in exception store: shutting down merge", e);
      synchronized (this) {
        mergeFailed = true;
      }
      mergeShutdownDone();
      return;
    }
    if (n <= 0) {
      mergeShutdownDone();
      return;
    }
    long oldChunk = last[0] + 1 - n;
    long newChunk = last[1] + 1 - n;
    long ioSize = (long) n * chunkSize;
    long destSector = oldChunk << chunkShift;
    long count = Math.min(ioSize, origin.bdev().sectors() - destSector);
    long seen = registry.pendingDoneCount();
    while (registry.originWriteExtent(this, destSector, ioSize)) {
      registry.awaitPendingDone(seen);
      seen = registry.pendingDoneCount();
    }
    synchronized (this) {
      firstMergingChunk = oldChunk;
      numMergingChunks = n;
    }
    Runnable copy =
        () ->
            kcopyd.copy(
                new DmIo.Region(cow.bdev(), newChunk << chunkShift, count),
                List.of(new DmIo.Region(origin.bdev(), destSector, count)),
                0,
                (readErr, writeErr) ->
                    mergeWorker.execute(() -> mergeCopied(readErr, writeErr != 0)));
    // writes already sent to the chunks being merged must land first
    if (!tracked.addWork(copy)) {
      copy.run();
    }
  }

  /** {@code merge_callback}, on the merge worker. */
  private void mergeCopied(boolean readErr, boolean writeErr) {
    if (readErr || writeErr) {
      log.log(
          System.Logger.Level.ERROR,
          readErr ? "Read error: shutting down merge." : "Write error: shutting down merge.");
      mergeFailedShutdown();
      return;
    }
    try {
      DmIo.run(Bio.Op.FLUSH, 0, List.of(new DmIo.Region(origin.bdev(), 0, 0)), null);
    } catch (IOException e) {
      log.log(System.Logger.Level.ERROR, "Flush after merge failed: shutting down merge", e);
      mergeFailedShutdown();
      return;
    }
    int n;
    synchronized (this) {
      n = numMergingChunks;
    }
    try {
      store().commitMerge(n);
    } catch (IOException e) {
      log.log(System.Logger.Level.ERROR, "Write error in exception store: shutting down merge", e);
      mergeFailedShutdown();
      return;
    }
    List<Bio> release = null;
    synchronized (this) {
      long c = firstMergingChunk + numMergingChunks - 1;
      for (; c >= firstMergingChunk; c--) {
        if (!complete.remove(c)) {
          log.log(
              System.Logger.Level.ERROR,
              "Corruption detected: exception for block " + c + " is on disk but not in memory");
          break;
        }
      }
      if (c < firstMergingChunk) {
        release = releaseQueuedAfterMerge();
      }
    }
    if (release == null) {
      mergeFailedShutdown();
      return;
    }
    for (Bio b : release) {
      b.submit();
    }
    mergeNextChunks();
  }

  /** Under the lock. */
  private List<Bio> releaseQueuedAfterMerge() {
    firstMergingChunk = 0;
    numMergingChunks = 0;
    List<Bio> l = new ArrayList<>(queuedDuringMerge);
    queuedDuringMerge.clear();
    return l;
  }

  private void mergeFailedShutdown() {
    List<Bio> bios;
    synchronized (this) {
      mergeFailed = true;
      bios = releaseQueuedAfterMerge();
    }
    for (Bio b : bios) {
      b.complete(BlockStatus.IOERR);
    }
    mergeShutdownDone();
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  @Override
  public void presuspend() {
    if (merge) {
      stopMerge();
    }
  }

  @Override
  public void presuspendUndo() {
    if (merge && active) {
      startMerge();
    }
  }

  @Override
  public void postsuspend() {
    suspended = true;
    awaitMetadataWrites();
  }

  private synchronized void awaitMetadataWrites() {
    boolean interrupted = false;
    while (metadataWrites > 0) {
      try {
        wait();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void preresume() {
    OriginRegistry.Sharing sh = registry.sharingCowLocked(this);
    if (sh.src != null && sh.dest != null) {
      if (sh.src == this) {
        throw new TargetException("Unable to resume snapshot source until handover completes.");
      }
      if (!sh.src.suspended) {
        throw new TargetException("Unable to perform snapshot handover until source is suspended.");
      }
    }
  }

  @Override
  public void resume() {
    while (true) {
      OriginRegistry.Sharing sh = registry.sharingCowLocked(this);
      if (sh.src == null || sh.dest != this) {
        break;
      }
      sh.src.awaitNoPending();
      registry.lock.writeLock().lock();
      try {
        sh = registry.sharingCow(this);
        if (sh.src != null && sh.dest == this) {
          if (!sh.src.handoverTo(this)) {
            continue;
          }
        }
      } finally {
        registry.lock.writeLock().unlock();
      }
      break;
    }
    registry.reregister(this);
    suspended = false;
    synchronized (this) {
      active = true;
    }
    if (merge) {
      startMerge();
    }
  }

  private synchronized void awaitNoPending() {
    boolean interrupted = false;
    while (pendingCount > 0) {
      try {
        wait();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * {@code __handover_exceptions} from this (suspended, no pending exception) to {@code dest};
   * {@code false} if a pending exception appeared meanwhile. Caller holds the registry's write
   * lock.
   */
  private boolean handoverTo(Snapshot dest) {
    synchronized (this) {
      if (pendingCount > 0) {
        return false;
      }
      synchronized (dest) {
        ExceptionTable t = dest.complete;
        dest.complete = complete;
        complete = t;
        ExceptionStore s = dest.store;
        dest.store = store;
        dest.store.userspaceSupportsOverflow = s.userspaceSupportsOverflow;
        store = s;
        dest.valid = valid;
        dest.overflowed = overflowed;
        dest.handoverDest = false;
        valid = false;
      }
    }
    return true;
  }

  @Override
  public void close() {
    OriginRegistry.Sharing sh = registry.sharingCowLocked(this);
    if (sh.src == this && sh.dest != null) {
      synchronized (sh.dest) {
        sh.dest.valid = false;
      }
      log.log(System.Logger.Level.ERROR, "Cancelling snapshot handover.");
    }
    if (merge) {
      stopMerge();
    }
    registry.unregister(this);
    kcopyd.close();
    awaitNoPending();
    awaitMetadataWrites();
    ExceptionStore s;
    synchronized (this) {
      s = store;
    }
    s.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Status, devices, limits

  @Override
  public String status(StatusType type) {
    if (type == StatusType.INFO) {
      synchronized (this) {
        if (!valid) {
          return "Invalid";
        }
        if (mergeFailed) {
          return "Merge failed";
        }
        if (overflowed) {
          return "Overflow";
        }
        long[] u = store.usage();
        return u[1] + "/" + u[0] + " " + u[2];
      }
    }
    StringBuilder sb = new StringBuilder();
    sb.append(origin.name()).append(' ').append(cow.name());
    synchronized (this) {
      sb.append(handoverDest ? tableStatusBeforeHandover() : store.tableStatus());
    }
    int features = (discardZeroesCow ? 1 : 0) + (discardPassdownOrigin ? 1 : 0);
    if (features > 0) {
      sb.append(' ').append(features);
      if (discardZeroesCow) {
        sb.append(" discard_zeroes_cow");
      }
      if (discardPassdownOrigin) {
        sb.append(" discard_passdown_origin");
      }
    }
    return sb.toString();
  }

  /** Before the handover the store has no chunk size yet; the kernel prints 0 there too. */
  private String tableStatusBeforeHandover() {
    String s = store.tableStatus();
    return s.substring(0, s.lastIndexOf(' ') + 1) + "0";
  }

  @Override
  public List<DeviceArea> devices() {
    return List.of(new DeviceArea(origin, 0, length), new DeviceArea(cow, 0, cow.bdev().sectors()));
  }

  @Override
  public void ioHints(IoLimits.Builder limits) {
    if (discardZeroesCow) {
      limits.discardGranularity(chunkSize << Bio.SECTOR_SHIFT).maxDiscardSectors(chunkSize);
    }
  }

  @Override
  public long maxIoSectors() {
    return chunkSize;
  }

  @Override
  public int numFlushBios() {
    return merge ? 2 : 1;
  }

  @Override
  public int numDiscardBios() {
    return discardZeroesCow ? (discardPassdownOrigin ? 2 : 1) : 0;
  }

  @Override
  public String toString() {
    return (merge ? "snapshot-merge " : "snapshot ") + origin.name() + " " + cow.name();
  }
}
