package io.jdm.core.io;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.IoLimits;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A test device in front of another: it advertises limits of its own and enforces them (a bio
 * larger than {@code max_sectors}, crossing a chunk or misaligned completes with {@link
 * BlockStatus#INVAL} and is counted as a violation), fails bios touching a chosen range, can hold
 * bios until the test lets them go, and records every bio it saw and the most bytes it had in
 * flight at once. Thread-safe.
 */
final class InstrumentedDevice implements BlockDevice {
  /** What a bio looked like when it arrived. */
  record Seen(Bio.Op op, int flags, long sector, int sectors) {}

  private final String name;
  private final BlockDevice dev;
  private final IoLimits limits;

  private final List<Seen> seen = new ArrayList<>(); // guarded by this
  private final List<Bio> held = new ArrayList<>(); // guarded by this
  private boolean hold; // guarded by this
  private long failFrom = -1; // guarded by this
  private long failTo;
  private BlockStatus failWith;
  private int violations; // guarded by this

  private final AtomicLong inFlight = new AtomicLong();
  private final AtomicLong maxInFlight = new AtomicLong();

  InstrumentedDevice(String name, BlockDevice dev, IoLimits limits) {
    this.name = name;
    this.dev = dev;
    this.limits = limits;
  }

  /** With the wrapped device's limits. */
  InstrumentedDevice(String name, BlockDevice dev) {
    this(name, dev, dev.limits());
  }

  /** The device behind, to check contents without going through this one's limits. */
  BlockDevice inner() {
    return dev;
  }

  /** Fails every bio touching sectors {@code [from, to)} with {@code status}. */
  synchronized InstrumentedDevice failRange(long from, long to, BlockStatus status) {
    this.failFrom = from;
    this.failTo = to;
    this.failWith = status;
    return this;
  }

  /** Holds new bios until {@link #release} (or lets them through at once when false). */
  synchronized void hold(boolean hold) {
    this.hold = hold;
  }

  synchronized int heldCount() {
    return held.size();
  }

  /** Lets the {@code i}th held bio through. */
  void release(int i) {
    Bio b;
    synchronized (this) {
      b = held.remove(i);
    }
    pass(b);
  }

  /** Lets every held bio through and stops holding. */
  void releaseAll() {
    List<Bio> all;
    synchronized (this) {
      hold = false;
      all = new ArrayList<>(held);
      held.clear();
    }
    all.forEach(this::pass);
  }

  synchronized List<Seen> seen() {
    return List.copyOf(seen);
  }

  synchronized long count(Bio.Op op) {
    return seen.stream().filter(s -> s.op() == op).count();
  }

  synchronized int violations() {
    return violations;
  }

  /** Bytes of read, write, discard and write-zeroes bios submitted and not yet completed. */
  long inFlightBytes() {
    return inFlight.get();
  }

  long maxInFlightBytes() {
    return maxInFlight.get();
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public long sectors() {
    return dev.sectors();
  }

  @Override
  public IoLimits limits() {
    return limits;
  }

  @Override
  public boolean isReadOnly() {
    return dev.isReadOnly();
  }

  @Override
  public void submit(Bio bio) {
    long bytes = (long) bio.sectors() << Bio.SECTOR_SHIFT;
    long now = inFlight.addAndGet(bytes);
    maxInFlight.accumulateAndGet(now, Math::max);
    boolean violation = violates(bio);
    synchronized (this) {
      seen.add(new Seen(bio.op(), bio.flags(), bio.sector(), bio.sectors()));
      if (violation) {
        violations++;
      } else if (hold) {
        held.add(bio);
        return;
      }
    }
    if (violation) {
      inFlight.addAndGet(-bytes);
      bio.complete(BlockStatus.INVAL);
      return;
    }
    pass(bio);
  }

  private boolean violates(Bio bio) {
    if (bio.op() == Bio.Op.FLUSH) {
      return false;
    }
    int lbs = limits.logicalBlockSectors();
    if (((bio.sector() | bio.sectors()) & (lbs - 1)) != 0) {
      return true;
    }
    long max;
    switch (bio.op()) {
      case DISCARD:
        max = limits.maxDiscardSectors();
        break;
      case WRITE_ZEROES:
        max = limits.maxWriteZeroesSectors();
        break;
      default:
        max = limits.maxSectors();
        int chunk = limits.chunkSectors();
        if (chunk > 0 && bio.sector() / chunk != (bio.endSector() - 1) / chunk) {
          return true;
        }
    }
    return bio.sectors() > max;
  }

  private void pass(Bio bio) {
    long bytes = (long) bio.sectors() << Bio.SECTOR_SHIFT;
    BlockStatus fail = null;
    synchronized (this) {
      if (failFrom >= 0
          && bio.op() != Bio.Op.FLUSH
          && bio.sector() < failTo
          && bio.endSector() > failFrom) {
        fail = failWith;
      }
    }
    if (fail != null) {
      inFlight.addAndGet(-bytes);
      bio.complete(fail);
      return;
    }
    Bio below =
        bio.clone(
            c -> {
              inFlight.addAndGet(-bytes);
              bio.complete(c.status());
            });
    dev.submit(below);
  }

  @Override
  public void close() throws IOException {
    dev.close();
  }
}
