package io.jdm.targets;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.Clock;
import io.jdm.core.DmDev;
import io.jdm.core.EndIoResult;
import io.jdm.core.EndIoTarget;
import io.jdm.core.MapResult;
import io.jdm.core.PassThroughTarget;
import io.jdm.core.StatusType;
import java.nio.ByteBuffer;

/**
 * One {@code flakey} line. Up or down is decided per bio from the whole seconds elapsed on the
 * device mapper's {@link Clock} since the table was constructed, as the kernel decides from
 * jiffies: down when {@code elapsed % (up + down) >= up}.
 *
 * <p>While down: reads fail with {@code error_reads}, or come back with the configured or random
 * byte corrupted; writes (including flushes and discards) are dropped with {@code drop_writes},
 * failed with {@code error_writes}, or written from a corrupted copy (the caller's buffer is not
 * touched, as the kernel clones the pages).
 *
 * <p>Thread-safe.
 */
final class FlakeyTarget extends PassThroughTarget implements EndIoTarget {

  /** What the device does while down. */
  static final class Features {
    boolean errorReads;
    boolean dropWrites;
    boolean errorWrites;
    long corruptByte; // 1-based; 0 = none
    boolean corruptWrites;
    int corruptValue;
    long corruptFlags; // kernel REQ_* bits
    long randomReadCorrupt;
    long randomWriteCorrupt;
  }

  /** Kernel {@code REQ_*} bit numbers of the flags a jdm bio can carry (Linux 6.12). */
  private static final int REQ_SYNC = 11;

  private static final int REQ_META = 12;
  private static final int REQ_FUA = 17;
  private static final int REQ_PREFLUSH = 18;
  private static final int REQ_RAHEAD = 19;
  private static final int REQ_NOWAIT = 21;
  private static final int REQ_NOUNMAP = 28;

  private final Clock clock;
  private final long up;
  private final long down;
  private final Features f;
  private final long startNanos;
  private final java.util.SplittableRandom random; // guarded by itself

  FlakeyTarget(
      Clock clock,
      java.util.SplittableRandom random,
      DmDev dmDev,
      long begin,
      long length,
      long start,
      long up,
      long down,
      Features f) {
    super(dmDev, begin, length, start);
    this.clock = clock;
    this.random = random;
    this.up = up;
    this.down = down;
    this.f = f;
    this.startNanos = clock.nanoTime();
  }

  /** Whether the device is in its down interval now. */
  boolean isDown() {
    long elapsed = (clock.nanoTime() - startNanos) / 1_000_000_000L;
    return elapsed % (up + down) >= up;
  }

  @Override
  public MapResult map(Bio bio) {
    bio.setTargetLong(0);
    if (isDown()) {
      Bio.Op op = bio.op();
      boolean hasData = op.hasData() && bio.sectors() > 0;
      if (hasData) {
        bio.setTargetLong(1); // may corrupt at end-I/O
      }
      if (op == Bio.Op.READ) {
        if (f.errorReads) {
          return MapResult.KILL;
        }
      } else if (f.dropWrites) {
        bio.complete(BlockStatus.OK);
        return MapResult.SUBMITTED;
      } else if (f.errorWrites) {
        bio.complete(BlockStatus.IOERR);
        return MapResult.SUBMITTED;
      } else if (hasData) {
        boolean fixed = f.corruptByte > 0 && f.corruptWrites && flagsMatch(bio);
        boolean random = chance(f.randomWriteCorrupt);
        if (fixed || random) {
          writeCorrupted(bio, fixed, random);
          return MapResult.SUBMITTED;
        }
      }
    }
    remap(bio);
    return MapResult.REMAPPED;
  }

  /** Writes a corrupted copy of the payload and completes the bio with the copy's status. */
  private void writeCorrupted(Bio bio, boolean fixed, boolean random) {
    ByteBuffer copy = ByteBuffer.allocate(bio.bytes());
    copy.put(0, bio.data(), bio.dataOffset(), bio.bytes());
    if (fixed) {
      corrupt(copy, 0, bio.bytes(), f.corruptByte - 1, (byte) f.corruptValue);
    }
    if (random) {
      corruptRandom(copy, 0, bio.bytes());
    }
    bio.chain(Bio.Op.WRITE, bio.flags(), start + (bio.sector() - begin), bio.sectors(), copy)
        .submit(dev);
    bio.complete(BlockStatus.OK); // this bio's own share: it completes with the copy's status
  }

  @Override
  public EndIoResult endIo(Bio bio, BlockStatus status) {
    if (status == BlockStatus.OK && bio.targetLong() == 1 && bio.op() == Bio.Op.READ) {
      if (f.corruptByte > 0 && !f.corruptWrites && flagsMatch(bio)) {
        corrupt(
            bio.data(), bio.dataOffset(), bio.bytes(), f.corruptByte - 1, (byte) f.corruptValue);
      }
      if (chance(f.randomReadCorrupt)) {
        corruptRandom(bio.data(), bio.dataOffset(), bio.bytes());
      }
      if (f.errorReads) {
        bio.setStatus(BlockStatus.IOERR);
      }
    }
    return EndIoResult.DONE;
  }

  private static void corrupt(ByteBuffer b, int offset, int size, long nth, byte value) {
    if (nth < size) {
      b.put(offset + (int) nth, value);
    }
  }

  private void corruptRandom(ByteBuffer b, int offset, int size) {
    int at;
    int value;
    synchronized (random) {
      at = random.nextInt(size);
      value = random.nextInt(256);
    }
    b.put(offset + at, (byte) value);
  }

  /** Drawn from the device mapper's seed, so a seeded test replays (one thread at a time). */
  private boolean chance(long perBillion) {
    if (perBillion <= 0) {
      return false;
    }
    synchronized (random) {
      return random.nextLong(FlakeyTargetType.PROBABILITY_BASE) < perBillion;
    }
  }

  /** {@code (bi_opf & corrupt_bio_flags) == corrupt_bio_flags}, with jdm flags as kernel bits. */
  private boolean flagsMatch(Bio bio) {
    return (opf(bio) & f.corruptFlags) == f.corruptFlags;
  }

  private static long opf(Bio bio) {
    long opf;
    switch (bio.op()) {
      case READ:
        opf = 0;
        break;
      case WRITE:
        opf = 1;
        break;
      case FLUSH:
        opf = 1 | (1L << REQ_PREFLUSH);
        break;
      case DISCARD:
        opf = 3;
        break;
      default:
        opf = 9; // REQ_OP_WRITE_ZEROES
    }
    if (bio.hasFlag(Bio.SYNC)) {
      opf |= 1L << REQ_SYNC;
    }
    if (bio.hasFlag(Bio.META)) {
      opf |= 1L << REQ_META;
    }
    if (bio.hasFlag(Bio.FUA)) {
      opf |= 1L << REQ_FUA;
    }
    if (bio.hasFlag(Bio.PREFLUSH)) {
      opf |= 1L << REQ_PREFLUSH;
    }
    if (bio.hasFlag(Bio.RAHEAD)) {
      opf |= 1L << REQ_RAHEAD;
    }
    if (bio.hasFlag(Bio.NOWAIT)) {
      opf |= 1L << REQ_NOWAIT;
    }
    if (bio.hasFlag(Bio.NOUNMAP)) {
      opf |= 1L << REQ_NOUNMAP;
    }
    return opf;
  }

  @Override
  public String status(StatusType type) {
    if (type == StatusType.INFO) {
      return "";
    }
    StringBuilder sb = new StringBuilder();
    sb.append(tableText()).append(' ').append(up).append(' ').append(down);
    int words =
        (f.errorReads ? 1 : 0)
            + (f.dropWrites ? 1 : 0)
            + (f.errorWrites ? 1 : 0)
            + (f.corruptByte > 0 ? 5 : 0)
            + (f.randomReadCorrupt > 0 ? 2 : 0)
            + (f.randomWriteCorrupt > 0 ? 2 : 0);
    sb.append(' ').append(words);
    if (f.errorReads) {
      sb.append(" error_reads");
    }
    if (f.dropWrites) {
      sb.append(" drop_writes");
    } else if (f.errorWrites) {
      sb.append(" error_writes");
    }
    if (f.corruptByte > 0) {
      sb.append(" corrupt_bio_byte ")
          .append(f.corruptByte)
          .append(f.corruptWrites ? " w " : " r ")
          .append(f.corruptValue)
          .append(' ')
          .append(f.corruptFlags);
    }
    if (f.randomReadCorrupt > 0) {
      sb.append(" random_read_corrupt ").append(f.randomReadCorrupt);
    }
    if (f.randomWriteCorrupt > 0) {
      sb.append(" random_write_corrupt ").append(f.randomWriteCorrupt);
    }
    return sb.toString();
  }

  /** dm-flakey asks for flushes and discards only ({@code num_write_zeroes_bios} stays 0). */
  @Override
  public int numWriteZeroesBios() {
    return 0;
  }
}
