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
      throw failed(dev, bio, s);
    }
  }

  /**
   * The exception for a failed request: it names the failed sector when the bio knows it ({@link
   * Bio#errorSector()}), and the request it was part of.
   */
  private static BlockIOException failed(BlockDevice dev, Bio bio, BlockStatus s) {
    String op = bio.op().name().toLowerCase(Locale.ROOT);
    long at = bio.errorSector();
    if (at < 0 || (at == bio.sector() && bio.sectors() <= 1)) {
      return new BlockIOException(s, dev.name(), bio.sector(), op);
    }
    return new BlockIOException(
        s, dev.name(), at, op + " of " + bio.sectors() + " sectors at " + bio.sector());
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

  /** Parts of one range operation in flight at once. */
  private static final int PARTS_IN_FLIGHT = 64;

  /**
   * A range operation (discard, write-zeroes) of any length: cut at {@code maxSectors} (0: no
   * limit), the parts of each stretch of {@value #PARTS_IN_FLIGHT} sent together as chained
   * children of one carrier bio ({@link Bio#chain}), which completes with the first error.
   */
  static void runRange(BlockDevice dev, Bio.Op op, long position, long length, int maxSectors)
      throws IOException {
    checkAligned(dev, position, length);
    int lbsSectors = dev.limits().logicalBlockSectors();
    long max = maxSectors > 0 ? maxSectors : Integer.MAX_VALUE;
    max -= max % lbsSectors;
    long sector = position >>> Bio.SECTOR_SHIFT;
    long left = length >>> Bio.SECTOR_SHIFT;
    long stretch =
        Math.min(max * PARTS_IN_FLIGHT, Integer.MAX_VALUE - Integer.MAX_VALUE % lbsSectors);
    while (left > 0) {
      int span = (int) Math.min(left, stretch);
      Waiter w = new Waiter();
      Bio carrier = Bio.of(op, 0, sector, span, null, w);
      for (int done = 0; done < span; ) {
        int n = (int) Math.min(span - done, max);
        carrier.chain(op, 0, sector + done, n, null).submit(dev);
        done += n;
      }
      carrier.complete(BlockStatus.OK); // the carrier's own share: its parts decide
      w.await();
      BlockStatus s = carrier.status();
      if (s != BlockStatus.OK) {
        throw new BlockIOException(s, dev.name(), sector, op.name().toLowerCase(Locale.ROOT));
      }
      sector += span;
      left -= span;
    }
  }
}
