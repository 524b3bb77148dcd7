package io.jdm.core;

import java.io.IOException;
import java.util.Locale;

/** The waiting behind {@link BlockDevice}'s synchronous helpers. */
final class SyncIo {
  private SyncIo() {}

  /** Waits for one bio; parks only if the bio did not complete inline ({@link Completion}). */
  static final class Waiter extends Completion implements BioCallback {
    @Override
    public void done(Bio bio) {
      signal();
    }
  }

  /** Submits {@code bio} (whose callback is {@code w}), waits, and throws on an error status. */
  static void run(BlockDevice dev, Bio bio, Waiter w) throws IOException {
    dev.submit(bio);
    w.await();
    BlockStatus s = bio.status();
    if (s != BlockStatus.OK) {
      throw new BlockIOException(
          s, dev.name(), bio.sector(), bio.op().name().toLowerCase(Locale.ROOT));
    }
  }

  static void checkAligned(BlockDevice dev, long position, long length) {
    int lbs = dev.limits().logicalBlockSize();
    if (position < 0 || length < 0 || ((position | length) & (lbs - 1)) != 0) {
      throw new IllegalArgumentException(
          "position "
              + position
              + " and length "
              + length
              + " must be non-negative multiples of the logical block size "
              + lbs
              + " of "
              + dev.name());
    }
  }

  static void runRange(BlockDevice dev, Bio.Op op, long position, long length, int maxSectors)
      throws IOException {
    checkAligned(dev, position, length);
    int lbsSectors = dev.limits().logicalBlockSectors();
    long max = maxSectors > 0 ? maxSectors : IoLimits.UNLIMITED;
    max -= max % lbsSectors;
    long sector = position >>> Bio.SECTOR_SHIFT;
    long left = length >>> Bio.SECTOR_SHIFT;
    while (left > 0) {
      int n = (int) Math.min(left, max);
      Waiter w = new Waiter();
      run(dev, Bio.of(op, 0, sector, n, null, w), w);
      sector += n;
      left -= n;
    }
  }
}
