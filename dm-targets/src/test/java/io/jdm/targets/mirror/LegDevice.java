package io.jdm.targets.mirror;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.IoLimits;
import io.jdm.core.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A mirror leg for tests: an in-memory disk (with a write cache, so flushes reach it) that can be
 * told to fail reads, writes or flushes with {@code IOERR}, and to hold writes at a gate until the
 * test lets them through one at a time, which is how the tests drive resync step by step.
 */
final class LegDevice implements BlockDevice {
  private final MemoryBlockDevice mem;
  private final IoLimits limits;
  private final ConcurrentLinkedQueue<Bio> held = new ConcurrentLinkedQueue<>();
  private final AtomicInteger maxHeld = new AtomicInteger();
  private final AtomicInteger writes = new AtomicInteger();
  volatile boolean failReads;
  volatile boolean failWrites;
  volatile boolean failFlushes;
  private volatile boolean gated;
  private volatile boolean readsGated;
  private final ConcurrentLinkedQueue<Bio> heldReads = new ConcurrentLinkedQueue<>();
  private final AtomicInteger reads = new AtomicInteger();

  LegDevice(String name, long sectors) {
    this.mem = MemoryBlockDevice.builder(name, sectors).writeCache(true).build();
    this.limits = mem.limits().toBuilder().writeCache(true).fua(true).build();
  }

  /** The disk under the leg, for checking and planting data without going through the mirror. */
  MemoryBlockDevice disk() {
    return mem;
  }

  /** Holds every write from now on until {@link #releaseOne()} or {@link #open()}. */
  void gate() {
    gated = true;
  }

  /** Lets all held writes through and holds no more. */
  void open() {
    gated = false;
    Bio b;
    while ((b = held.poll()) != null) {
      mem.submit(b);
    }
  }

  /** Lets the oldest held write through; returns it, or {@code null} if none is held. */
  Bio releaseOne() {
    Bio b = held.poll();
    if (b != null) {
      mem.submit(b);
    }
    return b;
  }

  /** Holds reads from now on until {@link #openReads()}. */
  void gateReads() {
    readsGated = true;
  }

  void openReads() {
    readsGated = false;
    Bio b;
    while ((b = heldReads.poll()) != null) {
      mem.submit(b);
    }
  }

  int heldReads() {
    return heldReads.size();
  }

  /** Reads that reached the leg. */
  int reads() {
    return reads.get();
  }

  int heldWrites() {
    return held.size();
  }

  /** Most writes ever held at once. */
  int maxHeld() {
    return maxHeld.get();
  }

  /** Writes that reached the leg (held or not). */
  int writes() {
    return writes.get();
  }

  byte[] read(long sector, int sectors) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(sectors * 512);
    mem.read(b, sector * 512);
    return b.array();
  }

  void plant(long sector, byte[] data) throws IOException {
    mem.write(ByteBuffer.wrap(data), sector * 512);
  }

  @Override
  public String name() {
    return mem.name();
  }

  @Override
  public long sectors() {
    return mem.sectors();
  }

  @Override
  public IoLimits limits() {
    return limits;
  }

  @Override
  public boolean isReadOnly() {
    return false;
  }

  @Override
  public void submit(Bio bio) {
    switch (bio.op()) {
      case READ:
        reads.incrementAndGet();
        if (failReads) {
          bio.complete(BlockStatus.IOERR);
          return;
        }
        if (readsGated) {
          heldReads.add(bio);
          if (!readsGated) {
            openReads();
          }
          return;
        }
        break;
      case FLUSH:
        if (failFlushes) {
          bio.complete(BlockStatus.IOERR);
          return;
        }
        break;
      default:
        writes.incrementAndGet();
        if (failWrites) {
          bio.complete(BlockStatus.IOERR);
          return;
        }
        if (gated) {
          held.add(bio);
          maxHeld.accumulateAndGet(held.size(), Math::max);
          if (!gated) {
            open(); // opened meanwhile: do not strand it
          }
          return;
        }
    }
    mem.submit(bio);
  }

  @Override
  public void close() throws IOException {
    open();
    openReads();
    mem.close();
  }
}
