package io.jdm.targets.snapshot;

import io.jdm.core.Bio;
import io.jdm.core.DeviceNumber;
import io.jdm.core.MapResult;
import io.jdm.core.TargetException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The snapshots of every origin device of one {@link io.jdm.core.DeviceMapper}: the kernel's global
 * origin hash ({@code _origins}, {@code _origins_lock} in {@code drivers/md/dm-snap.c}), reached
 * through {@link io.jdm.core.TargetContext#shared}. A {@code snapshot-origin} finds the snapshots
 * to copy out to by its underlying device's number; a new {@code snapshot} finds the live one
 * sharing its COW device (exception handover on reload, and {@code snapshot-merge} taking over a
 * snapshot).
 *
 * <p>Thread model: a read-write lock; origin writes take it for reading, table loads, resumes and
 * destruction for writing. Per-snapshot state is under each snapshot's own lock, taken inside.
 */
final class OriginRegistry {
  final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();

  /** Snapshots per origin, largest chunk first ({@code __insert_snapshot}). Guarded by lock. */
  private final Map<DeviceNumber, List<Snapshot>> origins = new HashMap<>();

  /** {@code _pending_exceptions_done_count}: bumped whenever a pending exception finishes. */
  private final Object doneLock = new Object();

  private long pendingDone; // guarded by doneLock

  // ---------------------------------------------------------------------------------------------
  // Registration

  /** What {@code __find_snapshots_sharing_cow} finds. */
  static final class Sharing {
    int count;
    Snapshot src;
    Snapshot dest;
    Snapshot merge;
  }

  /** {@code __find_snapshots_sharing_cow}; caller holds the lock. */
  Sharing sharingCow(Snapshot snap) {
    Sharing r = new Sharing();
    List<Snapshot> list = origins.get(snap.originKey);
    if (list == null) {
      return r;
    }
    for (Snapshot s : list) {
      if (s.merge) {
        r.merge = s;
      }
      if (!s.cowKey.equals(snap.cowKey)) {
        continue;
      }
      if (s.isActive()) {
        r.src = s;
      } else {
        r.dest = s;
      }
      r.count++;
    }
    return r;
  }

  /** Snapshot sharing {@code snap}'s COW, taken under the lock. */
  Sharing sharingCowLocked(Snapshot snap) {
    lock.readLock().lock();
    try {
      return sharingCow(snap);
    } finally {
      lock.readLock().unlock();
    }
  }

  /**
   * {@code register_snapshot} with {@code __validate_exception_handover}: returns the live snapshot
   * to take the exceptions over from at resume, or {@code null}.
   *
   * @throws TargetException with the kernel's text when the handover is not allowed
   */
  Snapshot register(Snapshot snap) {
    lock.writeLock().lock();
    try {
      Sharing sh = sharingCow(snap);
      if (sh.count == 2 || sh.dest != null) {
        throw new TargetException("Snapshot cow pairing for exception table handover failed");
      }
      Snapshot src = sh.src;
      if (src != null && snap.merge) {
        if (sh.merge != null) {
          throw new TargetException("A snapshot is already merging.");
        }
        if (!src.store().supportsMerge()) {
          throw new TargetException("Snapshot exception store does not support snapshot-merge.");
        }
      }
      insert(origins.computeIfAbsent(snap.originKey, k -> new ArrayList<>()), snap);
      return src;
    } finally {
      lock.writeLock().unlock();
    }
  }

  private static void insert(List<Snapshot> list, Snapshot s) {
    int i = 0;
    while (i < list.size() && list.get(i).chunkSize() >= s.chunkSize()) {
      i++;
    }
    list.add(i, s);
  }

  /** {@code reregister_snapshot}: re-sorts once the chunk size is known. */
  void reregister(Snapshot s) {
    lock.writeLock().lock();
    try {
      List<Snapshot> list = origins.get(s.originKey);
      if (list != null && list.remove(s)) {
        insert(list, s);
      }
    } finally {
      lock.writeLock().unlock();
    }
  }

  void unregister(Snapshot s) {
    lock.writeLock().lock();
    try {
      List<Snapshot> list = origins.get(s.originKey);
      if (list != null) {
        list.remove(s);
        if (list.isEmpty()) {
          origins.remove(s.originKey);
        }
      }
    } finally {
      lock.writeLock().unlock();
    }
  }

  /** {@code __minimum_chunk_size}: smallest chunk of the origin's snapshots, 0 if none. */
  private static int minimumChunkSize(List<Snapshot> list) {
    int min = 0;
    for (Snapshot s : list) {
      int c = s.chunkSize();
      if (c != 0 && (min == 0 || c < min)) {
        min = c;
      }
    }
    return min;
  }

  // ---------------------------------------------------------------------------------------------
  // Origin writes

  /**
   * {@code do_origin} for a write already remapped to the origin device: copies the chunks it
   * touches out to every snapshot first. Returns {@link MapResult#REMAPPED} if the bio may go down
   * now, {@link MapResult#SUBMITTED} if it waits for copies (it is resubmitted through {@link
   * Snapshot} when they finish). A bio crossing a chunk of the smallest snapshot chunk size is cut
   * there first ({@code origin_map}'s {@code dm_accept_partial_bio}); the front parts go down here.
   */
  MapResult originWrite(DeviceNumber origin, Bio bio) {
    lock.readLock().lock();
    try {
      List<Snapshot> list = origins.get(origin);
      if (list == null || list.isEmpty()) {
        return MapResult.REMAPPED;
      }
      int min = minimumChunkSize(list);
      if (min != 0) {
        while (true) {
          int avail = min - (int) (bio.sector() & (min - 1));
          if (bio.sectors() <= avail) {
            break;
          }
          Bio front = bio.split(avail);
          if (originWriteLocked(list, front.sector(), front) == MapResult.REMAPPED) {
            front.submit();
          }
        }
      }
      return originWriteLocked(list, bio.sector(), bio);
    } finally {
      lock.readLock().unlock();
    }
  }

  /** {@code __origin_write}; caller holds the lock for reading. */
  private static MapResult originWriteLocked(List<Snapshot> list, long sector, Bio bio) {
    MapResult r = MapResult.REMAPPED;
    Snapshot.Pending startLast = null;
    for (int i = 0; i < list.size(); i++) {
      Snapshot s = list.get(i);
      Object x = s.originWrite(sector, bio);
      if (x == null) {
        continue;
      }
      r = MapResult.SUBMITTED;
      if (x instanceof Snapshot.Pending) {
        Snapshot.Pending pe = (Snapshot.Pending) x;
        bio = null;
        if (pe.startDeferred) {
          pe.startDeferred = false;
          startLast = pe;
        }
      }
    }
    if (startLast != null) {
      startLast.snap.startCopy(startLast);
    }
    return r;
  }

  /**
   * {@code origin_write_extent}: starts the copies every other snapshot needs before a merge
   * overwrites {@code [sector, sector + size)} of the origin; {@code true} if any is under way.
   */
  boolean originWriteExtent(Snapshot merging, long sector, long size) {
    lock.readLock().lock();
    try {
      List<Snapshot> list = origins.get(merging.originKey);
      if (list == null) {
        return false;
      }
      int step = minimumChunkSize(list);
      boolean mustWait = false;
      for (long n = 0; n < size; n += step) {
        if (originWriteLocked(list, sector + n, null) == MapResult.SUBMITTED) {
          mustWait = true;
        }
      }
      return mustWait;
    } finally {
      lock.readLock().unlock();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Pending exceptions done

  void pendingDone() {
    synchronized (doneLock) {
      pendingDone++;
      doneLock.notifyAll();
    }
  }

  long pendingDoneCount() {
    synchronized (doneLock) {
      return pendingDone;
    }
  }

  /** Waits until some pending exception finishes after {@code seen} was read. */
  void awaitPendingDone(long seen) {
    boolean interrupted = false;
    synchronized (doneLock) {
      while (pendingDone == seen) {
        try {
          doneLock.wait();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
