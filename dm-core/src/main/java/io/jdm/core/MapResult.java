package io.jdm.core;

/** What a target's {@link Target#map(Bio)} did with a bio, as the kernel's {@code DM_MAPIO_*}. */
public enum MapResult {
  /** The target pointed the bio at an underlying device and sector; the core submits it there. */
  REMAPPED,
  /** The target owns the bio now and will complete or submit it itself. */
  SUBMITTED,
  /**
   * Fail the bio: the core completes it with the status the target set ({@link
   * Bio#setStatus(BlockStatus)}), or {@link BlockStatus#IOERR} if it set none.
   */
  KILL,
  /**
   * Push the bio back: held and reissued after resume if a {@code noflush} suspend is under way,
   * failed with {@link BlockStatus#IOERR} otherwise.
   */
  REQUEUE
}
