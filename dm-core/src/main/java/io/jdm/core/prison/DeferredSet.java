package io.jdm.core.prison;

import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Objects;

/**
 * Work that must wait for I/O already in flight, the kernel's {@code dm_deferred_set} ({@code
 * drivers/md/dm-bio-prison-v1.c}). Thin provisioning counts reads of shared blocks with it, so that
 * a write breaking the sharing does not remap (and free) a block a read still uses.
 *
 * <p>I/O takes an {@link Entry} with {@link #inc()} when it starts and gives it back with {@link
 * #dec} when it ends. {@link #addWork} queues work behind every entry taken before it: the work is
 * handed back by the {@code dec} that ends the last of them. Entries taken after the work don't
 * delay it, except when 64 generations are in flight at once: then new I/O joins the newest
 * generation and may delay work queued in it (never release it early).
 *
 * <p>Thread model: thread-safe, one lock. Work is handed back to the caller of {@code dec}, in the
 * order it was added (the kernel's list order is reversed; nothing depends on it).
 *
 * @param <W> the work items
 */
public final class DeferredSet<W> {
  /** Generations in the ring ({@code DEFERRED_SET_SIZE}). */
  public static final int SIZE = 64;

  /** A generation of I/O ({@code struct dm_deferred_entry}). */
  public static final class Entry {
    private final DeferredSet<?> set;
    private int count; // guarded by set
    private final ArrayDeque<Object> work = new ArrayDeque<>(); // guarded by set

    private Entry(DeferredSet<?> set) {
      this.set = set;
    }
  }

  private final Entry[] entries = new Entry[SIZE];
  private int current; // guarded by this
  private int sweeper; // guarded by this

  public DeferredSet() {
    for (int i = 0; i < SIZE; i++) {
      entries[i] = new Entry(this);
    }
  }

  /** Counts one I/O in the current generation ({@code dm_deferred_entry_inc}). */
  public synchronized Entry inc() {
    Entry e = entries[current];
    e.count++;
    return e;
  }

  /**
   * Ends one I/O of {@code entry}'s generation ({@code dm_deferred_entry_dec}) and adds to {@code
   * ready} the work no longer waiting for anything.
   *
   * @throws IllegalStateException if the generation has no I/O left to end
   * @throws IllegalArgumentException if the entry is another set's
   */
  public synchronized void dec(Entry entry, Collection<? super W> ready) {
    Objects.requireNonNull(ready, "ready");
    if (entry.set != this) {
      throw new IllegalArgumentException("the entry belongs to another deferred set");
    }
    if (entry.count == 0) {
      throw new IllegalStateException("dec of a deferred entry with no I/O in flight");
    }
    entry.count--;
    sweep(ready);
  }

  /** {@code __sweep}: hands back the work of every finished generation from the oldest on. */
  private void sweep(Collection<? super W> ready) {
    while (sweeper != current && entries[sweeper].count == 0) {
      drain(entries[sweeper], ready);
      sweeper = next(sweeper);
    }
    if (sweeper == current && entries[sweeper].count == 0) {
      drain(entries[sweeper], ready);
    }
  }

  @SuppressWarnings("unchecked") // only addWork puts work in, and it takes W
  private static <W> void drain(Entry e, Collection<? super W> ready) {
    Object w;
    while ((w = e.work.poll()) != null) {
      ready.add((W) w);
    }
  }

  private static int next(int i) {
    return (i + 1) & (SIZE - 1);
  }

  /**
   * Queues {@code work} behind every I/O in flight ({@code dm_deferred_set_add_work}). Returns
   * {@code false}, queuing nothing, if there is no I/O in flight: run the work now.
   */
  public synchronized boolean addWork(W work) {
    Objects.requireNonNull(work, "work");
    if (sweeper == current && entries[current].count == 0) {
      return false;
    }
    entries[current].work.add(work);
    int n = next(current);
    if (entries[n].count == 0) {
      current = n;
    }
    return true;
  }
}
