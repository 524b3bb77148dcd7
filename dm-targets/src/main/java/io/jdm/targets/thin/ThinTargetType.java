package io.jdm.targets.thin;

import io.jdm.core.ArgSet;
import io.jdm.core.DmDev;
import io.jdm.core.Errno;
import io.jdm.core.MappedDevice;
import io.jdm.core.Table;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;
import java.io.IOException;

/**
 * {@code thin} v1.23.0 ({@code drivers/md/dm-thin.c}, {@code thin_ctr}): {@code thin <pool dev>
 * <dev id> [<external origin dev>]}. The pool is found through the pool device, as the kernel's
 * {@code dm_get_md} and pool table lookup: the {@code thin-pool} target of the mapped device's live
 * table, or the pool a loaded {@code thin-pool} table made under that device's name.
 */
public final class ThinTargetType implements TargetType {
  private static final TargetVersion VERSION = TargetVersion.of(1, 23, 0);

  public ThinTargetType() {}

  @Override
  public String name() {
    return "thin";
  }

  @Override
  public TargetVersion version() {
    return VERSION;
  }

  @Override
  public Target create(TargetContext ctx, long begin, long length, String[] args) {
    if (args.length != 2 && args.length != 3) {
      throw new TargetException("Invalid argument count");
    }
    DmDev origin = null;
    if (args.length == 3) {
      if (args[0].equals(args[2])) {
        throw new TargetException("Error setting origin device");
      }
      origin = ctx.getDevice(args[2], "Error opening origin device");
    }
    DmDev poolDev = ctx.getDevice(args[0], "Error opening pool device");
    long devId = ArgSet.parseDecimal(args[1]);
    if (devId < 0 || devId > Pool.MAX_DEV_ID) {
      throw new TargetException("Invalid device id");
    }
    if (!(poolDev.bdev() instanceof MappedDevice)) {
      throw new TargetException("Couldn't get pool mapped device");
    }
    MappedDevice poolMd = (MappedDevice) poolDev.bdev();
    Pool.Table table = ctx.shared(Pool.Table.class, Pool.Table::new);
    Pool pool = lookup(table, poolMd);
    if (pool == null) {
      throw new TargetException("Couldn't find pool object");
    }
    boolean ok = false;
    try {
      if (pool.mode() == Pool.Mode.FAIL) {
        throw new TargetException("Couldn't open thin device, Pool is in fail mode");
      }
      ThinDeviceMetadata td;
      try {
        td = pool.openThin(devId);
      } catch (IOException e) {
        Errno errno = e instanceof PoolMetadataException pe ? pe.errno() : Errno.EIO;
        throw new TargetException(errno, "Couldn't open thin internal device", e);
      }
      ThinTarget t;
      try {
        if (pool.suspended) {
          throw new TargetException("Unable to activate thin device while pool is suspended");
        }
        t = new ThinTarget(ctx, table, pool, poolDev, origin, td, devId, begin, length);
      } catch (RuntimeException e) {
        pool.closeThin(devId);
        throw e;
      }
      ok = true;
      return t;
    } finally {
      if (!ok) {
        table.dec(pool);
      }
    }
  }

  /** The pool behind {@code poolMd}: its live thin-pool target's, else one made under its name. */
  private static Pool lookup(Pool.Table table, MappedDevice poolMd) {
    Table live = poolMd.liveTable().orElse(null);
    if (live != null && live.targetCount() == 1 && live.target(0) instanceof ThinPoolTarget pt) {
      table.inc(pt.pool);
      return pt.pool;
    }
    return table.lookup(poolMd.name());
  }
}
