package io.jdm.core.targets;

import io.jdm.core.ArgSet;
import io.jdm.core.DmDev;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;

/**
 * {@code linear <dev> <offset>}: maps the target's sectors onto a contiguous range of one device
 * ({@code drivers/md/dm-linear.c}, v1.4.0).
 */
public final class LinearTargetType implements TargetType {
  private static final TargetVersion VERSION = TargetVersion.of(1, 4, 0);

  @Override
  public String name() {
    return "linear";
  }

  @Override
  public TargetVersion version() {
    return VERSION;
  }

  @Override
  public Target create(TargetContext ctx, long begin, long length, String[] args) {
    if (args.length != 2) {
      throw new TargetException("Invalid argument count");
    }
    long start = ArgSet.parseSector(args[1], "Invalid device sector");
    DmDev dev = ctx.getDevice(args[0], "Device lookup failed");
    return new LinearTarget(dev, begin, length, start);
  }
}
