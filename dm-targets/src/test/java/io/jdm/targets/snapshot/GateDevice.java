package io.jdm.targets.snapshot;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.IoLimits;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A pass-through device that logs every bio it is given and holds back those a predicate picks
 * until the test releases them, so a test can stop a copy-out or a read at a known point without
 * any timing. Advertises a write cache with FUA so flushes reach it.
 */
final class GateDevice implements BlockDevice {
  /** One bio as it arrived. */
  record Io(Bio.Op op, int flags, long sector, int sectors) {}

  private final BlockDevice dev;
  private final IoLimits limits;
  private final List<Io> log = new ArrayList<>();
  private final List<Bio> held = new ArrayList<>();
  private Predicate<Bio> hold = b -> false;
  private Predicate<Bio> fail = b -> false;

  GateDevice(BlockDevice dev) {
    this.dev = dev;
    this.limits = dev.limits().toBuilder().writeCache(true).fua(true).build();
  }

  /** Holds every bio matching {@code p} from now on (bios already held stay held). */
  synchronized void hold(Predicate<Bio> p) {
    hold = p;
  }

  /** Fails every bio matching {@code p} from now on with {@code IOERR}. */
  synchronized void fail(Predicate<Bio> p) {
    fail = p;
  }

  /** Waits until at least {@code n} bios are held. */
  synchronized void awaitHeld(int n) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (held.size() < n) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new AssertionError("only " + held.size() + " of " + n + " bios held: " + log);
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
  }

  /** Waits until a write at {@code sector} carrying {@code flags} has arrived. */
  synchronized void awaitWrite(long sector, int flags) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (log.stream()
        .noneMatch(
            i -> i.op() == Bio.Op.WRITE && i.sector() == sector && (i.flags() & flags) == flags)) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new AssertionError("no write at " + sector + " with flags " + flags + ": " + log);
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
  }

  synchronized int heldCount() {
    return held.size();
  }

  /** Stops holding and lets every held bio through, in order. */
  void releaseAll() {
    List<Bio> l;
    synchronized (this) {
      hold = b -> false;
      l = new ArrayList<>(held);
      held.clear();
    }
    for (Bio b : l) {
      dev.submit(b);
    }
  }

  /** Lets held bio {@code i} through (others stay held). */
  void release(int i) {
    Bio b;
    synchronized (this) {
      b = held.remove(i);
    }
    dev.submit(b);
  }

  /** Completes held bio {@code i} with {@code IOERR} instead of letting it through. */
  void failHeld(int i) {
    Bio b;
    synchronized (this) {
      b = held.remove(i);
    }
    b.complete(io.jdm.core.BlockStatus.IOERR);
  }

  synchronized Bio held(int i) {
    return held.get(i);
  }

  synchronized List<Io> log() {
    return List.copyOf(log);
  }

  /** Writes (with data) that started at {@code sector}. */
  synchronized long writesAt(long sector) {
    return log.stream().filter(i -> i.op() == Bio.Op.WRITE && i.sector() == sector).count();
  }

  synchronized void clearLog() {
    log.clear();
  }

  @Override
  public String name() {
    return dev.name();
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
    synchronized (this) {
      log.add(new Io(bio.op(), bio.flags(), bio.sector(), bio.sectors()));
      notifyAll();
      if (hold.test(bio)) {
        held.add(bio);
        return;
      }
      if (fail.test(bio)) {
        bio.complete(io.jdm.core.BlockStatus.IOERR);
        return;
      }
    }
    dev.submit(bio);
  }

  @Override
  public void close() throws IOException {
    dev.close();
  }
}
