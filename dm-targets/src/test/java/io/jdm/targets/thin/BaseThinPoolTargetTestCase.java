package io.jdm.targets.thin;

import io.jdm.core.DeviceMapper;
import io.jdm.testkit.BaseTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.TargetFixture;
import java.util.List;

/**
 * {@code thin-pool} as a disk: the pool device maps its data device one to one ({@code pool_map}),
 * so the suite runs over it; and every constructor error with the kernel's text.
 */
abstract class BaseThinPoolTargetTestCase extends BaseTargetTestCase {
  /** How the pools open their metadata. */
  protected abstract PoolMetadataOpener opener();

  @Override
  protected DeviceMapper newDeviceMapper() {
    return ThinMappers.create(seed(), opener());
  }

  @Override
  protected String targetType() {
    return "thin-pool";
  }

  @Override
  protected long targetLength(long sectors) {
    return (sectors + 127) / 128 * 128;
  }

  @Override
  protected String targetArgs(TargetFixture f, long length) {
    return f.memory(8192) + " " + f.memory(length) + " 128 0";
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk().withWriteZeroes(false);
  }

  @Override
  protected List<BadArguments> badArguments(TargetFixture f) {
    String m = f.memory(8192);
    String d = f.memory(4096);
    String md = m + " " + d + " ";
    return List.of(
        new BadArguments(4096, "", "Invalid argument count"),
        new BadArguments(4096, md + "128", "Invalid argument count"),
        new BadArguments(4096, m + " " + m + " 128 0", "Error setting metadata or data device"),
        new BadArguments(
            4096, md + "128 0 5 a b c d e", "Invalid number of pool feature arguments"),
        new BadArguments(
            4096, md + "128 0 2 read_only", "Invalid number of pool feature arguments"),
        new BadArguments(4096, md + "128 0 x", "Invalid number of pool feature arguments"),
        new BadArguments(4096, md + "128 0 1 bogus", "Unrecognised pool feature requested"),
        new BadArguments(4096, "/no/such " + d + " 128 0", "Error opening metadata block device"),
        new BadArguments(4096, m + " /no/such 128 0", "Error getting data device"),
        new BadArguments(4096, md + "0 0", "Invalid block size"),
        new BadArguments(4096, md + "64 0", "Invalid block size"),
        new BadArguments(4096, md + "129 0", "Invalid block size"),
        new BadArguments(4096, md + "192x 0", "Invalid block size"),
        new BadArguments(4096, md + "-128 0", "Invalid block size"),
        new BadArguments(4096, md + "2097280 0", "Invalid block size"),
        new BadArguments(4096, md + "4194304 0", "Invalid block size"),
        new BadArguments(4096, md + "128 x", "Invalid low water mark"),
        new BadArguments(4096, md + "128 -1", "Invalid low water mark"),
        new BadArguments(8192, md + "128 0", "too small for target"));
  }
}
