package io.jdm.core;

/**
 * A table was rejected. The message names the line, the target type and the rule, in the form
 * {@code "line 2: striped: Invalid chunk_size"} (the kernel logs {@code "<dev>: striped: Invalid
 * chunk_size"}). Nothing the failed table opened stays open, and the device it was loaded into is
 * unchanged.
 */
public class TableException extends DmException {
  private static final long serialVersionUID = 1L;

  private final int line;
  private final String targetType;
  private final String reason;

  /**
   * @param line 1-based line of the table text, or 0 when the error is about the whole table
   * @param targetType the target type named on that line, or {@code null}
   * @param reason the rule that was broken
   */
  public TableException(Errno errno, int line, String targetType, String reason) {
    super(errno, format(line, targetType, reason));
    this.line = line;
    this.targetType = targetType;
    this.reason = reason;
  }

  public TableException(int line, String targetType, String reason) {
    this(Errno.EINVAL, line, targetType, reason);
  }

  static TableException wrap(int line, String targetType, DmException e) {
    TableException t = new TableException(e.errno(), line, targetType, e.getMessage());
    t.initCause(e);
    return t;
  }

  private static String format(int line, String targetType, String reason) {
    StringBuilder sb = new StringBuilder();
    if (line > 0) {
      sb.append("line ").append(line).append(": ");
    }
    if (targetType != null) {
      sb.append(targetType).append(": ");
    }
    return sb.append(reason).toString();
  }

  /** 1-based line number, 0 when the error concerns the table as a whole. */
  public int line() {
    return line;
  }

  /** The target type on the offending line, or {@code null}. */
  public String targetType() {
    return targetType;
  }

  /** The rule, without line and target. */
  public String reason() {
    return reason;
  }
}
