package io.jdm.core.bufio;

import io.jdm.core.BlockIOException;
import io.jdm.core.BlockStatus;
import java.util.Objects;

/**
 * A metadata block that failed its {@link BlockValidator#check}: bad checksum, wrong block number,
 * bad magic, or a block read as one structure that is cached as another. Carries the structure (the
 * validator's name), the block number and what was wrong; once {@link BufioClient} has seen it,
 * also the device and the block's first sector.
 *
 * <p>Its status is {@link BlockStatus#PROTECTION}, the kernel's {@code -EILSEQ} that validators
 * return. Messages read {@code "superblock block 17 on meta (sector 136): checksum mismatch (stored
 * 0x1a2b3c4d, computed 0x5e6f7a8b)"}.
 */
public final class CorruptBlockException extends BlockIOException {
  private static final long serialVersionUID = 1L;

  private final String structure;
  private final long block;
  private final String problem;

  /**
   * What a validator throws: the structure it checks, the block, and what is wrong with it. The
   * device is filled in by the {@link BufioClient} that read the block.
   */
  public CorruptBlockException(String structure, long block, String problem) {
    this(structure, block, problem, null, -1, null);
  }

  private CorruptBlockException(
      String structure, long block, String problem, String device, long sector, Throwable cause) {
    super(
        message(structure, block, problem, device, sector),
        BlockStatus.PROTECTION,
        device,
        sector,
        cause);
    this.structure = structure;
    this.block = block;
    this.problem = problem;
  }

  private static String message(
      String structure, long block, String problem, String device, long sector) {
    Objects.requireNonNull(structure, "structure");
    Objects.requireNonNull(problem, "problem");
    String where = device == null ? "" : " on " + device + " (sector " + sector + ")";
    return structure + " block " + block + where + ": " + problem;
  }

  /** The same failure located on {@code device} at {@code sector}; this one becomes the cause. */
  CorruptBlockException at(String device, long sector) {
    return new CorruptBlockException(
        structure, block, problem, Objects.requireNonNull(device, "device"), sector, this);
  }

  /** The validator's name: which structure the block was read as. */
  public String structure() {
    return structure;
  }

  /** The block number, in blocks of the client's block size. */
  public long block() {
    return block;
  }

  /** What was wrong, without the place: {@code "block number mismatch (says 3)"}. */
  public String problem() {
    return problem;
  }
}
