package io.jdm.targets.multipath;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.IoLimits;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One path to a shared store, for tests: passes bios through, or fails them with a status (a cable
 * pulled), or holds them until {@link #releaseHeld} (a slow path, to pin in-flight counts). Counts
 * the bios it was given. Closing a path closes the store only if the path owns it.
 */
final class PathDevice implements BlockDevice {
  private final String name;
  private final BlockDevice store;
  private final boolean ownsStore;
  private volatile BlockStatus failWith; // null: pass through
  private volatile boolean hold;
  private final ArrayDeque<Bio> held = new ArrayDeque<>(); // guarded by itself
  final AtomicInteger submitted = new AtomicInteger();
  final AtomicInteger failed = new AtomicInteger();

  PathDevice(String name, BlockDevice store, boolean ownsStore) {
    this.name = name;
    this.store = store;
    this.ownsStore = ownsStore;
  }

  /** Fails every bio from now on with {@code status}; {@code null} passes them through again. */
  void failWith(BlockStatus status) {
    failWith = status;
  }

  /** Holds bios from now on ({@code true}) or passes them on ({@code false}). */
  void hold(boolean hold) {
    this.hold = hold;
  }

  int heldCount() {
    synchronized (held) {
      return held.size();
    }
  }

  /** Passes every held bio on (or fails it, if the path fails now). */
  void releaseHeld() {
    while (true) {
      Bio b;
      synchronized (held) {
        b = held.pollFirst();
      }
      if (b == null) {
        return;
      }
      pass(b);
    }
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public long sectors() {
    return store.sectors();
  }

  @Override
  public IoLimits limits() {
    return store.limits();
  }

  @Override
  public boolean isReadOnly() {
    return store.isReadOnly();
  }

  @Override
  public void submit(Bio bio) {
    submitted.incrementAndGet();
    if (hold) {
      synchronized (held) {
        if (hold) {
          held.addLast(bio);
          return;
        }
      }
    }
    pass(bio);
  }

  private void pass(Bio bio) {
    BlockStatus s = failWith;
    if (s != null) {
      failed.incrementAndGet();
      bio.complete(s);
      return;
    }
    store.submit(bio);
  }

  @Override
  public void close() throws IOException {
    if (ownsStore) {
      store.close();
    }
  }
}
