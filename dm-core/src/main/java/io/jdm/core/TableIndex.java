package io.jdm.core;

/**
 * Finds the target that maps a sector. The kernel walks a B-tree of target end sectors ({@code
 * dm_table_find_target}); jdm uses a bucket directory, which costs two memory reads for a table of
 * any size instead of one per tree level.
 *
 * <p>The device's sectors are cut into at most twice as many equal buckets (a power of two sectors
 * each) as there are targets. {@code first[b]} is the target holding the first sector of bucket
 * {@code b}; the target holding any sector of bucket {@code b} is then between {@code first[b]} and
 * {@code first[b + 1]}, found by binary search over that (usually one- or two-element) range of the
 * end sectors. Tables with skewed target sizes degrade gracefully: a bucket spanning many small
 * targets costs a binary search over just those.
 *
 * <p>Up to {@link #SMALL} targets the directory is not worth its memory and the end sectors are
 * scanned. Immutable; allocation-free lookups.
 */
final class TableIndex {
  /** Tables with at most this many targets are scanned directly. */
  static final int SMALL = 4;

  private final long[] ends;
  private final int[] first;
  private final int shift;

  /**
   * @param ends exclusive end sector of each target, ascending; the last is the device size
   */
  TableIndex(long[] ends) {
    this.ends = ends;
    int n = ends.length;
    long size = n == 0 ? 0 : ends[n - 1];
    if (n <= SMALL || size == 0) {
      this.first = null;
      this.shift = 0;
      return;
    }
    int wantBits = 64 - Long.numberOfLeadingZeros(2L * n - 1); // buckets <= 2n, a power of two
    int sizeBits = 64 - Long.numberOfLeadingZeros(size - 1);
    this.shift = Math.max(0, sizeBits - wantBits);
    int buckets = (int) ((size - 1) >>> shift) + 1;
    this.first = new int[buckets + 1];
    int t = 0;
    for (int b = 0; b < buckets; b++) {
      long start = (long) b << shift;
      while (ends[t] <= start) {
        t++;
      }
      first[b] = t;
    }
    first[buckets] = n - 1;
  }

  /** Index of the target that maps {@code sector}, which must be below the device size. */
  int find(long sector) {
    long[] e = ends;
    int[] f = first;
    if (f == null) {
      int i = 0;
      while (e[i] <= sector) {
        i++;
      }
      return i;
    }
    int b = (int) (sector >>> shift);
    int lo = f[b];
    int hi = f[b + 1];
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (e[mid] <= sector) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }
}
