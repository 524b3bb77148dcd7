package io.jdm.targets.thin;

import io.jdm.core.Clock;
import io.jdm.core.DeviceMapper;
import io.jdm.core.TargetRegistry;

/** Device mappers whose {@code thin-pool} opens its metadata with a given opener. */
final class ThinMappers {
  private ThinMappers() {}

  /** The default registry with {@code thin-pool} replaced by one on {@code opener}. */
  static TargetRegistry registry(PoolMetadataOpener opener) {
    TargetRegistry r = TargetRegistry.loadDefault();
    r.unregister("thin-pool");
    r.register(new ThinPoolTargetType(opener));
    return r;
  }

  static DeviceMapper create(long seed, PoolMetadataOpener opener) {
    return DeviceMapper.builder().seed(seed).registry(registry(opener)).build();
  }

  static DeviceMapper create(long seed, PoolMetadataOpener opener, Clock clock) {
    return DeviceMapper.builder().seed(seed).registry(registry(opener)).clock(clock).build();
  }
}
