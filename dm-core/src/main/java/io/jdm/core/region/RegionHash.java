package io.jdm.core.region;

import io.jdm.core.Bio;
import io.jdm.core.dirtylog.DirtyLog;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Per-region write accounting for a mirror over a {@link DirtyLog}: the kernel's region hash
 * ({@code drivers/md/dm-region-hash.c}). Regions are the log's: {@code regionSize()} sectors from
 * the target's start.
 *
 * <h2>States</h2>
 *
 * A region the hash is not tracking is {@link State#CLEAN} if the log has it in sync and {@link
 * State#NOSYNC} otherwise. A tracked region is:
 *
 * <ul>
 *   <li>{@link State#CLEAN}: in sync, no write pending; dropped by the next {@link #updateStates},
 *       which marks it clean in the log;
 *   <li>{@link State#DIRTY}: in sync, writes pending; marked dirty in the log;
 *   <li>{@link State#NOSYNC}: out of sync (writes go to one leg only); stays tracked until it is
 *       recovered;
 *   <li>{@link State#RECOVERING}: handed out for recovery; new writes to it are held.
 * </ul>
 *
 * <h2>The write path</h2>
 *
 * {@link #startWrites} is the region-hash half of the kernel's {@code do_writes}: it classifies a
 * batch of writes by region state, counts them pending ({@code dm_rh_inc_pending}), which marks
 * newly dirty regions in the log, holds writes to recovering regions, and flushes the log ({@code
 * dm_rh_flush}) <em>before</em> it returns. So the caller may send the batch's writes to the legs
 * as soon as it returns: the log records every region they touch as dirty on stable storage (unless
 * the flush failed, which the batch reports). When each write completes, {@link #endWrite} (or
 * {@link #dec}) drops its count; a region with none left becomes clean, and the next {@link
 * #updateStates} writes it clean in the log.
 *
 * <h2>Recovery</h2>
 *
 * {@link #recoveryPrepare} asks the log for out-of-sync regions (at most {@code maxRecovery} at a
 * time, once {@link #startRecovery} has allowed it) and marks them recovering; a region is handed
 * out by {@link #recoveryStart} only when its pending writes have drained. The caller copies it and
 * calls {@link #recoveryEnd}; the next {@link #updateStates} records the result in the log and
 * gives the writes held for the region to {@link Callbacks#dispatchBios}, which sends them through
 * {@link #startWrites} again. {@link #stopRecovery} waits for recoveries to end and allows no more.
 *
 * <h2>Thread model</h2>
 *
 * Thread-safe: writes start and end on any thread while a worker (the mirror's {@code kmirrord})
 * runs {@link #updateStates} and recovery. One lock guards the hash, the lists and every region's
 * state, pending count and held bios; the log's {@code markRegion}, {@code clearRegion}, {@code
 * setRegionSync} and {@code resyncWork} are called under it (they must not block). The log's {@code
 * inSync(region, true)}, {@code isRemoteRecovering} and {@code flush} are called without it, and so
 * are the callbacks, on the thread of the call that triggers them. Decisions the kernel makes safe
 * by running them all on {@code kmirrord} (classifying a write and counting it, holding a write for
 * a recovering region, clearing a region in the log) are made atomically here instead.
 *
 * <p>The hash owns its log: {@link #close()} closes it. Region entries are allocated when a region
 * starts being tracked, not per bio; looking a region up allocates nothing.
 */
public final class RegionHash implements AutoCloseable {

  /** A region's state ({@code DM_RH_*}). */
  public enum State {
    CLEAN,
    DIRTY,
    NOSYNC,
    RECOVERING
  }

  /** What the hash's owner does for it. Called without the hash's lock. */
  public interface Callbacks {
    /**
     * Writes held for a region whose recovery has ended: pass them to {@link #startWrites} again
     * (the kernel's {@code dispatch_bios}, which queues them for {@code kmirrord}).
     */
    void dispatchBios(List<Bio> bios);

    /** There is work for {@link #updateStates} or recovery ({@code wakeup_workers}). */
    void wakeupWorkers();

    /** {@link #recoveryInFlight()} dropped to 0 ({@code wakeup_all_recovery_waiters}). */
    void wakeupAllRecoveryWaiters();

    /**
     * A dirty region's last write ended and it became clean: {@link #updateStates} has a region to
     * clear in the log, but nothing waits for it. Defaults to {@link #wakeupWorkers()}, as the
     * kernel wakes its worker; an owner whose log is in memory may wake later instead.
     */
    default void regionCleaned() {
      wakeupWorkers();
    }
  }

  /**
   * A batch of writes sorted by {@link #startWrites}: {@code sync} go to every leg, {@code nosync}
   * to the default leg only, {@code requeue} must be retried later (another node is recovering
   * their region). Writes to recovering regions are held by the hash and not listed. {@code
   * logFailure} is the log flush's error, or {@code null}: the kernel's mirror then fails the
   * {@code sync} writes if it handles errors, and writes them anyway if not. Every write in {@code
   * sync} and {@code nosync} that is not a flush or discard is counted pending.
   */
  public record WriteBatch(
      List<Bio> sync, List<Bio> nosync, List<Bio> requeue, IOException logFailure) {}

  private static final long HASH_MULT = 2654435387L; // RH_HASH_MULT
  private static final int HASH_SHIFT = 12; // RH_HASH_SHIFT

  private final DirtyLog log;
  private final long targetBegin;
  private final int regionShift;
  private final int maxRecovery;
  private final Callbacks callbacks;

  private final ReentrantLock lock = new ReentrantLock();
  private final Region[] buckets; // guarded by lock
  private final int mask;
  private final Region.RegionList clean = new Region.RegionList(); // guarded by lock
  private final Region.RegionList quiesced = new Region.RegionList(); // guarded by lock
  private final Region.RegionList recovered = new Region.RegionList(); // guarded by lock
  private final Region.RegionList failedRecovered = new Region.RegionList(); // guarded by lock
  private int tracked; // guarded by lock

  /** Marks made by {@link #startWrites}, and how many of them a finished flush made durable. */
  private long markGeneration; // guarded by lock

  private long durableGeneration; // guarded by lock

  private final AtomicInteger recoveryInFlight = new AtomicInteger();
  private final Semaphore recoveryCount = new Semaphore(0);

  /** A flush failed: no region's writes can be trusted to have reached the disk. */
  private volatile boolean flushFailure;

  private RegionHash(DirtyLog log, long targetBegin, int maxRecovery, Callbacks callbacks) {
    this.log = log;
    this.targetBegin = targetBegin;
    this.regionShift = Long.numberOfTrailingZeros(log.regionSize());
    this.maxRecovery = maxRecovery;
    this.callbacks = callbacks;
    // the kernel's sizing: a power of two near regions / 128, at least 64
    long maxBuckets = log.regionCount() >>> 6;
    int n = 128;
    while (n < maxBuckets && n < (1 << 24)) {
      n <<= 1;
    }
    n >>= 1;
    this.buckets = new Region[n];
    this.mask = n - 1;
  }

  /**
   * A region hash over {@code log} ({@code dm_region_hash_create}).
   *
   * @param targetBegin the target's first sector in the mapped device: bios' sectors are relative
   *     to the mapped device, regions to the target
   * @param maxRecovery regions recovered at once (the mirror uses 1)
   * @throws IllegalArgumentException if the log's region size is not a power of two, {@code
   *     targetBegin} is negative or {@code maxRecovery} is not positive
   */
  public static RegionHash create(
      DirtyLog log, long targetBegin, int maxRecovery, Callbacks callbacks) {
    Objects.requireNonNull(log, "log");
    Objects.requireNonNull(callbacks, "callbacks");
    long rs = log.regionSize();
    if (rs <= 0 || Long.bitCount(rs) != 1) {
      throw new IllegalArgumentException("region size " + rs + " (expected: a power of two)");
    }
    if (targetBegin < 0 || maxRecovery < 1) {
      throw new IllegalArgumentException(
          "targetBegin "
              + targetBegin
              + ", maxRecovery "
              + maxRecovery
              + " (expected: >= 0, >= 1)");
    }
    return new RegionHash(log, targetBegin, maxRecovery, callbacks);
  }

  // ---------------------------------------------------------------------------------------------
  // Conversions

  public DirtyLog dirtyLog() {
    return log;
  }

  /** Region size in sectors. */
  public long regionSize() {
    return 1L << regionShift;
  }

  /** The region holding {@code sector}, counted from the target's start. */
  public long sectorToRegion(long sector) {
    return sector >>> regionShift;
  }

  /** The first sector of {@code region}, counted from the target's start. */
  public long regionToSector(long region) {
    return region << regionShift;
  }

  /** The region a bio addressed to the mapped device falls in ({@code dm_rh_bio_to_region}). */
  public long bioToRegion(Bio bio) {
    return (bio.sector() - targetBegin) >>> regionShift;
  }

  /** Flushes and discards carry no region ({@code REQ_PREFLUSH}, {@code REQ_OP_DISCARD}). */
  private static boolean noRegion(Bio bio) {
    return bio.op() == Bio.Op.FLUSH || bio.op() == Bio.Op.DISCARD || bio.hasFlag(Bio.PREFLUSH);
  }

  // ---------------------------------------------------------------------------------------------
  // The hash

  private int bucket(long key) {
    return (int) ((key * HASH_MULT) >>> HASH_SHIFT) & mask;
  }

  private Region lookup(long key) {
    for (Region r = buckets[bucket(key)]; r != null; r = r.hashNext) {
      if (r.key == key) {
        return r;
      }
    }
    return null;
  }

  private void hashRemove(Region r) {
    int b = bucket(r.key);
    if (buckets[b] == r) {
      buckets[b] = r.hashNext;
    } else {
      Region p = buckets[b];
      while (p.hashNext != r) {
        p = p.hashNext;
      }
      p.hashNext = r.hashNext;
    }
    r.hashNext = null;
    tracked--;
  }

  /**
   * The region's entry, made if missing ({@code __rh_find}). Called and returns with the lock held,
   * but releases it while it asks the log whether a new region is in sync.
   */
  private Region find(long key) {
    Region r = lookup(key);
    if (r != null) {
      return r;
    }
    lock.unlock();
    State initial;
    try {
      initial = log.inSync(key, true) == DirtyLog.SyncState.IN_SYNC ? State.CLEAN : State.NOSYNC;
    } finally {
      lock.lock();
    }
    r = lookup(key);
    if (r != null) {
      return r; // another thread made it meanwhile
    }
    r = new Region(this, key, initial);
    int b = bucket(key);
    r.hashNext = buckets[b];
    buckets[b] = r;
    tracked++;
    if (initial == State.CLEAN) {
      clean.addHead(r);
    }
    return r;
  }

  /**
   * The state of {@code region} ({@code dm_rh_get_state}); for a region not tracked, what the log
   * says ({@link State#NOSYNC} if it cannot tell without blocking and {@code mayBlock} is false).
   */
  public State state(long region, boolean mayBlock) {
    lock.lock();
    try {
      Region r = lookup(region);
      if (r != null) {
        return r.state;
      }
    } finally {
      lock.unlock();
    }
    return log.inSync(region, mayBlock) == DirtyLog.SyncState.IN_SYNC ? State.CLEAN : State.NOSYNC;
  }

  /** Number of regions being tracked (for tests and statistics). */
  public int trackedRegions() {
    lock.lock();
    try {
      return tracked;
    } finally {
      lock.unlock();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Writes

  /**
   * Starts a batch of writes: sorts them by region state, counts them pending (marking newly dirty
   * regions in the log), holds those to recovering regions, then flushes the log. See the class
   * comment. Never throws for a log failure: it is in the batch, and every write is either in the
   * batch or held.
   */
  public WriteBatch startWrites(Collection<Bio> writes) {
    List<Bio> sync = new ArrayList<>(writes.size());
    List<Bio> nosync = new ArrayList<>(0);
    List<Bio> requeue = new ArrayList<>(0);
    for (Bio bio : writes) {
      if (noRegion(bio)) {
        sync.add(bio);
        continue;
      }
      long key = bioToRegion(bio);
      if (log.isRemoteRecovering(key)) {
        requeue.add(bio);
        continue;
      }
      lock.lock();
      try {
        Region r = find(key);
        switch (r.state) {
          case RECOVERING:
            r.delay(bio);
            break;
          case NOSYNC:
            r.pending++;
            nosync.add(bio);
            break;
          case CLEAN:
            r.state = State.DIRTY;
            r.unlink(); // off the clean list
            log.markRegion(key);
            markGeneration++;
            r.pending++;
            sync.add(bio);
            break;
          case DIRTY:
            r.pending++;
            sync.add(bio);
            break;
          default:
            throw new AssertionError(r.state);
        }
      } finally {
        lock.unlock();
      }
    }
    long marks;
    lock.lock();
    try {
      marks = markGeneration;
    } finally {
      lock.unlock();
    }
    IOException failure = null;
    try {
      log.flush();
      lock.lock();
      try {
        durableGeneration = Math.max(durableGeneration, marks);
      } finally {
        lock.unlock();
      }
    } catch (IOException e) {
      failure = e;
    }
    return new WriteBatch(sync, nosync, requeue, failure);
  }

  /**
   * Counts one write pending at once if that needs no log I/O: its region is {@link State#DIRTY}
   * and every mark {@link #startWrites} made is durable (the flush after it returned), or the log's
   * marks need no flush ({@link DirtyLog#marksNeedFlush()} false, the {@code core} log) and the
   * region is in sync, so that it is marked dirty here as {@link #startWrites} would mark it. Then
   * the write may go to every leg right away, as a write of a {@code sync} batch would, and
   * completes with {@link #endWrite}. Otherwise returns {@code false} and counts nothing: the
   * caller goes through {@link #startWrites}. Flushes and discards are never started here. A jdm
   * fast path (the kernel sends every write through {@code kmirrord}); never blocks, and allocates
   * only the entry of a region that starts being tracked.
   */
  public boolean tryStartWrite(Bio bio) {
    if (noRegion(bio)) {
      return false;
    }
    long key = bioToRegion(bio);
    if (log.isRemoteRecovering(key)) {
      return false;
    }
    boolean markInline = !log.marksNeedFlush();
    lock.lock();
    try {
      Region r;
      if (markInline) {
        r = find(key); // the log answers in memory: does not block
        if (r.state == State.CLEAN) {
          r.state = State.DIRTY;
          r.unlink(); // off the clean list
          log.markRegion(key); // durable at once: the rule of the first write holds
        }
      } else {
        if (markGeneration != durableGeneration) {
          return false; // a mark may not be on disk yet
        }
        r = lookup(key);
      }
      if (r == null || r.state != State.DIRTY) {
        return false;
      }
      r.pending++;
      return true;
    } finally {
      lock.unlock();
    }
  }

  /**
   * A write from a {@link WriteBatch} completed (the mirror's {@code end_io}): drops its region's
   * pending count. Flushes and discards are ignored, as they were not counted.
   */
  public void endWrite(Bio bio) {
    if (!noRegion(bio)) {
      dec(bioToRegion(bio));
    }
  }

  /**
   * Drops one pending write of {@code region} ({@code dm_rh_dec}). At zero a dirty region becomes
   * clean, a recovering one is ready for {@link #recoveryStart}, and the workers are woken.
   *
   * @throws IllegalStateException if the region has no pending write
   */
  public void dec(long region) {
    boolean wake = false;
    boolean cleaned = false;
    lock.lock();
    try {
      Region r = lookup(region);
      if (r == null || r.pending == 0) {
        throw new IllegalStateException("region " + region + " has no pending write");
      }
      if (--r.pending == 0) {
        if (r.state == State.RECOVERING) {
          // Also after a flush failure: the kernel would make it NOSYNC here and never hand it
          // out, so its recovery would never end. Recovery copies the region anyway.
          quiesced.addTail(r);
        } else if (flushFailure) {
          // A flush failed earlier: whether this write reached the disk is unknown.
          r.state = State.NOSYNC;
        } else if (r.state == State.DIRTY) {
          r.state = State.CLEAN;
          clean.addHead(r);
          cleaned = true;
        }
        wake = !cleaned;
      }
    } finally {
      lock.unlock();
    }
    if (wake) {
      callbacks.wakeupWorkers();
    } else if (cleaned) {
      callbacks.regionCleaned();
    }
  }

  /**
   * A write reached some legs but failed on others ({@code dm_rh_mark_nosync}): its region is out
   * of sync and must not be marked clean. A failed flush instead taints every region that later
   * drains ({@code flush_failure}); discards are ignored. Call before {@link #endWrite} for that
   * write.
   */
  public void markNosync(Bio bio) {
    if (bio.op() == Bio.Op.FLUSH || bio.hasFlag(Bio.PREFLUSH)) {
      flushFailure = true;
      return;
    }
    if (bio.op() == Bio.Op.DISCARD) {
      return;
    }
    long key = bioToRegion(bio);
    List<Bio> held = null;
    lock.lock();
    try {
      log.setRegionSync(key, false);
      Region r = find(key);
      boolean recovering = r.state == State.RECOVERING;
      r.state = State.NOSYNC;
      if (recovering) {
        r.unlink(); // in case it was waiting for recovery: it is not any more
        log.setRegionSync(key, false);
        held = r.takeDelayed();
      }
    } finally {
      lock.unlock();
    }
    if (held != null) {
      recoveryDone(held);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Recovery

  /**
   * Takes the log's next out-of-sync regions into recovery while recovery slots are free ({@code
   * dm_rh_recovery_prepare}); each is handed out by {@link #recoveryStart} once its writes drain.
   */
  public void recoveryPrepare() {
    recoveryInFlight.incrementAndGet(); // so that a stopRecovery racing with us waits
    while (recoveryCount.tryAcquire()) {
      recoveryInFlight.incrementAndGet();
      if (!prepareOne()) {
        recoveryInFlight.decrementAndGet();
        recoveryCount.release();
        break;
      }
    }
    if (recoveryInFlight.decrementAndGet() == 0) {
      callbacks.wakeupAllRecoveryWaiters();
    }
  }

  private boolean prepareOne() {
    lock.lock();
    try {
      long key = log.resyncWork();
      if (key == DirtyLog.NO_REGION) {
        return false;
      }
      Region r = find(key);
      r.state = State.RECOVERING;
      r.unlink();
      if (r.pending == 0) {
        quiesced.addHead(r);
      }
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** A region ready to be recovered, or {@code null} ({@code dm_rh_recovery_start}). */
  public Region recoveryStart() {
    lock.lock();
    try {
      return quiesced.poll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Recovery of {@code region} ended ({@code dm_rh_recovery_end}); the next {@link #updateStates}
   * records it and releases the writes held for the region.
   *
   * @throws IllegalArgumentException if the region is not one this hash handed out for recovery
   */
  public void recoveryEnd(Region region, boolean success) {
    lock.lock();
    try {
      if (region.hash != this || region.onList() || region.state != State.RECOVERING) {
        throw new IllegalArgumentException(region + " is not being recovered by this hash");
      }
      if (success) {
        recovered.addHead(region);
      } else {
        region.state = State.NOSYNC;
        failedRecovered.addHead(region);
      }
    } finally {
      lock.unlock();
    }
    callbacks.wakeupWorkers();
  }

  /** Regions being recovered, plus callers inside {@link #recoveryPrepare}. */
  public int recoveryInFlight() {
    return recoveryInFlight.get();
  }

  /** Allows {@code maxRecovery} recoveries at once ({@code dm_rh_start_recovery}). */
  public void startRecovery() {
    recoveryCount.release(maxRecovery);
    callbacks.wakeupWorkers();
  }

  /**
   * Waits for every recovery to end and allows no more until {@link #startRecovery} ({@code
   * dm_rh_stop_recovery}). Uninterruptible, as the kernel's {@code down}.
   */
  public void stopRecovery() {
    recoveryCount.acquireUninterruptibly(maxRecovery);
  }

  /** {@code complete_resync_work} after the log was told: release held writes, free the slot. */
  private void recoveryDone(List<Bio> held) {
    // The held writes go first, so a suspend woken below finds them queued.
    if (!held.isEmpty()) {
      callbacks.dispatchBios(held);
    }
    if (recoveryInFlight.decrementAndGet() == 0) {
      callbacks.wakeupAllRecoveryWaiters();
    }
    recoveryCount.release();
  }

  // ---------------------------------------------------------------------------------------------
  // The worker's pass

  /**
   * Settles what happened since the last call ({@code dm_rh_update_states}): regions recovered are
   * marked clean and in sync in the log, regions whose recovery failed in sync or not ({@code
   * errorsHandled}: not), clean regions are marked clean and dropped; the writes held for recovered
   * regions are dispatched; then the log is flushed.
   *
   * @throws IOException if the log flush failed (the kernel ignores it; the log reports it)
   */
  public void updateStates(boolean errorsHandled) throws IOException {
    List<List<Bio>> done = null;
    lock.lock();
    try {
      Region r;
      while ((r = recovered.poll()) != null) {
        hashRemove(r);
        log.clearRegion(r.key);
        log.setRegionSync(r.key, true);
        done = addDone(done, r.takeDelayed());
      }
      while ((r = failedRecovered.poll()) != null) {
        hashRemove(r);
        log.setRegionSync(r.key, !errorsHandled);
        done = addDone(done, r.takeDelayed());
      }
      // Marked clean under the lock, so a write starting meanwhile marks it dirty after this.
      while ((r = clean.poll()) != null) {
        hashRemove(r);
        log.clearRegion(r.key);
      }
    } finally {
      lock.unlock();
    }
    if (done != null) {
      for (List<Bio> held : done) {
        recoveryDone(held);
      }
    }
    log.flush();
  }

  private static List<List<Bio>> addDone(List<List<Bio>> done, List<Bio> held) {
    List<List<Bio>> d = done == null ? new ArrayList<>() : done;
    d.add(held);
    return d;
  }

  /** Flushes the log ({@code dm_rh_flush}). */
  public void flush() throws IOException {
    log.flush();
  }

  /**
   * Closes the hash and its log ({@code dm_region_hash_destroy}).
   *
   * @throws IllegalStateException if writes are pending or regions are waiting for recovery
   */
  @Override
  public void close() {
    lock.lock();
    try {
      if (!quiesced.isEmpty()) {
        throw new IllegalStateException("regions are waiting for recovery");
      }
      for (Region head : buckets) {
        for (Region r = head; r != null; r = r.hashNext) {
          if (r.pending != 0) {
            throw new IllegalStateException(r + " has writes pending");
          }
        }
      }
    } finally {
      lock.unlock();
    }
    log.close();
  }
}
