package io.jdm.core.targets;

import io.jdm.core.ArgSet;
import io.jdm.core.Bio;
import io.jdm.core.DeviceArea;
import io.jdm.core.DmDev;
import io.jdm.core.IoLimits;
import io.jdm.core.MapResult;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetFeature;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;
import java.util.List;
import java.util.Set;

/**
 * {@code error}: every read, write and discard fails with an I/O error; flushes succeed without
 * being sent anywhere ({@code drivers/md/dm-target.c}, v1.7.0). A wildcard type: it may replace any
 * target, even an immutable one.
 *
 * <p>Arguments: none, or {@code <dev> <offset>} as {@code linear} (the kernel uses the device for
 * zoned geometry; jdm stacks its limits and checks the range). As in the kernel, any other number
 * of arguments is ignored.
 */
public final class ErrorTargetType implements TargetType {
  private static final TargetVersion VERSION = TargetVersion.of(1, 7, 0);

  @Override
  public String name() {
    return "error";
  }

  @Override
  public TargetVersion version() {
    return VERSION;
  }

  @Override
  public Set<TargetFeature> features() {
    return Set.of(TargetFeature.WILDCARD);
  }

  @Override
  public Target create(TargetContext ctx, long begin, long length, String[] args) {
    List<DeviceArea> areas = List.of();
    if (args.length == 2) {
      long start = ArgSet.parseSector(args[1], "Invalid device sector");
      DmDev dev = ctx.getDevice(args[0], "Device lookup failed");
      areas = List.of(new DeviceArea(dev, start, length));
    }
    return new ErrorTarget(areas);
  }

  private static final class ErrorTarget implements Target {
    private final List<DeviceArea> areas;

    ErrorTarget(List<DeviceArea> areas) {
      this.areas = areas;
    }

    @Override
    public MapResult map(Bio bio) {
      return MapResult.KILL;
    }

    @Override
    public List<DeviceArea> devices() {
      return areas;
    }

    @Override
    public int numDiscardBios() {
      return 1; // so discards fail with EIO instead of EOPNOTSUPP
    }

    @Override
    public boolean discardsSupported() {
      return true;
    }

    @Override
    public void ioHints(IoLimits.Builder limits) {
      limits.maxDiscardSectors(IoLimits.UNLIMITED).discardGranularity(Bio.SECTOR_SIZE);
    }
  }
}
