package io.jdm.core;

/**
 * A device that completes every bio at once without touching memory, as the kernel's {@code
 * null_blk} without memory backing ({@code drivers/block/null_blk}): reads leave the buffer as it
 * was, writes go nowhere. For benchmarks of the mapping path and for tests that only count I/O.
 *
 * <p>Thread-safe; completes on the submitting thread.
 */
public final class NullBlockDevice extends AbstractBlockDevice {

  private NullBlockDevice(String name, long sectors, IoLimits limits) {
    super(name, sectors, limits, false);
  }

  /** A device of {@code sectors} sectors that supports every operation. */
  public static NullBlockDevice create(String name, long sectors) {
    return create(
        name,
        sectors,
        IoLimits.builder()
            .maxDiscardSectors(IoLimits.UNLIMITED)
            .maxWriteZeroesSectors(IoLimits.UNLIMITED)
            .build());
  }

  public static NullBlockDevice create(String name, long sectors, IoLimits limits) {
    return new NullBlockDevice(name, sectors, limits);
  }

  @Override
  protected void doSubmit(Bio bio) {
    Bio.Op op = bio.op();
    if ((op == Bio.Op.DISCARD && !limits().supportsDiscard())
        || (op == Bio.Op.WRITE_ZEROES && !limits().supportsWriteZeroes())) {
      bio.complete(BlockStatus.NOTSUPP);
      return;
    }
    bio.complete(BlockStatus.OK);
  }
}
