package io.jdm.targets;

import io.jdm.core.ArgSet;
import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.DeviceArea;
import io.jdm.core.DmDev;
import io.jdm.core.IoLimits;
import io.jdm.core.MapResult;
import io.jdm.core.StatusType;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;
import java.util.List;

/**
 * {@code unstriped <#stripes> <chunk> <stripe#> <dev> <offset>}: one leg of a striped set, as the
 * device it would be on its own ({@code drivers/md/dm-unstripe.c}, v1.1.0). Relative sector {@code
 * x} maps to {@code offset + x + (x / chunk) * (stripes - 1) * chunk + stripe# * chunk}.
 *
 * <p>As in Linux 6.12: the stripe number is only refused when it exceeds the stripe count (and
 * there is more than one stripe); the device-area check covers the target's length only; empty
 * flushes are not forwarded and discards are not supported (the kernel sets no flush or discard bio
 * counts for this target).
 */
public final class UnstripedTargetType implements TargetType {
  /** Creates the type; instances are found through {@link java.util.ServiceLoader}. */
  public UnstripedTargetType() {}

  private static final TargetVersion VERSION = TargetVersion.of(1, 1, 0);

  @Override
  public String name() {
    return "unstriped";
  }

  @Override
  public TargetVersion version() {
    return VERSION;
  }

  @Override
  public Target create(TargetContext ctx, long begin, long length, String[] args) {
    if (args.length != 5) {
      throw new TargetException("Invalid number of arguments");
    }
    ArgSet as = new ArgSet(args);
    long stripes = as.nextLong(1, 0xFFFF_FFFFL, "Invalid stripe count");
    long chunk = as.nextLong(1, 0xFFFF_FFFFL, "Invalid chunk_size");
    long stripe = as.nextUint("Invalid stripe number");
    if (stripe > stripes && stripes > 1) {
      throw new TargetException("Please provide stripe between [0, # of stripes]");
    }
    DmDev dev = ctx.getDevice(as.next(), "Couldn't get striped device");
    long start = as.nextSector("Invalid striped device offset");
    if (length % chunk != 0) {
      throw new TargetException("Target length not divisible by chunk size");
    }
    return new Unstriped(dev, begin, length, stripes, chunk, stripe, start);
  }

  private static final class Unstriped implements Target {
    private final DmDev dmDev;
    private final BlockDevice dev;
    private final long begin;
    private final long length;
    private final long stripes;
    private final long chunk;
    private final int chunkShift;
    private final long stripe;
    private final long start;
    private final long width;
    private final long offset;

    Unstriped(
        DmDev dmDev, long begin, long length, long stripes, long chunk, long stripe, long start) {
      this.dmDev = dmDev;
      this.dev = dmDev.bdev();
      this.begin = begin;
      this.length = length;
      this.stripes = stripes;
      this.chunk = chunk;
      this.chunkShift = Long.bitCount(chunk) == 1 ? Long.numberOfTrailingZeros(chunk) : -1;
      this.stripe = stripe;
      this.start = start;
      this.width = (stripes - 1) * chunk;
      this.offset = stripe * chunk;
    }

    @Override
    public MapResult map(Bio bio) {
      long x = bio.sector() - begin;
      long row = chunkShift >= 0 ? x >>> chunkShift : x / chunk;
      bio.remap(dev, start + x + width * row + offset);
      return MapResult.REMAPPED;
    }

    @Override
    public String status(StatusType type) {
      return type == StatusType.TABLE
          // "%d %llu %d %s %llu": the stripe count and number print as signed ints
          ? (int) stripes + " " + chunk + " " + (int) stripe + " " + dmDev.name() + " " + start
          : "";
    }

    @Override
    public List<DeviceArea> devices() {
      return List.of(new DeviceArea(dmDev, start, length));
    }

    @Override
    public void ioHints(IoLimits.Builder limits) {
      limits.chunkSectors((int) Math.min(chunk, Integer.MAX_VALUE));
    }

    @Override
    public long maxIoSectors() {
      return chunk;
    }
  }
}
