package io.jdm.core.io;

import io.jdm.core.Bio;
import io.jdm.core.BioCallback;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.Completion;
import io.jdm.core.IoLimits;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * I/O to regions of block devices for targets: read one region into a buffer, or write one payload
 * (or discard, write zeroes, flush) to up to {@value #MAX_REGIONS} regions at once, with one
 * completion that says which regions failed. The kernel's dm-io ({@code drivers/md/dm-io.c}, {@code
 * include/linux/dm-io.h}), used by mirror, the dirty log, snapshots and {@link Kcopyd}.
 *
 * <p>A request must be, or {@link IllegalArgumentException} is thrown before any I/O starts:
 *
 * <ul>
 *   <li>1 to {@value #MAX_REGIONS} regions, and exactly one for {@link Bio.Op#READ};
 *   <li>for {@link Bio.Op#READ} and {@link Bio.Op#WRITE}, a payload (the buffer's remaining bytes,
 *       a multiple of 512) whose length in sectors is every region's count; no payload for the
 *       other operations, and a count of 0 for {@link Bio.Op#FLUSH};
 *   <li>regions whose sector and count are multiples of their device's logical block size;
 *   <li>flags known to {@link Bio}.
 * </ul>
 *
 * <p>Each region is one chained bio ({@link Bio#chainSlice}, {@link Bio#chain}) cut into parts at
 * its device's {@link IoLimits}: {@code max_sectors} and {@code chunk_sectors} for reads and
 * writes, {@code max_discard_sectors} and {@code max_write_zeroes_sectors} for discards and
 * write-zeroes, every part whole logical blocks. Every part carries the request's flags ({@link
 * Bio#FUA}, {@link Bio#PREFLUSH}, {@link Bio#NOUNMAP}, ...), as the kernel's {@code do_region}
 * does; the synchronous forms add {@link Bio#SYNC}. A region of 0 sectors gets no I/O, or an empty
 * flush with {@link Bio#PREFLUSH}; {@link Bio.Op#FLUSH} sends one empty flush per region. A discard
 * or write-zeroes to a device that does not support it fails that region with {@link
 * BlockStatus#NOTSUPP} without I/O. A region whose device refuses the bio outright (closed or
 * removed under the request) fails with {@link BlockStatus#IOERR}.
 *
 * <p>Completion: the {@link Callback} is called once, when every part of every region has
 * completed, with bit {@code i} of its argument set if region {@code i} failed (any part with any
 * error). It runs on the thread that completed the last bio, which may be the caller's own during
 * {@link #submit} (devices that complete inline), so it must be quick and must not block. A failed
 * read leaves zeros in the payload, never a mix of old bytes and new ones. The synchronous forms
 * wait (uninterruptibly, as the payload belongs to the devices until then) and throw {@link
 * DmIoException}, naming each failed region and its status.
 *
 * <p>The payload buffer's position and limit are never changed; it must not be touched until the
 * completion. The same buffer is read by every region of a write at once.
 *
 * <p>Thread-safe: dm-io keeps no state between requests.
 */
public final class DmIo {
  private static final System.Logger LOG = System.getLogger(DmIo.class.getName());

  /** Most regions in one request: one bit each in a {@code long}, as the kernel's. */
  public static final int MAX_REGIONS = 64;

  private DmIo() {}

  /** A range of sectors of a device: the kernel's {@code struct dm_io_region}. */
  public record Region(BlockDevice device, long sector, long count) {
    public Region {
      Objects.requireNonNull(device, "device");
      if (sector < 0 || count < 0) {
        throw new IllegalArgumentException(
            "region of "
                + device.name()
                + " at sector "
                + sector
                + ", count "
                + count
                + " (expected: sector >= 0, count >= 0)");
      }
    }

    /** One past the last sector. */
    public long endSector() {
      return sector + count;
    }

    /** The part {@code [offset, offset + count)} of this region. */
    public Region slice(long offset, long count) {
      if (offset < 0 || count < 0 || count > this.count - offset) {
        throw new IllegalArgumentException(
            "slice of "
                + count
                + " sectors at "
                + offset
                + " (expected: 0 <= offset <= offset + count <= "
                + this.count
                + ")");
      }
      return new Region(device, sector + offset, count);
    }

    @Override
    public String toString() {
      return device.name() + ":" + sector + "+" + count;
    }
  }

  /** Called once when a request is done: the kernel's {@code io_notify_fn}. */
  @FunctionalInterface
  public interface Callback {
    /**
     * @param errorBits bit {@code i} set if region {@code i} failed; 0 when all succeeded
     */
    void done(long errorBits);
  }

  // ---------------------------------------------------------------------------------------------
  // Asynchronous

  /**
   * Starts {@code op} on every region and calls {@code callback} when all are done.
   *
   * @param data the payload for {@link Bio.Op#READ} and {@link Bio.Op#WRITE}, else {@code null}
   * @throws IllegalArgumentException for a malformed request (see the class description)
   */
  public static void submit(
      Bio.Op op, int flags, List<Region> regions, ByteBuffer data, Callback callback) {
    Objects.requireNonNull(callback, "callback");
    Io io = prepare(op, flags, regions, data, callback, false);
    io.dispatch();
  }

  /** Reads {@code dst.remaining()} bytes from {@code region} (whose count must match). */
  public static void read(Region region, ByteBuffer dst, int flags, Callback callback) {
    submit(Bio.Op.READ, flags, List.of(region), dst, callback);
  }

  /** Writes {@code src}'s remaining bytes to every region. */
  public static void write(List<Region> regions, ByteBuffer src, int flags, Callback callback) {
    submit(Bio.Op.WRITE, flags, regions, src, callback);
  }

  // ---------------------------------------------------------------------------------------------
  // Synchronous

  /**
   * Runs {@code op} on every region and waits for all of them.
   *
   * @throws DmIoException if any region failed; every other region was still done
   * @throws IllegalArgumentException for a malformed request (see the class description)
   */
  public static void run(Bio.Op op, int flags, List<Region> regions, ByteBuffer data)
      throws DmIoException {
    Waiter w = new Waiter();
    Io io = prepare(op, flags | Bio.SYNC, regions, data, w, true);
    io.dispatch();
    long bits = w.bits();
    if (bits != 0) {
      throw new DmIoException(op, regions, bits, io.statuses);
    }
  }

  /** Reads {@code dst.remaining()} bytes from {@code region} and waits. */
  public static void read(Region region, ByteBuffer dst) throws DmIoException {
    run(Bio.Op.READ, 0, List.of(region), dst);
  }

  /** Writes {@code src}'s remaining bytes to every region and waits. */
  public static void write(List<Region> regions, ByteBuffer src, int flags) throws DmIoException {
    run(Bio.Op.WRITE, flags, regions, src);
  }

  // ---------------------------------------------------------------------------------------------
  // Inside

  /** Checks the whole request and builds one carrier bio per region; no I/O yet. */
  private static Io prepare(
      Bio.Op op,
      int flags,
      List<Region> regions,
      ByteBuffer data,
      Callback callback,
      boolean keepStatuses) {
    Objects.requireNonNull(op, "op");
    int n = regions.size();
    if (n < 1 || n > MAX_REGIONS) {
      throw new IllegalArgumentException(
          "dm-io " + name(op) + " of " + n + " regions (expected: 1 to " + MAX_REGIONS + ")");
    }
    if (op == Bio.Op.READ && n > 1) {
      throw new IllegalArgumentException(
          "dm-io read of " + n + " regions (expected: a read has one region)");
    }
    long payloadSectors = -1;
    if (op.hasData()) {
      Objects.requireNonNull(data, "data");
      if ((data.remaining() & (Bio.SECTOR_SIZE - 1)) != 0) {
        throw new IllegalArgumentException(
            "dm-io "
                + name(op)
                + ": payload of "
                + data.remaining()
                + " bytes is not a multiple of "
                + Bio.SECTOR_SIZE);
      }
      payloadSectors = data.remaining() >>> Bio.SECTOR_SHIFT;
    } else if (data != null) {
      throw new IllegalArgumentException("dm-io " + name(op) + " carries no payload");
    }
    Io io = new Io(op, regions, callback, keepStatuses);
    for (int i = 0; i < n; i++) {
      Region r = Objects.requireNonNull(regions.get(i), "region");
      if (payloadSectors >= 0 && r.count() != payloadSectors) {
        throw new IllegalArgumentException(
            "dm-io "
                + name(op)
                + ": region "
                + i
                + " ("
                + r
                + ") has "
                + r.count()
                + " sectors (expected: the payload's "
                + payloadSectors
                + ")");
      }
      if (op == Bio.Op.FLUSH && r.count() != 0) {
        throw new IllegalArgumentException(
            "dm-io flush: region " + i + " (" + r + ") has sectors (expected: count 0)");
      }
      int lbs = r.device().limits().logicalBlockSectors();
      if (((r.sector() | r.count()) & (lbs - 1)) != 0) {
        throw new IllegalArgumentException(
            "dm-io "
                + name(op)
                + ": region "
                + i
                + " ("
                + r
                + ") is not aligned to the logical block size "
                + (lbs << Bio.SECTOR_SHIFT)
                + " of "
                + r.device().name());
      }
      io.carriers[i] = carrier(op, flags, r, data, io, i);
    }
    return io;
  }

  /**
   * The bio that stands for region {@code i}: never submitted itself when it has parts (it is their
   * parent, and its callback reports the region), submitted as is when it is a flush.
   */
  private static Bio carrier(Bio.Op op, int flags, Region r, ByteBuffer data, Io io, int i) {
    Bio bio;
    if (op == Bio.Op.FLUSH || (r.count() == 0 && (flags & Bio.PREFLUSH) != 0)) {
      bio = Bio.of(Bio.Op.FLUSH, flags & ~FLUSH_STRIPS, 0, 0, null, io);
    } else if (r.count() == 0) {
      return null;
    } else if (op.hasData()) {
      bio = Bio.of(op, flags, r.sector(), (int) r.count(), data, io); // checks the flags too
    } else {
      bio = Bio.of(op, flags, r.sector(), 0, null, io);
    }
    bio.setDevice(r.device());
    bio.setAttachment(i); // boxed from the Integer cache: 0 .. 63
    return bio;
  }

  /** What an empty flush does not carry. */
  private static final int FLUSH_STRIPS = Bio.PREFLUSH | Bio.FUA | Bio.NOUNMAP;

  private static String name(Bio.Op op) {
    return op.name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /**
   * One request in flight: the kernel's {@code struct io}. The count starts at one for the
   * dispatcher itself, so that regions completing during dispatch cannot finish the request early.
   */
  private static final class Io implements BioCallback {
    final Bio.Op op;
    final List<Region> regions;
    final Bio[] carriers;
    final Callback callback;
    final BlockStatus[] statuses;
    final AtomicInteger count = new AtomicInteger(1);
    final AtomicLong errorBits = new AtomicLong();

    Io(Bio.Op op, List<Region> regions, Callback callback, boolean keepStatuses) {
      this.op = op;
      this.regions = regions;
      this.carriers = new Bio[regions.size()];
      this.callback = callback;
      this.statuses = keepStatuses ? new BlockStatus[regions.size()] : null;
    }

    void dispatch() {
      for (int i = 0; i < carriers.length; i++) {
        Bio c = carriers[i];
        if (c == null) {
          continue; // nothing to do for an empty region
        }
        count.incrementAndGet();
        if (c.op() == Bio.Op.FLUSH) {
          submitPart(c);
        } else {
          region(c, regions.get(i));
        }
      }
      dec();
    }

    /** Cuts a region's carrier into parts at its device's limits and submits them. */
    private void region(Bio carrier, Region r) {
      IoLimits l = r.device().limits();
      long max = maxPart(l, op);
      if (max == 0) {
        carrier.complete(BlockStatus.NOTSUPP);
        return;
      }
      long chunk = op.hasData() ? l.chunkSectors() : 0;
      long done = 0;
      while (done < r.count()) {
        long s = r.sector() + done;
        long n = Math.min(r.count() - done, max);
        if (chunk > 0) {
          n = Math.min(n, chunk - s % chunk);
        }
        Bio part =
            op.hasData()
                ? carrier.chainSlice((int) done, (int) n)
                : carrier.chain(op, carrier.flags(), s, (int) n, null);
        part.setDevice(r.device());
        submitPart(part);
        done += n;
      }
      carrier.complete(BlockStatus.OK); // the carrier's own share: its parts decide
    }

    @Override
    public void done(Bio carrier) {
      BlockStatus s = carrier.status();
      if (s.isError()) {
        if (carrier.op() == Bio.Op.READ) {
          carrier.zeroFill();
        }
        int i = (Integer) carrier.attachment();
        if (statuses != null) {
          statuses[i] = s;
        }
        long bit = 1L << i;
        long bits;
        do {
          bits = errorBits.get();
        } while (!errorBits.compareAndSet(bits, bits | bit));
      }
      dec();
    }

    private void dec() {
      if (count.decrementAndGet() == 0) {
        callback.done(errorBits.get());
      }
    }
  }

  /**
   * Largest part for {@code op} on a device with limits {@code l}, whole logical blocks; 0 when the
   * device does not support the operation.
   */
  static long maxPart(IoLimits l, Bio.Op op) {
    long max;
    switch (op) {
      case READ:
      case WRITE:
        max = l.maxSectors() == 0 ? IoLimits.UNLIMITED : l.maxSectors();
        break;
      case DISCARD:
        max = l.maxDiscardSectors();
        break;
      case WRITE_ZEROES:
        max = l.maxWriteZeroesSectors();
        break;
      default:
        throw new AssertionError(op);
    }
    if (max == 0) {
      return 0;
    }
    int lbs = l.logicalBlockSectors();
    return Math.max(lbs, max - max % lbs);
  }

  /**
   * Submits a part. A device may refuse a bio by throwing (closed, removed) before it takes it:
   * that part then fails with {@link BlockStatus#IOERR}, so the request still completes. An
   * exception from a bio that did complete (a callback's, thrown up through an inline completion)
   * is not ours to turn into a second completion.
   */
  private static void submitPart(Bio part) {
    try {
      part.submit();
    } catch (IllegalStateException e) {
      if (part.isCompleted()) {
        throw e;
      }
      LOG.log(System.Logger.Level.WARNING, "dm-io: " + part + " refused: " + e.getMessage());
      part.complete(BlockStatus.IOERR);
    }
  }

  /** Waits for one request without giving up, like {@code BlockDevice}'s synchronous helpers. */
  private static final class Waiter extends Completion implements Callback {
    private long bits; // written before signal(), read after await()

    @Override
    public void done(long errorBits) {
      bits = errorBits;
      signal();
    }

    long bits() {
      await();
      return bits;
    }
  }
}
