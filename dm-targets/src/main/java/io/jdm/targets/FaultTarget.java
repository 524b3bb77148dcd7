package io.jdm.targets;

import io.jdm.core.ArgSet;
import io.jdm.core.Bio;
import io.jdm.core.DmDev;
import io.jdm.core.MapResult;
import io.jdm.core.PassThroughTarget;
import io.jdm.core.StatusType;
import io.jdm.core.TargetException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One {@code jdm-fault} line (see {@link FaultTargetType}).
 *
 * <p>Thread-safe and lock-free: counts are atomic, and the random choice for the {@code k}th bio is
 * a SplitMix64 step from the seed, so map allocates nothing and takes no lock. Which bio fails is
 * determined by the order bios reach the target: with one submitting thread, a seed replays a run
 * exactly.
 */
final class FaultTarget extends PassThroughTarget {
  /** Parsed features; {@code 0} means off. */
  static final class Features {
    long nthRead;
    long nthWrite;
    long randomRead;
    long randomWrite;
    long seed;
    String seedText;
    int count;
    final StringBuilder text = new StringBuilder();
  }

  private static final long GOLDEN_GAMMA = 0x9e3779b97f4a7c15L;

  private final long nthRead;
  private final long nthWrite;
  private final long randomRead;
  private final long randomWrite;
  private final String featureText;
  private final AtomicLong randomState;
  private final AtomicLong reads = new AtomicLong();
  private final AtomicLong writes = new AtomicLong();
  private final AtomicLong failedReads = new AtomicLong();
  private final AtomicLong failedWrites = new AtomicLong();

  FaultTarget(DmDev dev, long begin, long length, long start, Features f) {
    super(dev, begin, length, start);
    this.nthRead = f.nthRead;
    this.nthWrite = f.nthWrite;
    this.randomRead = f.randomRead;
    this.randomWrite = f.randomWrite;
    this.featureText = f.count == 0 ? "" : " " + f.count + f.text;
    this.randomState = new AtomicLong(f.seed);
  }

  @Override
  public MapResult map(Bio bio) {
    Bio.Op op = bio.op();
    if (op == Bio.Op.READ) {
      if (fails(reads.incrementAndGet(), nthRead, randomRead)) {
        failedReads.incrementAndGet();
        return MapResult.KILL;
      }
    } else if (op != Bio.Op.FLUSH) {
      if (fails(writes.incrementAndGet(), nthWrite, randomWrite)) {
        failedWrites.incrementAndGet();
        return MapResult.KILL;
      }
    }
    remap(bio);
    return MapResult.REMAPPED;
  }

  private boolean fails(long k, long nth, long probability) {
    if (k == nth) {
      return true;
    }
    if (probability == 0) {
      return false;
    }
    long z = randomState.addAndGet(GOLDEN_GAMMA);
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    z ^= z >>> 31;
    return Long.remainderUnsigned(z, FaultTargetType.PROBABILITY_BASE) < probability;
  }

  @Override
  public String message(String... argv) {
    if (argv.length == 1 && ArgSet.equalsIgnoreCase(argv[0], "reset")) {
      reads.set(0);
      writes.set(0);
      failedReads.set(0);
      failedWrites.set(0);
      return "";
    }
    throw new TargetException("unrecognized message '" + argv[0] + "' received");
  }

  @Override
  public String status(StatusType type) {
    if (type == StatusType.INFO) {
      return reads.get() + " " + writes.get() + " " + failedReads.get() + " " + failedWrites.get();
    }
    return tableText() + featureText;
  }
}
