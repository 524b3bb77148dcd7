package io.jdm.targets.thin;

import io.jdm.core.Bio;
import io.jdm.core.DeviceArea;
import io.jdm.core.DmDev;
import io.jdm.core.IoLimits;
import io.jdm.core.MapResult;
import io.jdm.core.StatusType;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import java.util.List;

/**
 * One {@code thin-pool} table line, the kernel's {@code struct pool_c}: it controls its {@link
 * Pool} from its preresume on, maps the pool device straight onto the data device ({@code
 * pool_map}), and answers the pool's status and messages.
 */
final class ThinPoolTarget implements Target {
  final TargetContext ctx;
  final Pool.Table table;
  final Pool pool;
  final DmDev metadataDev;
  final DmDev dataDev;
  final long length;
  final long lowWaterBlocks;
  final Pool.Features requested;
  volatile Pool.Features adjusted;

  ThinPoolTarget(
      TargetContext ctx,
      Pool.Table table,
      Pool pool,
      DmDev metadataDev,
      DmDev dataDev,
      long length,
      long lowWaterBlocks,
      Pool.Features requested) {
    this.ctx = ctx;
    this.table = table;
    this.pool = pool;
    this.metadataDev = metadataDev;
    this.dataDev = dataDev;
    this.length = length;
    this.lowWaterBlocks = lowWaterBlocks;
    this.requested = requested;
    this.adjusted = requested;
    pool.pmd.registerMetadataThreshold(
        pool.metadataThreshold(),
        () -> {
          ctx.logger()
              .log(
                  System.Logger.Level.WARNING,
                  pool.name + ": reached low water mark for metadata device: sending event.");
          ctx.triggerEvent();
        });
    pool.pmd.registerPreCommit(() -> pool.dataDev.flush());
  }

  @Override
  public MapResult map(Bio bio) {
    bio.setDevice(dataDev.bdev()); // a singleton: the pool device's sectors are the data device's
    return MapResult.REMAPPED;
  }

  @Override
  public List<DeviceArea> devices() {
    return List.of(new DeviceArea(dataDev, 0, length));
  }

  @Override
  public void ioHints(IoLimits.Builder limits) {
    Pool.Features pf = requested;
    boolean passdown = pf.discardEnabled() && pf.discardPassdown();
    if (passdown) {
      IoLimits data = dataDev.bdev().limits();
      String reason = null;
      if (!data.supportsDiscard()) {
        reason = "discard unsupported";
      } else if (data.maxDiscardSectors() < pool.blockSectors) {
        reason = "max discard sectors smaller than a block";
      }
      if (reason != null) {
        ctx.logger()
            .log(
                System.Logger.Level.WARNING,
                "Data device (" + dataDev.name() + ") " + reason + ": Disabling discard passdown.");
        passdown = false;
      }
    }
    adjusted =
        new Pool.Features(
            pf.zeroNewBlocks(), pf.discardEnabled(), passdown, pf.readOnly(), pf.errorIfNoSpace());
    if (!passdown) {
      limits.maxDiscardSectors(0).discardGranularity(0);
    }
    long bytes = pool.blockSectors << Bio.SECTOR_SHIFT;
    if (bytes <= Integer.MAX_VALUE) {
      limits.ioMin((int) bytes).ioOpt((int) bytes);
    }
  }

  @Override
  public int numFlushBios() {
    return 1;
  }

  @Override
  public int numDiscardBios() {
    return requested.discardEnabled() && requested.discardPassdown() ? 1 : 0;
  }

  @Override
  public boolean discardsSupported() {
    return requested.discardEnabled() && requested.discardPassdown();
  }

  @Override
  public String status(StatusType type) {
    if (type == StatusType.INFO) {
      return pool.statusInfo();
    }
    Pool.Features pf = requested;
    int count =
        (pf.zeroNewBlocks() ? 0 : 1)
            + (pf.discardEnabled() ? 0 : 1)
            + (pf.discardPassdown() ? 0 : 1)
            + (pf.readOnly() ? 1 : 0)
            + (pf.errorIfNoSpace() ? 1 : 0);
    StringBuilder sb = new StringBuilder();
    sb.append(metadataDev.name()).append(' ').append(dataDev.name()).append(' ');
    sb.append(pool.blockSectors).append(' ').append(lowWaterBlocks).append(' ');
    sb.append(count).append(' ');
    if (!pf.zeroNewBlocks()) {
      sb.append("skip_block_zeroing ");
    }
    if (!pf.discardEnabled()) {
      sb.append("ignore_discard ");
    }
    if (!pf.discardPassdown()) {
      sb.append("no_discard_passdown ");
    }
    if (pf.readOnly()) {
      sb.append("read_only ");
    }
    if (pf.errorIfNoSpace()) {
      sb.append("error_if_no_space ");
    }
    return sb.toString();
  }

  @Override
  public String message(String... argv) {
    return pool.message(argv);
  }

  @Override
  public void presuspend() {
    pool.presuspend();
  }

  @Override
  public void presuspendUndo() {
    pool.presuspendUndo();
  }

  @Override
  public void postsuspend() {
    pool.postsuspend();
  }

  @Override
  public void preresume() {
    pool.preresume(this);
  }

  @Override
  public void resume() {
    pool.resume();
  }

  @Override
  public void close() {
    pool.unbind(this);
    table.dec(pool);
  }
}
