package io.jdm.core;

/**
 * What a device accepts and prefers: the subset of the kernel's {@code struct queue_limits} that
 * matters to a stack of devices. Immutable; build with {@link #builder()}.
 *
 * <p>Sizes named {@code ...Size}, {@code ioMin}, {@code ioOpt} and {@code discardGranularity} are
 * in bytes, like the kernel's; those named {@code ...Sectors} are in 512-byte sectors. {@link
 * #UNLIMITED} stands for the kernel's {@code UINT_MAX}.
 *
 * <p>{@link Builder#stack(IoLimits)} combines a lower device's limits into an upper one's exactly
 * as {@code blk_stack_limits} does ({@code block/blk-settings.c}): the logical and physical block
 * sizes are the largest, {@code io_opt} the least common multiple, maximum sizes the smallest,
 * write-cache and FUA are inherited, and inconsistent values fall back to safe ones.
 */
public final class IoLimits {
  /** "No limit", the kernel's {@code UINT_MAX} clamped to what a Java {@code int} holds. */
  public static final int UNLIMITED = Integer.MAX_VALUE;

  /** Limits of a plain 512-byte-sector device with no cache, discard or write-zeroes support. */
  public static final IoLimits DEFAULT = builder().maxWriteZeroesSectors(0).build();

  private final int logicalBlockSize;
  private final int physicalBlockSize;
  private final int ioMin;
  private final int ioOpt;
  private final int maxSectors;
  private final int chunkSectors;
  private final int maxDiscardSectors;
  private final int discardGranularity;
  private final int maxWriteZeroesSectors;
  private final boolean writeCache;
  private final boolean fua;

  private IoLimits(Builder b) {
    this.logicalBlockSize = b.logicalBlockSize;
    this.physicalBlockSize = b.physicalBlockSize;
    this.ioMin = b.ioMin;
    this.ioOpt = b.ioOpt;
    this.maxSectors = b.maxSectors;
    this.chunkSectors = b.chunkSectors;
    this.maxDiscardSectors = b.maxDiscardSectors;
    this.discardGranularity = b.discardGranularity;
    this.maxWriteZeroesSectors = b.maxWriteZeroesSectors;
    this.writeCache = b.writeCache;
    this.fua = b.fua;
  }

  /** A builder with the kernel's stacking defaults ({@code blk_set_stacking_limits}). */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from these limits. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.logicalBlockSize = logicalBlockSize;
    b.physicalBlockSize = physicalBlockSize;
    b.ioMin = ioMin;
    b.ioOpt = ioOpt;
    b.maxSectors = maxSectors;
    b.chunkSectors = chunkSectors;
    b.maxDiscardSectors = maxDiscardSectors;
    b.discardGranularity = discardGranularity;
    b.maxWriteZeroesSectors = maxWriteZeroesSectors;
    b.writeCache = writeCache;
    b.fua = fua;
    return b;
  }

  /** Smallest unit the device can address, in bytes (512 .. 65536, a power of two). */
  public int logicalBlockSize() {
    return logicalBlockSize;
  }

  public int physicalBlockSize() {
    return physicalBlockSize;
  }

  /** Preferred minimum I/O size, bytes. */
  public int ioMin() {
    return ioMin;
  }

  /** Optimal I/O size, bytes (0 = none). */
  public int ioOpt() {
    return ioOpt;
  }

  /** Largest read or write the device takes in one request, sectors. */
  public int maxSectors() {
    return maxSectors;
  }

  /** I/O should not cross a multiple of this many sectors (0 = no boundary). */
  public int chunkSectors() {
    return chunkSectors;
  }

  /** Largest discard in one request, sectors; 0 when discard is not supported. */
  public int maxDiscardSectors() {
    return maxDiscardSectors;
  }

  public int discardGranularity() {
    return discardGranularity;
  }

  /** Largest write-zeroes in one request, sectors; 0 when not supported. */
  public int maxWriteZeroesSectors() {
    return maxWriteZeroesSectors;
  }

  /** The device has a volatile write cache, so flushes mean something. */
  public boolean writeCache() {
    return writeCache;
  }

  /** The device honours {@link Bio#FUA} natively. */
  public boolean fua() {
    return fua;
  }

  public boolean supportsDiscard() {
    return maxDiscardSectors > 0;
  }

  public boolean supportsWriteZeroes() {
    return maxWriteZeroesSectors > 0;
  }

  /** Logical block size in sectors. */
  public int logicalBlockSectors() {
    return logicalBlockSize >>> Bio.SECTOR_SHIFT;
  }

  @Override
  public boolean equals(Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof IoLimits)) {
      return false;
    }
    IoLimits l = (IoLimits) o;
    return logicalBlockSize == l.logicalBlockSize
        && physicalBlockSize == l.physicalBlockSize
        && ioMin == l.ioMin
        && ioOpt == l.ioOpt
        && maxSectors == l.maxSectors
        && chunkSectors == l.chunkSectors
        && maxDiscardSectors == l.maxDiscardSectors
        && discardGranularity == l.discardGranularity
        && maxWriteZeroesSectors == l.maxWriteZeroesSectors
        && writeCache == l.writeCache
        && fua == l.fua;
  }

  @Override
  public int hashCode() {
    int h = logicalBlockSize;
    h = 31 * h + physicalBlockSize;
    h = 31 * h + ioMin;
    h = 31 * h + ioOpt;
    h = 31 * h + maxSectors;
    h = 31 * h + chunkSectors;
    h = 31 * h + maxDiscardSectors;
    h = 31 * h + discardGranularity;
    h = 31 * h + maxWriteZeroesSectors;
    h = 31 * h + (writeCache ? 1 : 0);
    return 31 * h + (fua ? 1 : 0);
  }

  @Override
  public String toString() {
    return "IoLimits[logical_block_size="
        + logicalBlockSize
        + ", physical_block_size="
        + physicalBlockSize
        + ", io_min="
        + ioMin
        + ", io_opt="
        + ioOpt
        + ", max_sectors="
        + maxSectors
        + ", chunk_sectors="
        + chunkSectors
        + ", max_discard_sectors="
        + maxDiscardSectors
        + ", discard_granularity="
        + discardGranularity
        + ", max_write_zeroes_sectors="
        + maxWriteZeroesSectors
        + ", write_cache="
        + writeCache
        + ", fua="
        + fua
        + "]";
  }

  /** Mutable limits, for device constructors and for stacking. Not thread-safe. */
  public static final class Builder {
    private int logicalBlockSize = Bio.SECTOR_SIZE;
    private int physicalBlockSize = Bio.SECTOR_SIZE;
    private int ioMin = Bio.SECTOR_SIZE;
    private int ioOpt;
    private int maxSectors = UNLIMITED;
    private int chunkSectors;
    private int maxDiscardSectors;
    private int discardGranularity = Bio.SECTOR_SIZE;
    private int maxWriteZeroesSectors = UNLIMITED;
    private boolean writeCache;
    private boolean fua;

    private Builder() {}

    public Builder logicalBlockSize(int bytes) {
      checkBlockSize("logical block size", bytes);
      this.logicalBlockSize = bytes;
      return this;
    }

    public Builder physicalBlockSize(int bytes) {
      checkBlockSize("physical block size", bytes);
      this.physicalBlockSize = bytes;
      return this;
    }

    public Builder ioMin(int bytes) {
      this.ioMin = checkNonNegative("io_min", bytes);
      return this;
    }

    public Builder ioOpt(int bytes) {
      this.ioOpt = checkNonNegative("io_opt", bytes);
      return this;
    }

    public Builder maxSectors(int sectors) {
      this.maxSectors = checkNonNegative("max_sectors", sectors);
      return this;
    }

    public Builder chunkSectors(int sectors) {
      this.chunkSectors = checkNonNegative("chunk_sectors", sectors);
      return this;
    }

    public Builder maxDiscardSectors(int sectors) {
      this.maxDiscardSectors = checkNonNegative("max_discard_sectors", sectors);
      return this;
    }

    public Builder discardGranularity(int bytes) {
      this.discardGranularity = checkNonNegative("discard_granularity", bytes);
      return this;
    }

    public Builder maxWriteZeroesSectors(int sectors) {
      this.maxWriteZeroesSectors = checkNonNegative("max_write_zeroes_sectors", sectors);
      return this;
    }

    public Builder writeCache(boolean writeCache) {
      this.writeCache = writeCache;
      return this;
    }

    public Builder fua(boolean fua) {
      this.fua = fua;
      return this;
    }

    public int logicalBlockSize() {
      return logicalBlockSize;
    }

    public int physicalBlockSize() {
      return physicalBlockSize;
    }

    public int ioMin() {
      return ioMin;
    }

    public int chunkSectors() {
      return chunkSectors;
    }

    public int maxDiscardSectors() {
      return maxDiscardSectors;
    }

    public int maxWriteZeroesSectors() {
      return maxWriteZeroesSectors;
    }

    /**
     * Stacks a lower device's limits under these ({@code blk_stack_limits}). Returns {@code false}
     * when the combination is misaligned; the limits are then corrected as the kernel corrects
     * them.
     */
    public boolean stack(IoLimits b) {
      boolean aligned = true;
      writeCache |= b.writeCache;
      fua |= b.fua;
      maxSectors = minNotZero(maxSectors, b.maxSectors);
      maxWriteZeroesSectors = Math.min(maxWriteZeroesSectors, b.maxWriteZeroesSectors);
      logicalBlockSize = Math.max(logicalBlockSize, b.logicalBlockSize);
      physicalBlockSize = Math.max(physicalBlockSize, b.physicalBlockSize);
      ioMin = Math.max(ioMin, b.ioMin);
      ioOpt = lcmNotZero(ioOpt, b.ioOpt);
      if (b.chunkSectors != 0) {
        chunkSectors = gcd(chunkSectors, b.chunkSectors);
      }
      if ((physicalBlockSize & (logicalBlockSize - 1)) != 0) {
        physicalBlockSize = logicalBlockSize;
        aligned = false;
      }
      if ((ioMin & (physicalBlockSize - 1)) != 0) {
        ioMin = physicalBlockSize;
        aligned = false;
      }
      if ((ioOpt & (physicalBlockSize - 1)) != 0) {
        ioOpt = 0;
        aligned = false;
      }
      if (chunkSectors % (physicalBlockSize >>> Bio.SECTOR_SHIFT) != 0) {
        chunkSectors = 0;
        aligned = false;
      }
      maxSectors = roundDown(maxSectors, logicalBlockSize);
      if (b.discardGranularity != 0) {
        maxDiscardSectors = minNotZero(maxDiscardSectors, b.maxDiscardSectors);
        discardGranularity = Math.max(discardGranularity, b.discardGranularity);
      }
      return aligned;
    }

    public IoLimits build() {
      if (physicalBlockSize < logicalBlockSize) {
        physicalBlockSize = logicalBlockSize;
      }
      if (ioMin < physicalBlockSize) {
        ioMin = physicalBlockSize;
      }
      if (maxDiscardSectors > 0 && discardGranularity < physicalBlockSize) {
        discardGranularity = physicalBlockSize; // as blk_validate_limits
      }
      return new IoLimits(this);
    }

    private static void checkBlockSize(String what, int bytes) {
      if (bytes < Bio.SECTOR_SIZE || bytes > 65536 || Integer.bitCount(bytes) != 1) {
        throw new IllegalArgumentException(
            what + " " + bytes + " (expected: a power of two in [512, 65536])");
      }
    }

    private static int checkNonNegative(String what, int value) {
      if (value < 0) {
        throw new IllegalArgumentException(what + " " + value + " < 0");
      }
      return value;
    }

    private static int roundDown(int sectors, int logicalBlockSize) {
      int lbs = logicalBlockSize >>> Bio.SECTOR_SHIFT;
      return sectors == UNLIMITED ? UNLIMITED : sectors - sectors % lbs;
    }
  }

  static int minNotZero(int a, int b) {
    if (a == 0) {
      return b;
    }
    if (b == 0) {
      return a;
    }
    return Math.min(a, b);
  }

  static int gcd(int a, int b) {
    while (b != 0) {
      int t = a % b;
      a = b;
      b = t;
    }
    return a;
  }

  static int lcmNotZero(int a, int b) {
    if (a == 0) {
      return b;
    }
    if (b == 0) {
      return a;
    }
    long l = (long) a / gcd(a, b) * b;
    return l > Integer.MAX_VALUE ? 0 : (int) l;
  }
}
