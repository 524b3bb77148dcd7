package io.jdm.core.dirtylog;

import io.jdm.core.StatusType;
import java.io.IOException;

/**
 * A dirty region log, the kernel's {@code struct dm_dirty_log} with its type's methods ({@code
 * include/linux/dm-dirty-log.h}). A mirror is cut into regions of {@link #regionSize()} sectors;
 * the log keeps, per region, whether it is <em>clean</em> (no write may be in flight to it, so the
 * legs agree there), whether it is <em>in sync</em>, and which regions are being recovered.
 *
 * <p>Implementations must:
 *
 * <ul>
 *   <li>make {@link #markRegion} durable by the end of the next {@link #flush()} that returns
 *       normally: a flush <em>started</em> after a mark returns only once that mark is on stable
 *       storage (persistent logs), even when another thread's flush is already running. This is
 *       what lets a region hash release the first write to a newly dirty region after one flush;
 *   <li>call the {@link FlushCallback} given at construction (if any) before a flush writes a
 *       region as clean, so the data written to it is durable before the mark that says it is
 *       clean; if the callback fails, treat every region as dirty from then on ({@code
 *       flush_failed});
 *   <li>throw {@link IOException} from {@link #flush}, {@link #resume} and {@link #postsuspend}
 *       when the log device fails, and then report the failure in {@link #status} (a log device
 *       failure also raises a table event);
 *   <li>return the kernel's exact text from {@link #status}, and take region numbers in {@code [0,
 *       regionCount)} ({@link IndexOutOfBoundsException} otherwise).
 * </ul>
 *
 * <p>Thread model: thread-safe. Marks, clears and queries may come from any thread (a region hash
 * calls them under its own lock, so they must not block on I/O); {@link #flush()} may run
 * concurrently with them and with itself. The lifecycle calls ({@link #presuspend}, {@link
 * #postsuspend}, {@link #resume}, {@link #close}) come from the owning target's control path.
 */
public interface DirtyLog extends AutoCloseable {

  /** What {@link #resyncWork()} returns when there is no region to recover. */
  long NO_REGION = -1;

  /** The answer of {@link #inSync}: the kernel's 1, 0 and {@code -EWOULDBLOCK}. */
  enum SyncState {
    IN_SYNC,
    NOT_IN_SYNC,
    /** The log cannot tell without blocking (cluster logs); ask again from a thread that may. */
    WOULD_BLOCK
  }

  /**
   * Makes sure data is durable before regions are written clean: a mirror's flush of all its legs
   * ({@code flush_callback_fn}).
   */
  @FunctionalInterface
  interface FlushCallback {
    void flush() throws IOException;
  }

  /** The type that made this log; its name leads the status text. */
  DirtyLogType type();

  /** Before suspending: there are times the log must not touch its device. */
  default void presuspend() throws IOException {}

  /** After the mirror is quiet: the disk log writes what is not written yet. */
  default void postsuspend() throws IOException {}

  /**
   * When the mirror resumes (and when it first goes live): a persistent log loads its state here.
   */
  default void resume() throws IOException {}

  /** The region size in 512-byte sectors ({@code get_region_size}). */
  long regionSize();

  /** Number of regions the log covers. */
  long regionCount();

  /** No write can be in flight to this region ({@code is_clean}). */
  boolean isClean(long region);

  /**
   * Whether the legs agree on {@code region} ({@code in_sync}). With {@code canBlock} false a log
   * that would have to wait answers {@link SyncState#WOULD_BLOCK}.
   */
  SyncState inSync(long region, boolean canBlock);

  /** Makes the log's current state durable (no-op for a log in memory). */
  void flush() throws IOException;

  /**
   * Whether {@link #flush()} is needed to make a mark durable: {@code false} for a log kept in
   * memory only, whose marks hold from the moment {@link #markRegion} returns and whose flush does
   * nothing (the {@code core} log). A region hash may then start a write to a newly dirty region
   * without a flush. Defaults to {@code true}.
   */
  default boolean marksNeedFlush() {
    return true;
  }

  /** Marks a region dirty: a write to it is about to start ({@code mark_region}). */
  void markRegion(long region);

  /** Marks a region clean: no write to it is in flight ({@code clear_region}). */
  void clearRegion(long region);

  /**
   * The next region this machine should recover, now marked recovering, or {@link #NO_REGION}
   * ({@code get_resync_work}).
   */
  long resyncWork();

  /**
   * Records that {@code region} is now in sync or not, and that it is no longer being recovered
   * ({@code set_region_sync}).
   */
  void setRegionSync(long region, boolean inSync);

  /** Number of regions in sync ({@code get_sync_count}). */
  long syncCount();

  /**
   * The log's part of the mirror's status text. {@link StatusType#TABLE} text ends with a blank, as
   * the kernel emits it, so that the mirror can append its own arguments.
   */
  String status(StatusType type);

  /**
   * Whether another node is recovering {@code region} (cluster logs; {@code is_remote_recovering}).
   */
  default boolean isRemoteRecovering(long region) {
    return false;
  }

  /** Releases the log ({@code dtr}); devices it opened through its context are the core's. */
  @Override
  void close();
}
