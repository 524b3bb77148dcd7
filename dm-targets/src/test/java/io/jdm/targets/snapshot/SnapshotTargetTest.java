package io.jdm.targets.snapshot;

import io.jdm.testkit.BaseChunkedTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.TargetFixture;
import java.util.List;

/**
 * {@code snapshot} as a disk: the conformance suite over a writable snapshot of an all-zero origin
 * (every first write to a chunk allocates an exception and copies the chunk out), persistent store,
 * chunk sizes from 1 to 128 sectors; and every constructor error with the kernel's text.
 */
class SnapshotTargetTest extends BaseChunkedTargetTestCase {
  @Override
  protected String targetType() {
    return "snapshot";
  }

  @Override
  protected String targetArgs(TargetFixture f, long length, int chunk) {
    String origin = f.memory(length);
    String cow = f.memory(2 * length + 4L * chunk + 64);
    return origin + " " + cow + " " + storeType() + " " + chunk;
  }

  /** The store the suite runs on. */
  protected String storeType() {
    return "P";
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk()
        .withDiscard(DeviceCapabilities.Discard.UNSUPPORTED)
        .withWriteZeroes(false);
  }

  @Override
  protected List<BadArguments> badArguments(TargetFixture f) {
    String o = f.memory(4096);
    String c = f.memory(4096);
    String c4k = f.memory(4096, 4096);
    String tiny = f.memory(8);
    return List.of(
        new BadArguments(64, "", "requires 4 or more arguments"),
        new BadArguments(64, o + " " + c + " P", "requires 4 or more arguments"),
        new BadArguments(64, o + " " + c + " P 8 3 a b c", "Invalid number of feature arguments"),
        new BadArguments(
            64, o + " " + c + " P 8 2 discard_zeroes_cow", "Invalid number of feature"),
        new BadArguments(64, o + " " + c + " P 8 x", "Invalid number of feature arguments"),
        new BadArguments(64, o + " " + c + " P 8 1 bogus", "Unrecognised feature requested"),
        new BadArguments(
            64,
            o + " " + c + " P 8 1 discard_passdown_origin",
            "discard_passdown_origin feature depends on discard_zeroes_cow"),
        new BadArguments(64, "/no/such " + c + " P 8", "Cannot get origin device"),
        new BadArguments(64, o + " /no/such P 8", "Cannot get COW device"),
        new BadArguments(
            64, o + " " + o + " P 8", "COW device cannot be the same as origin device"),
        new BadArguments(
            64, o + " " + c + " X 8", "Couldn't create exception store: Exception store type is"),
        new BadArguments(
            64, o + " " + c + " P x", "Couldn't create exception store: Invalid chunk"),
        new BadArguments(
            64, o + " " + c + " P -8", "Couldn't create exception store: Invalid chunk"),
        new BadArguments(
            64,
            o + " " + c + " P 4294967296",
            "Couldn't create exception store: Invalid chunk size"),
        new BadArguments(
            64,
            o + " " + c + " P 12",
            "Couldn't create exception store: Chunk size is not a power"),
        new BadArguments(
            64,
            o + " " + c4k + " P 4",
            "Couldn't create exception store: Chunk size is not a multiple of device blocksize"),
        new BadArguments(
            64,
            o + " " + c + " P 2147483648",
            "Couldn't create exception store: Chunk size is too high"),
        new BadArguments(
            64,
            o + " " + c + " PX 8",
            "Couldn't create exception store: Exception store type constructor failed"),
        new BadArguments(64, o + " " + c + " N 0", "Chunk size not set"),
        new BadArguments(64, o + " " + tiny + " P 8", "Failed to read snapshot metadata"),
        new BadArguments(8192, o + " " + c + " P 8", "too small for target"));
  }
}
