package io.jdm.core;

import java.util.Objects;

/**
 * A device-mapper operation was refused: a bad table, a bad target argument or message, a busy or
 * missing device. Carries the errno the kernel would have returned, so a command-line front end can
 * print what {@code dmsetup} prints. Nothing was changed by the refused operation.
 */
public class DmException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Errno errno;

  public DmException(Errno errno, String message) {
    super(message);
    this.errno = Objects.requireNonNull(errno, "errno");
  }

  public DmException(Errno errno, String message, Throwable cause) {
    super(message, cause);
    this.errno = Objects.requireNonNull(errno, "errno");
  }

  public Errno errno() {
    return errno;
  }
}
