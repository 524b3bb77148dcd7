package io.jdm.targets.thin;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The provisioned, unshared blocks of one thin device that the map path may remap without the
 * pool's worker: virtual block to data block, read with two volatile loads and no lock or
 * allocation (the kernel takes the bio prison's locks and the metadata's read lock for this; a JVM
 * can do without).
 *
 * <p>Only the pool's worker (and the pool's message handler, under the pool's lock) writes entries;
 * an entry is set once the mapping is in the metadata and unshared, and cleared before anything
 * unmaps, replaces or shares the block ({@link io.jdm.core.prison.InFlightEpochs} explains the
 * ordering). Pages of 1024 entries are made on first use.
 */
final class MappingCache {
  private static final int PAGE_SHIFT = 10;
  private static final int PAGE_MASK = (1 << PAGE_SHIFT) - 1;
  private static final VarHandle PAGES = MethodHandles.arrayElementVarHandle(long[][].class);
  private static final VarHandle ENTRIES = MethodHandles.arrayElementVarHandle(long[].class);

  private final long[][] pages;

  MappingCache(long blocks) {
    long n = (blocks + PAGE_MASK) >>> PAGE_SHIFT;
    if (n > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("too many blocks: " + blocks);
    }
    pages = new long[(int) Math.max(1, n)][];
  }

  /** The data block of virtual {@code block} plus one, or 0 when the map path must defer. */
  long get(long block) {
    int p = (int) (block >>> PAGE_SHIFT);
    if (p >= pages.length) {
      return 0;
    }
    long[] page = (long[]) PAGES.getVolatile(pages, p);
    return page == null ? 0 : (long) ENTRIES.getVolatile(page, (int) block & PAGE_MASK);
  }

  /** Records that {@code block} maps to unshared {@code dataBlock}. */
  void set(long block, long dataBlock) {
    int p = (int) (block >>> PAGE_SHIFT);
    if (p >= pages.length) {
      return;
    }
    long[] page = (long[]) PAGES.getVolatile(pages, p);
    if (page == null) {
      page = new long[1 << PAGE_SHIFT];
      PAGES.setVolatile(pages, p, page);
    }
    ENTRIES.setVolatile(page, (int) block & PAGE_MASK, dataBlock + 1);
  }

  /** Forgets blocks {@code [begin, end)}. */
  void clear(long begin, long end) {
    for (long b = begin; b < end; ) {
      int p = (int) (b >>> PAGE_SHIFT);
      if (p >= pages.length) {
        return;
      }
      long pageEnd = Math.min(end, ((long) p + 1) << PAGE_SHIFT);
      long[] page = (long[]) PAGES.getVolatile(pages, p);
      if (page != null) {
        for (long x = b; x < pageEnd; x++) {
          ENTRIES.setVolatile(page, (int) x & PAGE_MASK, 0L);
        }
      }
      b = pageEnd;
    }
  }

  /** Forgets everything. */
  void clearAll() {
    for (int p = 0; p < pages.length; p++) {
      PAGES.setVolatile(pages, p, (long[]) null);
    }
  }
}
