package io.jdm.core.targets;

import io.jdm.core.ArgSet;
import io.jdm.core.DmDev;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;

/**
 * {@code striped <#stripes> <chunk_size> (<dev> <offset>){#stripes}}: spreads chunks of {@code
 * chunk_size} sectors round-robin over the devices ({@code drivers/md/dm-stripe.c}, v1.6.0).
 *
 * <p>Rules, as in Linux 6.12: at least one stripe; a chunk size of at least one sector, which need
 * not be a power of two (older kernels required one); the target length divisible by the number of
 * stripes, and each stripe's share divisible by the chunk size.
 */
public final class StripedTargetType implements TargetType {
  private static final TargetVersion VERSION = TargetVersion.of(1, 6, 0);

  @Override
  public String name() {
    return "striped";
  }

  @Override
  public TargetVersion version() {
    return VERSION;
  }

  @Override
  public Target create(TargetContext ctx, long begin, long length, String[] args) {
    if (args.length < 2) {
      throw new TargetException("Not enough arguments");
    }
    ArgSet as = new ArgSet(args);
    long stripes = as.nextLong(1, 0xFFFF_FFFFL, "Invalid stripe count");
    long chunk = as.nextLong(1, 0xFFFF_FFFFL, "Invalid chunk_size");
    if (length % stripes != 0) {
      throw new TargetException("Target length not divisible by number of stripes");
    }
    long width = length / stripes;
    if (width % chunk != 0) {
      throw new TargetException("Target length not divisible by chunk size");
    }
    if (args.length != 2 + 2 * stripes) {
      throw new TargetException("Not enough destinations specified");
    }
    int n = (int) stripes;
    DmDev[] devs = new DmDev[n];
    long[] starts = new long[n];
    for (int i = 0; i < n; i++) {
      String path = as.next();
      starts[i] = as.nextSector("Couldn't parse stripe destination");
      devs[i] = ctx.getDevice(path, "Couldn't parse stripe destination");
    }
    return new StripedTarget(ctx, begin, width, chunk, devs, starts);
  }
}
