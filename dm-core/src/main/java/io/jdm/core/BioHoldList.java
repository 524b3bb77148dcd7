package io.jdm.core;

import java.util.ArrayDeque;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Bios a target keeps until it can serve them, with the core's suspend rules: mirror's held writes
 * ({@code ms->holds} in {@code drivers/md/dm-raid1.c}) and multipath's queued bios under {@code
 * queue_if_no_path} ({@code m->queued_bios} in {@code dm-mpath.c}). Obtained from {@link
 * TargetContext#holdList}.
 *
 * <p>Rules, as the kernel's {@code hold_bio} and multipath's push-back:
 *
 * <ul>
 *   <li>{@link #hold} keeps the bio while the device runs;
 *   <li>once the device starts suspending (after the targets' presuspend hooks, with new I/O
 *       already held by the core), everything held is let go, and so is any bio offered to {@link
 *       #hold} until the device resumes: under a {@link SuspendMode#NOFLUSH} suspend the bio is
 *       pushed back to the core, which reissues it after resume; under a flushing suspend it
 *       completes with the list's fail status. Without this a suspend would wait forever for bios
 *       that only a resume can serve;
 *   <li>a suspend that is abandoned, or a resume, makes the list hold again;
 *   <li>when the table is destroyed anything still held completes with {@link BlockStatus#IOERR}.
 * </ul>
 *
 * <p>The bios must be ones the target owns: given to its {@code map} (which returned {@link
 * MapResult#SUBMITTED}) or made by it. Thread-safe; {@link #hold} takes a short lock, never blocks.
 */
public final class BioHoldList {
  private final MappedDevice md;
  private final BlockStatus failStatus;
  private final ArrayDeque<Bio> held = new ArrayDeque<>(); // guarded by this
  private boolean suspending; // guarded by this

  BioHoldList(MappedDevice md, BlockStatus failStatus) {
    this.md = md;
    this.failStatus = Objects.requireNonNull(failStatus, "failStatus");
  }

  /**
   * Keeps {@code bio} until {@link #release} or {@link #fail}; while the device is suspending, lets
   * it go as the class javadoc says instead.
   *
   * @return {@code true} if the bio is held, {@code false} if it was pushed back or failed
   */
  public boolean hold(Bio bio) {
    Objects.requireNonNull(bio, "bio");
    synchronized (this) {
      if (!suspending) {
        held.addLast(bio);
        return true;
      }
    }
    letGo(bio);
    return false;
  }

  /**
   * Takes every held bio out and hands each, in the order they were held, to {@code action} (to
   * remap and submit again, say). Bios held by {@code action} itself stay for the next call.
   *
   * @return how many bios were handed over
   */
  public int release(Consumer<Bio> action) {
    Objects.requireNonNull(action, "action");
    Bio[] out = drain();
    for (Bio b : out) {
      action.accept(b);
    }
    return out.length;
  }

  /** Completes every held bio with {@code status}; returns how many. */
  public int fail(BlockStatus status) {
    Objects.requireNonNull(status, "status");
    Bio[] out = drain();
    for (Bio b : out) {
      b.complete(status);
    }
    return out.length;
  }

  /** Bios held now. */
  public synchronized int size() {
    return held.size();
  }

  private synchronized Bio[] drain() {
    Bio[] out = held.toArray(new Bio[0]);
    held.clear();
    return out;
  }

  private void letGo(Bio bio) {
    bio.complete(md != null && md.isNoflushSuspending() ? BlockStatus.DM_REQUEUE : failStatus);
  }

  /** The device started suspending: let go of everything, newest first so replay keeps order. */
  void startSuspending() {
    Bio[] out;
    synchronized (this) {
      suspending = true;
      out = drain();
    }
    for (int i = out.length - 1; i >= 0; i--) {
      letGo(out[i]);
    }
  }

  /** The device resumed, or its suspend was abandoned. */
  synchronized void stopSuspending() {
    suspending = false;
  }

  /** The table is being destroyed. */
  void destroy() {
    synchronized (this) {
      suspending = true;
    }
    fail(BlockStatus.IOERR);
  }
}
