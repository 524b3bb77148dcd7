package io.jdm.core;

/**
 * Thrown by a target's constructor ({@link TargetType#create}) or {@link Target#message} with the
 * text the kernel would put in {@code ti->error} ("Invalid device sector", "Invalid chunk_size").
 * The core adds the line and target name when it reports the failure as a {@link TableException}.
 */
public class TargetException extends DmException {
  private static final long serialVersionUID = 1L;

  public TargetException(String message) {
    super(Errno.EINVAL, message);
  }

  public TargetException(Errno errno, String message) {
    super(errno, message);
  }

  public TargetException(String message, Throwable cause) {
    super(Errno.EINVAL, message, cause);
  }

  public TargetException(Errno errno, String message, Throwable cause) {
    super(errno, message, cause);
  }
}
