package io.jdm.targets.snapshot;

import io.jdm.core.DmDev;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;

/**
 * {@code snapshot-origin <dev>} v1.9.0: the device that has snapshots, put in place of it so that
 * writes copy the old data out first ({@code drivers/md/dm-snap.c}). Status INFO is empty, TABLE
 * the device.
 */
public final class SnapshotOriginTargetType implements TargetType {
  private static final TargetVersion VERSION = TargetVersion.of(1, 9, 0);

  /** Creates the type; instances are found through {@link java.util.ServiceLoader}. */
  public SnapshotOriginTargetType() {}

  @Override
  public String name() {
    return "snapshot-origin";
  }

  @Override
  public TargetVersion version() {
    return VERSION;
  }

  @Override
  public Target create(TargetContext ctx, long begin, long length, String[] args) {
    if (args.length != 1) {
      throw new TargetException("origin: incorrect number of arguments");
    }
    DmDev dev = ctx.getDevice(args[0], "Cannot get target device");
    return new OriginTarget(dev, length, ctx.shared(OriginRegistry.class, OriginRegistry::new));
  }
}
