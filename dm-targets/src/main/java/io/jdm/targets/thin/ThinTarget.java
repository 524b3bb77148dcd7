package io.jdm.targets.thin;

import io.jdm.core.Bio;
import io.jdm.core.BioHoldList;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceArea;
import io.jdm.core.DmDev;
import io.jdm.core.EndIoResult;
import io.jdm.core.EndIoTarget;
import io.jdm.core.IoLimits;
import io.jdm.core.MapResult;
import io.jdm.core.StatusType;
import io.jdm.core.TargetContext;
import io.jdm.core.prison.BioPrison;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One {@code thin} table line, the kernel's {@code struct thin_c} ({@code drivers/md/dm-thin.c}):
 * provisions a data block on the first write to a virtual block (zeroing or copying what the write
 * does not cover unless the pool skips zeroing), breaks sharing with snapshots by copying on write,
 * unmaps whole blocks on discard (passing them down to the data device), and reads unprovisioned
 * blocks from an external origin or as zeros.
 *
 * <p>The map path remaps a plain read or write of a block known to be provisioned and unshared (the
 * {@link MappingCache}) straight to the data device: no lock, no allocation, one counter increment
 * that {@link io.jdm.core.prison.InFlightEpochs} pairs with the completion. Everything else goes to
 * the pool's worker, as the kernel's {@code thin_bio_map} defers it: flushes, FUA, discards,
 * unprovisioned or shared blocks, and everything while the pool is suspended or this device
 * suspends with noflush.
 */
final class ThinTarget implements EndIoTarget {
  final TargetContext ctx;
  final Pool.Table table;
  final Pool pool;
  final DmDev poolDev;
  final DmDev origin;
  final ThinDeviceMetadata td;
  final long devId;
  final long begin;
  final long length;
  final long bs;
  final int shift;
  final long mask;
  final MappingCache cache;
  final BioHoldList holds;
  private final BioPrison prison;
  private volatile boolean requeueMode;
  private volatile long originSize;

  ThinTarget(
      TargetContext ctx,
      Pool.Table table,
      Pool pool,
      DmDev poolDev,
      DmDev origin,
      ThinDeviceMetadata td,
      long devId,
      long begin,
      long length) {
    this.ctx = ctx;
    this.table = table;
    this.pool = pool;
    this.poolDev = poolDev;
    this.origin = origin;
    this.td = td;
    this.devId = devId;
    this.begin = begin;
    this.length = length;
    this.bs = pool.blockSectors;
    this.shift = pool.blockShift;
    this.mask = bs - 1;
    this.cache = new MappingCache((length + bs - 1) / bs);
    this.holds = ctx.holdList(BlockStatus.IOERR);
    this.prison = pool.prison;
    this.originSize = origin == null ? 0 : origin.bdev().sectors();
    pool.activeThins.add(this);
  }

  // ---------------------------------------------------------------------------------------------
  // The map path

  @Override
  public MapResult map(Bio bio) {
    long sector = bio.sector() - begin;
    if (bio.op().hasData() && (bio.flags() & (Bio.FUA | Bio.PREFLUSH)) == 0) {
      Pool p = pool;
      long block = shift >= 0 ? sector >>> shift : sector / bs;
      int e = p.inFlight.enter();
      long data = cache.get(block);
      if (data != 0 && !p.suspended && !requeueMode) {
        bio.setTargetLong(e + 1);
        long base = shift >= 0 ? (data - 1) << shift : (data - 1) * bs;
        bio.remap(p.dataDev, base + (shift >= 0 ? sector & mask : sector % bs));
        return MapResult.REMAPPED;
      }
      p.inFlight.exit(e);
    }
    return mapSlow(bio);
  }

  private MapResult mapSlow(Bio bio) {
    bio.setTargetLong(0);
    if (requeueMode) {
      return MapResult.REQUEUE;
    }
    if (pool.mode() == Pool.Mode.FAIL) {
      return MapResult.KILL;
    }
    pool.defer(() -> process(bio));
    return MapResult.SUBMITTED;
  }

  @Override
  public EndIoResult endIo(Bio bio, BlockStatus status) {
    long t = bio.targetLong(); // set by every map and by the worker before it issues
    if (t != 0) {
      pool.inFlight.exit((int) (t - 1));
    }
    return EndIoResult.DONE;
  }

  // ---------------------------------------------------------------------------------------------
  // The worker (pool monitor held)

  private long blockOf(Bio bio) {
    long sector = bio.sector() - begin;
    return shift >= 0 ? sector >>> shift : sector / bs;
  }

  /** Serves one deferred bio ({@code process_thin_deferred_bios}). */
  void process(Bio bio) {
    if (pool.mode() == Pool.Mode.FAIL) {
      bio.complete(BlockStatus.IOERR);
      return;
    }
    if (requeueMode) {
      bio.complete(BlockStatus.DM_REQUEUE);
      return;
    }
    if (pool.suspended) {
      holds.hold(bio); // until the pool resumes (the kernel suspends its thins internally)
      return;
    }
    switch (bio.op()) {
      case FLUSH:
        processFlush(bio);
        break;
      case DISCARD:
        processDiscard(bio);
        break;
      case READ:
      case WRITE:
        processRw(bio);
        break;
      default:
        bio.complete(BlockStatus.NOTSUPP);
        break;
    }
  }

  private void processFlush(Bio bio) {
    if (td.changedThisTransaction()) {
      if (td.abortedChanges()) {
        bio.complete(BlockStatus.IOERR);
        return;
      }
      pool.deferUntilCommit(bio);
      return;
    }
    bio.setDevice(pool.dataDev);
    bio.submit();
  }

  private void processRw(Bio bio) {
    long block = blockOf(bio);
    BioPrison.Cell prealloc = prison.allocCell();
    BioPrison.Cell cell = prison.detain(true, devId, block, block + 1, bio, prealloc);
    if (cell == null) {
      prison.freeCell(prealloc); // the block is being provisioned: the bio waits in that cell
      return;
    }
    processCell(bio, block, cell);
  }

  private void processCell(Bio bio, long block, BioPrison.Cell cell) {
    ThinDeviceMetadata.Lookup r;
    try {
      r = td.findBlock(block);
    } catch (IOException e) {
      ctx.logger()
          .log(
              System.Logger.Level.ERROR,
              "process_cell: dm_thin_find_block() failed: error = " + Pool.errnoOf(e),
              e);
      releaseInmates(cell);
      bio.complete(BlockStatus.IOERR);
      return;
    }
    Pool.Mode m = pool.mode();
    if (r != null) {
      if (r.shared() && bio.op() == Bio.Op.WRITE) {
        if (m != Pool.Mode.WRITE) {
          unserviceable(cell);
        } else {
          breakSharing(bio, block, r.dataBlock(), cell);
        }
        return;
      }
      if (!r.shared()) {
        cache.set(block, r.dataBlock());
      }
      issueData(bio, r.dataBlock());
      releaseInmates(cell);
      return;
    }
    if (bio.op() == Bio.Op.READ) {
      releaseInmates(cell);
      readUnmapped(bio);
      return;
    }
    if (m != Pool.Mode.WRITE) {
      unserviceable(cell);
      return;
    }
    provision(bio, block, cell);
  }

  /** Remaps {@code bio} into data block {@code dataBlock} and issues it ({@code issue}). */
  private void issueData(Bio bio, long dataBlock) {
    long sector = bio.sector() - begin;
    long offset = shift >= 0 ? sector & mask : sector % bs;
    bio.remap(pool.dataDev, dataBlock * bs + offset);
    bio.setTargetLong(pool.inFlight.enter() + 1);
    if (bio.hasFlag(Bio.FUA) && td.changedThisTransaction()) {
      if (td.abortedChanges()) {
        bio.complete(BlockStatus.IOERR);
        return;
      }
      pool.deferUntilCommit(bio);
      return;
    }
    bio.submit();
  }

  private void readUnmapped(Bio bio) {
    long sector = bio.sector() - begin;
    long osz = originSize;
    if (origin == null || sector >= osz) {
      bio.zeroFill();
      bio.complete(BlockStatus.OK);
      return;
    }
    if (sector + bio.sectors() <= osz) {
      bio.remap(origin.bdev(), sector);
      bio.submit();
      return;
    }
    bio.zeroFill();
    Bio head = bio.chainSlice(0, (int) (osz - sector));
    head.remap(origin.bdev(), sector);
    head.submit();
    bio.complete(BlockStatus.OK);
  }

  private void releaseInmates(BioPrison.Cell cell) {
    List<Bio> bios = new ArrayList<>();
    prison.releaseNoHolder(cell, bios);
    prison.freeCell(cell);
    for (Bio b : bios) {
      process(b);
    }
  }

  private void errorCell(BioPrison.Cell cell, BlockStatus status) {
    prison.error(cell, status);
    prison.freeCell(cell);
  }

  /** {@code handle_unserviceable_bio} for the cell's every bio: fail, or hold until resume. */
  private void unserviceable(BioPrison.Cell cell) {
    BlockStatus s = pool.unserviceableStatus();
    List<Bio> bios = new ArrayList<>();
    prison.release(cell, bios);
    prison.freeCell(cell);
    for (Bio b : bios) {
      if (s != null) {
        b.complete(s);
      } else {
        holds.hold(b);
      }
    }
  }

  private boolean overwritesBlock(Bio bio) {
    return bio.op() == Bio.Op.WRITE && bio.sectors() == bs;
  }

  /** {@code provision_block} for a write. */
  private void provision(Bio bio, long block, BioPrison.Cell cell) {
    long db = pool.allocDataBlock();
    if (db < 0) {
      unserviceable(cell);
      return;
    }
    if (origin != null) {
      externalCopy(bio, block, db, cell);
    } else {
      scheduleZero(bio, block, db, cell);
    }
  }

  private void scheduleZero(Bio bio, long block, long db, BioPrison.Cell cell) {
    if (!pool.zeroNewBlocks()) {
      prepared(bio, block, db, cell, BlockStatus.OK);
    } else if (overwritesBlock(bio)) {
      overwrite(bio, block, db, cell, false);
    } else {
      pool.zero(
          db,
          (re, we) ->
              pool.defer(
                  () ->
                      prepared(
                          bio, block, db, cell, we != 0 ? BlockStatus.IOERR : BlockStatus.OK)));
    }
  }

  private void externalCopy(Bio bio, long block, long db, BioPrison.Cell cell) {
    long vb = block * bs;
    long osz = originSize;
    if (vb >= osz) {
      scheduleZero(bio, block, db, cell);
      return;
    }
    if (overwritesBlock(bio)) {
      overwrite(bio, block, db, cell, false);
      return;
    }
    long len = Math.min(bs, osz - vb);
    boolean zeroTail = len < bs && pool.zeroNewBlocks();
    AtomicInteger pending = new AtomicInteger(zeroTail ? 2 : 1);
    BlockStatus[] status = {BlockStatus.OK};
    io.jdm.core.io.Kcopyd.Callback done =
        (re, we) -> {
          if (re || we != 0) {
            status[0] = BlockStatus.IOERR;
          }
          if (pending.decrementAndGet() == 0) {
            pool.defer(() -> prepared(bio, block, db, cell, status[0]));
          }
        };
    pool.copy(origin.bdev(), vb, db, len, done);
    if (zeroTail) {
      pool.zeroRange(db * bs + len, bs - len, done);
    }
  }

  /** {@code break_sharing}: a copy of the shared block, mapped once earlier reads have ended. */
  private void breakSharing(Bio bio, long block, long shared, BioPrison.Cell cell) {
    long db = pool.allocDataBlock();
    if (db < 0) {
      unserviceable(cell);
      return;
    }
    if (overwritesBlock(bio)) {
      overwrite(bio, block, db, cell, true);
      return;
    }
    pool.copy(
        pool.dataDev,
        shared * bs,
        db,
        bs,
        (re, we) -> {
          BlockStatus s = re || we != 0 ? BlockStatus.IOERR : BlockStatus.OK;
          pool.inFlight.afterInFlight(() -> pool.defer(() -> prepared(bio, block, db, cell, s)));
        });
  }

  /** The write covers the whole new block: it goes there first, the mapping after it. */
  private void overwrite(Bio bio, long block, long db, BioPrison.Cell cell, boolean quiesce) {
    Bio w =
        bio.clone(
            done -> {
              Runnable r = () -> pool.defer(() -> overwritten(done, bio, block, db, cell));
              if (quiesce) {
                pool.inFlight.afterInFlight(r);
              } else {
                r.run();
              }
            });
    w.remap(pool.dataDev, db * bs);
    w.submit();
  }

  private void overwritten(Bio w, Bio bio, long block, long db, BioPrison.Cell cell) {
    if (w.status() != BlockStatus.OK) {
      errorCell(cell, w.status());
      return;
    }
    if (!insert(block, db, cell)) {
      return;
    }
    if (bio.hasFlag(Bio.FUA)) {
      pool.completeAfterCommit(bio); // complete_overwrite_bio: durable once mapped and committed
    } else {
      bio.complete(BlockStatus.OK);
    }
    releaseInmates(cell);
  }

  /** {@code process_prepared_mapping}: the block is ready; map it and let the cell's bios go. */
  private void prepared(Bio bio, long block, long db, BioPrison.Cell cell, BlockStatus status) {
    if (status != BlockStatus.OK) {
      errorCell(cell, status);
      return;
    }
    if (!insert(block, db, cell)) {
      return;
    }
    issueData(bio, db);
    releaseInmates(cell);
  }

  private boolean insert(long block, long db, BioPrison.Cell cell) {
    try {
      td.insertBlock(block, db);
    } catch (IOException e) {
      pool.metadataOperationFailed("dm_thin_insert_block", e);
      errorCell(cell, BlockStatus.IOERR);
      return false;
    }
    cache.set(block, db);
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Discards

  /** {@code process_discard_bio}: whole blocks only, a prison range at a time. */
  private void processDiscard(Bio bio) {
    if (Pool.isReadOnly(pool.mode())) {
      bio.complete(BlockStatus.OK); // as the kernel's process_bio_success in read-only mode
      return;
    }
    long s = bio.sector() - begin;
    long e = s + bio.sectors();
    long b = (s + bs - 1) / bs;
    long end = e / bs;
    if (b >= end) {
      bio.complete(BlockStatus.OK); // less than a block
      return;
    }
    if (BioPrison.hasValidRange(b, end) && s == b * bs && e == end * bs) {
      discardRange(bio, b, end);
      return;
    }
    long at = b;
    while (at < end) {
      long next =
          Math.min(end, ((at >>> BioPrison.MAX_RANGE_SHIFT) + 1) << BioPrison.MAX_RANGE_SHIFT);
      Bio part = bio.chainSlice((int) (at * bs - s), (int) ((next - at) * bs));
      discardRange(part, at, next);
      at = next;
    }
    bio.complete(BlockStatus.OK);
  }

  /** One prison range of whole blocks: held, drained of map-path I/O, unmapped, passed down. */
  private void discardRange(Bio bio, long b, long end) {
    BioPrison.Cell prealloc = prison.allocCell();
    BioPrison.Cell cell = prison.detain(true, devId, b, end, bio, prealloc);
    if (cell == null) {
      prison.freeCell(prealloc);
      return; // reprocessed when that cell is released
    }
    pool.invalidate(devId, b, end);
    pool.inFlight.afterInFlight(() -> pool.defer(() -> unmap(bio, b, end, cell)));
  }

  private void unmap(Bio bio, long b, long end, BioPrison.Cell cell) {
    List<long[]> passdown = new ArrayList<>();
    try {
      if (pool.discardPassdown()) {
        long at = b;
        ThinDeviceMetadata.MappedRange r;
        while (at < end && (r = td.findMappedRange(at, end)) != null) {
          long run = -1;
          for (long v = r.thinBegin(); v < r.thinEnd(); v++) {
            long d = r.poolBegin() + (v - r.thinBegin());
            boolean shared = r.maybeShared() && pool.pmd.blockIsShared(d);
            if (!shared && run < 0) {
              run = d;
            } else if (shared && run >= 0) {
              passdown.add(new long[] {run, d});
              run = -1;
            }
          }
          if (run >= 0) {
            passdown.add(new long[] {run, r.poolBegin() + (r.thinEnd() - r.thinBegin())});
          }
          at = r.thinEnd();
        }
      }
      td.removeRange(b, end);
      for (long[] p : passdown) {
        pool.pmd.incDataRange(p[0], p[1]); // not reallocated before the discard completes
      }
    } catch (IOException e) {
      pool.metadataOperationFailed("dm_thin_remove_range", e);
      errorCell(cell, BlockStatus.IOERR);
      return;
    }
    releaseInmates(cell);
    if (passdown.isEmpty()) {
      bio.complete(BlockStatus.OK);
      return;
    }
    List<long[]> parts = new ArrayList<>();
    long most = Math.max(1, (Integer.MAX_VALUE >>> 1) / bs);
    for (long[] p : passdown) {
      for (long d = p[0]; d < p[1]; d += most) {
        parts.add(new long[] {d, Math.min(p[1], d + most)});
      }
    }
    AtomicInteger pending = new AtomicInteger(parts.size());
    for (long[] p : parts) {
      Bio down =
          Bio.discard(
              p[0] * bs,
              (int) ((p[1] - p[0]) * bs),
              x ->
                  pool.defer(
                      () -> {
                        passedDown(p[0], p[1]);
                        if (pending.decrementAndGet() == 0) {
                          bio.complete(BlockStatus.OK);
                        }
                      }));
      down.submit(pool.dataDev);
    }
  }

  private void passedDown(long from, long to) {
    try {
      pool.pmd.decDataRange(from, to);
    } catch (IOException e) {
      pool.metadataOperationFailed("dm_pool_dec_data_range", e);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Status, hints, lifecycle

  @Override
  public String status(StatusType type) {
    if (pool.mode() == Pool.Mode.FAIL) {
      return "Fail";
    }
    if (type == StatusType.TABLE) {
      return poolDev.name() + " " + devId + (origin != null ? " " + origin.name() : "");
    }
    try {
      long mapped = td.mappedCount();
      long highest = td.highestMappedBlock();
      return mapped * bs + " " + (highest >= 0 ? Long.toString((highest + 1) * bs - 1) : "-");
    } catch (IOException e) {
      ctx.logger().log(System.Logger.Level.ERROR, "dm_thin_get_mapped_count returned error", e);
      return "Error";
    }
  }

  @Override
  public List<DeviceArea> devices() {
    ThinPoolTarget pt = pool.boundTarget();
    if (pt == null) {
      return List.of();
    }
    long blocks = pt.length / bs;
    return blocks == 0 ? List.of() : List.of(new DeviceArea(poolDev, 0, blocks * bs));
  }

  @Override
  public void ioHints(IoLimits.Builder limits) {
    if (pool.discardEnabled) {
      long gran = bs << Bio.SECTOR_SHIFT;
      long max = Math.min(bs * BioPrison.MAX_RANGE, (Integer.MAX_VALUE / bs) * bs);
      limits.discardGranularity((int) Math.min(gran, 1 << 30)).maxDiscardSectors((int) max);
    }
  }

  @Override
  public long maxIoSectors() {
    return bs;
  }

  @Override
  public int numFlushBios() {
    return 1;
  }

  @Override
  public boolean flushSupported() {
    return true;
  }

  @Override
  public int numDiscardBios() {
    return pool.discardEnabled ? 1 : 0;
  }

  @Override
  public boolean discardsSupported() {
    return pool.discardEnabled;
  }

  @Override
  public void presuspend() {
    if (ctx.noflushSuspending()) {
      requeueMode = true;
    }
  }

  @Override
  public void postsuspend() {
    requeueMode = false;
  }

  @Override
  public void preresume() {
    if (origin != null) {
      originSize = origin.bdev().sectors();
    }
  }

  @Override
  public void close() {
    pool.activeThins.remove(this);
    pool.closeThin(devId);
    table.dec(pool);
  }
}
