package io.jdm.core.prison;

/**
 * What a {@link BioPrison} cell locks, the kernel's {@code struct dm_cell_key}: the blocks {@code
 * [blockBegin, blockEnd)} of device {@code dev} in the virtual (as the target's user sees it) or
 * physical (the pool's data device) address space.
 *
 * <p>A key spans at most {@link BioPrison#MAX_RANGE} blocks and does not cross a multiple of it
 * ({@code dm_cell_key_has_valid_range}): that is what lets the prison lock by range. Two keys
 * overlap when they are in the same space, on the same device, and their ranges intersect.
 *
 * <p>The constructor throws {@link IllegalArgumentException} for a negative or empty range, or one
 * the prison cannot take.
 */
public record CellKey(boolean virtual, long dev, long blockBegin, long blockEnd) {
  public CellKey {
    BioPrison.checkRange(blockBegin, blockEnd);
  }

  /** A one-block key. */
  public static CellKey of(boolean virtual, long dev, long block) {
    return new CellKey(virtual, dev, block, block + 1);
  }

  /** Whether the two keys would share a cell. */
  public boolean overlaps(CellKey other) {
    return virtual == other.virtual
        && dev == other.dev
        && blockBegin < other.blockEnd
        && other.blockBegin < blockEnd;
  }
}
