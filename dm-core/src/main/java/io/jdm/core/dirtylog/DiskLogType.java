package io.jdm.core.dirtylog;

import io.jdm.core.DmDev;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import java.util.Arrays;

/**
 * The kernel's {@code disk} log type: {@code disk <log_device> <region_size> [[no]sync]}, the clean
 * bitset kept on {@code <log_device>} in the kernel's format (see the package's {@code DiskLog}).
 *
 * <p>Errors, with the kernel's texts: {@code wrong number of arguments to disk dirty region log},
 * the device lookup error of {@link TargetContext#getDevice}, then those of {@link CoreLogType},
 * then {@code log device <major:minor> too small: need <n> bytes}. The log device is opened in the
 * table's mode. Stateless and thread-safe.
 */
public final class DiskLogType implements DirtyLogType {
  /** Creates the type; it is also built into every {@link DirtyLogRegistry}. */
  public DiskLogType() {}

  @Override
  public String name() {
    return "disk";
  }

  @Override
  public DirtyLog create(
      TargetContext ctx, long targetLength, DirtyLog.FlushCallback flushCallback, String... args) {
    if (args.length < 2 || args.length > 3) {
      throw new TargetException("wrong number of arguments to disk dirty region log");
    }
    DmDev dev = ctx.getDevice(args[0]);
    BitsetLog.Params p = BitsetLog.parse(Arrays.copyOfRange(args, 1, args.length), targetLength);
    long bitsetBytes = ((p.regionCount() + 31) & ~31L) >>> 3;
    long bufferSize = DiskLog.bufferSize(bitsetBytes, dev.bdev().limits().logicalBlockSize());
    if (bufferSize > dev.bdev().size()) {
      throw new TargetException(
          "log device " + dev.name() + " too small: need " + bufferSize + " bytes");
    }
    return new DiskLog(this, p, ctx, dev, (int) bufferSize, flushCallback);
  }
}
