package io.jdm.core.io;

import io.jdm.core.Bio;
import io.jdm.core.BlockIOException;
import io.jdm.core.BlockStatus;
import java.util.List;
import java.util.Locale;

/**
 * A {@link DmIo} request in which some regions failed, thrown by its synchronous forms. The status,
 * device and sector of {@link BlockIOException} are the first failed region's; {@link #errorBits()}
 * and {@link #status(int)} tell every region's outcome, and the message names each failed region,
 * for example {@code I/O error, dev b, sector 0 (dm-io write: regions 1, 3 of 4 failed: 1 b:0+8
 * I/O, 3 d:64+8 critical medium)}.
 */
public final class DmIoException extends BlockIOException {
  private static final long serialVersionUID = 1L;

  private final long errorBits;
  private final BlockStatus[] statuses;

  DmIoException(Bio.Op op, List<DmIo.Region> regions, long errorBits, BlockStatus[] statuses) {
    super(
        statuses[Long.numberOfTrailingZeros(errorBits)],
        regions.get(Long.numberOfTrailingZeros(errorBits)).device().name(),
        regions.get(Long.numberOfTrailingZeros(errorBits)).sector(),
        what(op, regions, errorBits, statuses));
    this.errorBits = errorBits;
    this.statuses = statuses.clone();
  }

  private static String what(
      Bio.Op op, List<DmIo.Region> regions, long errorBits, BlockStatus[] statuses) {
    StringBuilder which = new StringBuilder();
    StringBuilder detail = new StringBuilder();
    for (long bits = errorBits; bits != 0; bits &= bits - 1) {
      int i = Long.numberOfTrailingZeros(bits);
      if (which.length() > 0) {
        which.append(", ");
        detail.append(", ");
      }
      which.append(i);
      detail
          .append(i)
          .append(' ')
          .append(regions.get(i))
          .append(' ')
          .append(statuses[i].description());
    }
    return "dm-io "
        + op.name().toLowerCase(Locale.ROOT).replace('_', '-')
        + ": region"
        + (Long.bitCount(errorBits) > 1 ? "s " : " ")
        + which
        + " of "
        + regions.size()
        + " failed: "
        + detail;
  }

  /** Bit {@code i} set if region {@code i} failed. */
  public long errorBits() {
    return errorBits;
  }

  /** How region {@code i} ended: {@link BlockStatus#OK} unless it failed. */
  public BlockStatus status(int region) {
    BlockStatus s = statuses[region];
    return s == null ? BlockStatus.OK : s;
  }
}
