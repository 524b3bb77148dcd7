package io.jdm.targets.multipath;

import io.jdm.core.pathselector.DmPath;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The kernel selectors' {@code valid_paths} list without its spinlock: every path carries a stamp,
 * and the valid paths in stamp order are the kernel's list from head to tail. Moving a path to the
 * tail ({@code list_move_tail}) gives it a stamp above all others, to the head ({@code list_move})
 * one below all others; failing it takes it out of the list. So {@link #select} and the scans that
 * choose a path read volatile fields and never lock, and in a single thread they choose exactly as
 * the kernel's list would; under concurrency two choices may see the same order, as two CPUs would
 * one after the other.
 *
 * <p>Paths are added by the constructor only (under the owner's lock); the array is then fixed.
 */
final class PathOrder<P extends PathOrder.Entry> {

  /** A selector's per-path state: the path, whether it is in the valid list, its place there. */
  abstract static class Entry {
    private static final VarHandle STAMP;

    static {
      try {
        STAMP = MethodHandles.lookup().findVarHandle(Entry.class, "stamp", long.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    final DmPath path;
    volatile boolean valid = true;

    @SuppressWarnings("unused") // through STAMP
    private volatile long stamp;

    Entry(DmPath path) {
      this.path = path;
    }

    final long stamp() {
      return stamp;
    }

    final boolean casStamp(long expected, long value) {
      return STAMP.compareAndSet(this, expected, value);
    }

    final void setStamp(long value) {
      stamp = value;
    }
  }

  private volatile Entry[] all = new Entry[0];
  private final AtomicLong tail = new AtomicLong();
  private final AtomicLong head = new AtomicLong();

  /** Adds a valid path at the tail ({@code list_add_tail}). */
  synchronized void add(P p) {
    p.setStamp(tail.getAndIncrement());
    Entry[] a = Arrays.copyOf(all, all.length + 1);
    a[a.length - 1] = p;
    all = a;
  }

  /** Every path added, valid or not, in the order added (entries of the selector's type). */
  Entry[] all() {
    return all;
  }

  /** {@code list_move_tail} within the valid list. */
  void moveToTail(P p) {
    p.setStamp(tail.getAndIncrement());
  }

  /**
   * Moves {@code p} to the tail if its stamp is still {@code seen}; {@code false} if another choice
   * moved it first.
   */
  boolean moveToTail(P p, long seen) {
    return p.casStamp(seen, tail.getAndIncrement());
  }

  /** Takes a path out of the valid list ({@code list_move} to the failed list). */
  void fail(P p) {
    p.valid = false;
  }

  /** Puts a failed path back at the tail of the valid list ({@code list_move_tail}). */
  void reinstateAtTail(P p) {
    p.setStamp(tail.getAndIncrement());
    p.valid = true;
  }

  /** Puts a failed path back at the head of the valid list ({@code list_move}). */
  void reinstateAtHead(P p) {
    p.setStamp(head.decrementAndGet());
    p.valid = true;
  }

  /** The valid path at the head of the list, or {@code null}. */
  P first() {
    return after(Long.MIN_VALUE);
  }

  /**
   * The valid path that follows stamp {@code stamp} in the list, or {@code null}: with {@link
   * #first()} a walk of the list in order, without a copy (quadratic in the number of paths, which
   * is a handful).
   */
  @SuppressWarnings("unchecked")
  P after(long stamp) {
    Entry best = null;
    long bs = Long.MAX_VALUE;
    for (Entry e : all) {
      if (e.valid) {
        long s = e.stamp();
        if (s > stamp && (best == null || s < bs)) {
          best = e;
          bs = s;
        }
      }
    }
    return (P) best;
  }
}
