package io.jdm.targets.snapshot;

import io.jdm.core.Bio;
import io.jdm.core.DeviceArea;
import io.jdm.core.DmDev;
import io.jdm.core.MapResult;
import io.jdm.core.StatusType;
import io.jdm.core.Target;
import java.util.List;

/**
 * One {@code snapshot-origin} line ({@code origin_map} in {@code drivers/md/dm-snap.c}): reads and
 * flushes pass straight to the device; a write first has the chunks it touches copied out to every
 * snapshot of the device ({@link OriginRegistry#originWrite}) and waits for those copies. As in the
 * kernel, sectors are not shifted by the line's start: the origin is mapped one to one.
 *
 * <p>Thread-safe; the write path takes the registry's read lock and each snapshot's lock briefly.
 */
final class OriginTarget implements Target {
  private final DmDev dev;
  private final long length;
  private final OriginRegistry registry;

  OriginTarget(DmDev dev, long length, OriginRegistry registry) {
    this.dev = dev;
    this.length = length;
    this.registry = registry;
  }

  @Override
  public MapResult map(Bio bio) {
    bio.remap(dev.bdev(), bio.sector());
    if (bio.op() != Bio.Op.WRITE) {
      return MapResult.REMAPPED;
    }
    return registry.originWrite(dev.number(), bio);
  }

  @Override
  public String status(StatusType type) {
    return type == StatusType.TABLE ? dev.name() : "";
  }

  @Override
  public List<DeviceArea> devices() {
    return List.of(new DeviceArea(dev, 0, length));
  }

  @Override
  public int numFlushBios() {
    return 1;
  }
}
