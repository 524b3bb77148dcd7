package io.jdm.core.targets;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceArea;
import io.jdm.core.DmDev;
import io.jdm.core.EndIoResult;
import io.jdm.core.EndIoTarget;
import io.jdm.core.IoLimits;
import io.jdm.core.MapResult;
import io.jdm.core.StatusType;
import io.jdm.core.TargetContext;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * One {@code striped} line. Relative sector {@code x}: chunk {@code c = x / chunk}, stripe {@code c
 * % N}, row {@code c / N}, device sector {@code start[stripe] + row * chunk + x % chunk}; shifts
 * and masks when chunk size and stripe count are powers of two.
 *
 * <p>A failed bio (not read-ahead, not "not supported") counts against the stripe it went to, which
 * shows as {@code D} in the status, and raises a table event while the count is below 15.
 *
 * <p>Thread-safe.
 */
final class StripedTarget implements EndIoTarget {
  private static final int IO_ERROR_THRESHOLD = 15;

  private final TargetContext ctx;
  private final long begin;
  private final long width;
  private final long chunk;
  private final int chunkShift;
  private final int stripes;
  private final int stripesShift;
  private final DmDev[] dmDevs;
  private final BlockDevice[] devs;
  private final long[] starts;
  private final AtomicIntegerArray errors;

  StripedTarget(
      TargetContext ctx, long begin, long width, long chunk, DmDev[] dmDevs, long[] starts) {
    this.ctx = ctx;
    this.begin = begin;
    this.width = width;
    this.chunk = chunk;
    this.chunkShift = Long.bitCount(chunk) == 1 ? Long.numberOfTrailingZeros(chunk) : -1;
    this.stripes = dmDevs.length;
    this.stripesShift =
        Integer.bitCount(stripes) == 1 ? Integer.numberOfTrailingZeros(stripes) : -1;
    this.dmDevs = dmDevs;
    this.starts = starts;
    this.devs = new BlockDevice[stripes];
    for (int i = 0; i < stripes; i++) {
      devs[i] = dmDevs[i].bdev();
    }
    this.errors = new AtomicIntegerArray(stripes);
  }

  @Override
  public MapResult map(Bio bio) {
    Bio.Op op = bio.op();
    if (op == Bio.Op.FLUSH) {
      bio.setDevice(devs[bio.targetBioNr()]);
      return MapResult.REMAPPED;
    }
    if (op == Bio.Op.DISCARD || op == Bio.Op.WRITE_ZEROES) {
      return mapRange(bio, bio.targetBioNr());
    }
    long x = bio.sector() - begin;
    long chunkOffset;
    long c;
    if (chunkShift >= 0) {
      chunkOffset = x & (chunk - 1);
      c = x >>> chunkShift;
    } else {
      chunkOffset = x % chunk;
      c = x / chunk;
    }
    int stripe;
    if (stripesShift >= 0) {
      stripe = (int) (c & (stripes - 1));
      c >>>= stripesShift;
    } else {
      stripe = (int) (c % stripes);
      c /= stripes;
    }
    long row = chunkShift >= 0 ? c << chunkShift : c * chunk;
    bio.remap(devs[stripe], starts[stripe] + row + chunkOffset);
    return MapResult.REMAPPED;
  }

  /**
   * Where target-relative sector {@code x} falls on stripe {@code target} ({@code
   * stripe_map_range_sector}): its own position if it is on that stripe, else the start of its
   * row's chunk on {@code target}, or of the next row's when {@code target} comes before its
   * stripe.
   */
  private long mapRangeSector(long x, int target) {
    long chunkOffset = x % chunk;
    long c = x / chunk;
    int stripe = (int) (c % stripes);
    long result = (c / stripes) * chunk + chunkOffset;
    if (stripe == target) {
      return result;
    }
    result -= chunkOffset;
    if (target < stripe) {
      result += chunk;
    }
    return result;
  }

  private MapResult mapRange(Bio bio, int target) {
    long b = mapRangeSector(bio.sector() - begin, target);
    long e = mapRangeSector(bio.endSector() - begin, target);
    if (b < e) {
      bio.remap(devs[target], b + starts[target]);
      bio.setSectors((int) (e - b));
      return MapResult.REMAPPED;
    }
    bio.complete(BlockStatus.OK); // nothing of the range is on this stripe
    return MapResult.SUBMITTED;
  }

  @Override
  public EndIoResult endIo(Bio bio, BlockStatus status) {
    if (status == BlockStatus.OK || status == BlockStatus.NOTSUPP || bio.hasFlag(Bio.RAHEAD)) {
      return EndIoResult.DONE;
    }
    BlockDevice failed = bio.device();
    for (int i = 0; i < stripes; i++) {
      if (devs[i] == failed && errors.incrementAndGet(i) < IO_ERROR_THRESHOLD) {
        ctx.triggerEvent();
      }
    }
    return EndIoResult.DONE;
  }

  @Override
  public String status(StatusType type) {
    StringBuilder sb = new StringBuilder();
    if (type == StatusType.INFO) {
      sb.append(stripes).append(' ');
      for (DmDev d : dmDevs) {
        sb.append(d.name()).append(' ');
      }
      sb.append("1 ");
      for (int i = 0; i < stripes; i++) {
        sb.append(errors.get(i) != 0 ? 'D' : 'A');
      }
    } else {
      sb.append(stripes).append(' ').append(chunk);
      for (int i = 0; i < stripes; i++) {
        sb.append(' ').append(dmDevs[i].name()).append(' ').append(starts[i]);
      }
    }
    return sb.toString();
  }

  @Override
  public List<DeviceArea> devices() {
    List<DeviceArea> areas = new ArrayList<>(stripes);
    for (int i = 0; i < stripes; i++) {
      areas.add(new DeviceArea(dmDevs[i], starts[i], width));
    }
    return areas;
  }

  @Override
  public void ioHints(IoLimits.Builder limits) {
    limits.chunkSectors((int) Math.min(chunk, Integer.MAX_VALUE));
    long ioMin = chunk << Bio.SECTOR_SHIFT;
    long ioOpt = ioMin * stripes;
    if (ioMin <= 0xFFFF_FFFFL && ioOpt <= 0xFFFF_FFFFL && ioOpt <= Integer.MAX_VALUE) {
      limits.ioMin((int) ioMin).ioOpt((int) ioOpt);
    }
  }

  @Override
  public long maxIoSectors() {
    return chunk;
  }

  @Override
  public int numFlushBios() {
    return stripes;
  }

  @Override
  public int numDiscardBios() {
    return stripes;
  }

  @Override
  public int numWriteZeroesBios() {
    return stripes;
  }

  @Override
  public boolean flushBypassesMap() {
    return true;
  }
}
