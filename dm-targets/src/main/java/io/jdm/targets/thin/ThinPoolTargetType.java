package io.jdm.targets.thin;

import io.jdm.core.ArgSet;
import io.jdm.core.DmDev;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.TargetFeature;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;
import io.jdm.targets.thin.metadata.PersistentPoolMetadata;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;

/**
 * {@code thin-pool} v1.23.0 ({@code drivers/md/dm-thin.c}, {@code pool_ctr}): {@code thin-pool
 * <metadata dev> <data dev> <data block size> <low water mark> [<#feature args> [<arg>]*]}, with
 * the features {@code skip_block_zeroing}, {@code ignore_discard}, {@code no_discard_passdown},
 * {@code read_only} and {@code error_if_no_space}. A singleton, always-writeable, immutable type.
 *
 * <p>The metadata is opened through a {@link PoolMetadataOpener}: the service-loaded instance uses
 * the kernel's on-disk format ({@link PersistentPoolMetadata#open}); the public constructor takes
 * any other, so a device mapper built with a registry of its own can run pools on a model.
 */
public final class ThinPoolTargetType implements TargetType {
  private static final TargetVersion VERSION = TargetVersion.of(1, 23, 0);
  private static final ArgSet.Spec FEATURES =
      new ArgSet.Spec(0, 4, "Invalid number of pool feature arguments");

  private final PoolMetadataOpener opener;

  /** The service-loader constructor: metadata in the kernel's format. */
  public ThinPoolTargetType() {
    this(PersistentPoolMetadata::open);
  }

  /** A pool type whose pools open their metadata with {@code opener}. */
  public ThinPoolTargetType(PoolMetadataOpener opener) {
    this.opener = Objects.requireNonNull(opener, "opener");
  }

  @Override
  public String name() {
    return "thin-pool";
  }

  @Override
  public TargetVersion version() {
    return VERSION;
  }

  @Override
  public Set<TargetFeature> features() {
    return EnumSet.of(
        TargetFeature.SINGLETON, TargetFeature.ALWAYS_WRITEABLE, TargetFeature.IMMUTABLE);
  }

  @Override
  public Target create(TargetContext ctx, long begin, long length, String[] args) {
    if (args.length < 4) {
      throw new TargetException("Invalid argument count");
    }
    if (args[0].equals(args[1])) {
      throw new TargetException("Error setting metadata or data device");
    }
    ArgSet as = new ArgSet(args);
    as.consume(4);
    boolean zero = true;
    boolean discard = true;
    boolean passdown = true;
    boolean readOnly = false;
    boolean errorIfNoSpace = false;
    ArgSet f = as.group(FEATURES);
    while (f.hasNext()) {
      String a = f.next();
      if (ArgSet.equalsIgnoreCase(a, "skip_block_zeroing")) {
        zero = false;
      } else if (ArgSet.equalsIgnoreCase(a, "ignore_discard")) {
        discard = false;
      } else if (ArgSet.equalsIgnoreCase(a, "no_discard_passdown")) {
        passdown = false;
      } else if (ArgSet.equalsIgnoreCase(a, "read_only")) {
        readOnly = true;
      } else if (ArgSet.equalsIgnoreCase(a, "error_if_no_space")) {
        errorIfNoSpace = true;
      } else {
        throw new TargetException("Unrecognised pool feature requested");
      }
    }
    if (as.hasNext()) {
      // the kernel ignores words after the feature group; so does jdm, but says so
      ctx.logger().log(System.Logger.Level.WARNING, "thin-pool: extra arguments ignored");
    }
    Pool.Features pf = new Pool.Features(zero, discard, passdown, readOnly, errorIfNoSpace);
    DmDev metadata = ctx.getDevice(args[0], "Error opening metadata block device");
    DmDev data = ctx.getDevice(args[1], "Error getting data device");
    long blockSize = ArgSet.parseDecimal(args[2]);
    if (blockSize <= 0
        || blockSize < Pool.MIN_BLOCK_SECTORS
        || blockSize > Pool.MAX_BLOCK_SECTORS
        || (blockSize & (Pool.MIN_BLOCK_SECTORS - 1)) != 0) {
      throw new TargetException("Invalid block size");
    }
    long lowWater = ArgSet.parseDecimal(args[3]);
    if (lowWater < 0) {
      throw new TargetException("Invalid low water mark");
    }
    Pool.Table table = ctx.shared(Pool.Table.class, Pool.Table::new);
    boolean[] created = new boolean[1];
    Pool pool =
        table.find(
            ctx.deviceName(),
            new Pool.DmDevs(metadata.bdev(), metadata.number(), data.bdev(), data.number()),
            blockSize,
            readOnly,
            opener,
            ctx.clock(),
            ctx.logger(),
            created);
    if (!created[0] && discard != pool.discardEnabled) {
      table.dec(pool);
      throw new TargetException("Discard support cannot be disabled once enabled");
    }
    return new ThinPoolTarget(ctx, table, pool, metadata, data, length, lowWater, pf);
  }
}
