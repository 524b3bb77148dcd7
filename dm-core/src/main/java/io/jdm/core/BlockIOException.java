package io.jdm.core;

import java.io.IOException;
import java.util.Objects;

/**
 * An I/O that completed with an error status, thrown by the synchronous helpers of {@link
 * BlockDevice}. Carries the status, the failed sector (the failed part's, when known, else the
 * request's first) and the device name; the message names the request too when they differ.
 */
public class BlockIOException extends IOException {
  private static final long serialVersionUID = 1L;

  private final BlockStatus status;
  private final long sector;
  private final String device;

  public BlockIOException(BlockStatus status, String device, long sector, String what) {
    super(
        Objects.requireNonNull(status, "status").description()
            + " error, dev "
            + device
            + ", sector "
            + sector
            + (what == null ? "" : " (" + what + ")"));
    this.status = status;
    this.device = device;
    this.sector = sector;
  }

  /**
   * For subclasses that describe the failure themselves (corrupt metadata, for instance) rather
   * than as a failed request; {@code device} may be {@code null} and {@code sector} -1 when not
   * known.
   */
  protected BlockIOException(
      String message, BlockStatus status, String device, long sector, Throwable cause) {
    super(message, cause);
    this.status = Objects.requireNonNull(status, "status");
    this.device = device;
    this.sector = sector;
  }

  public BlockStatus status() {
    return status;
  }

  /**
   * The sector that failed: the first sector of the failed part when the device says which ({@link
   * Bio#errorSector()}), otherwise the first sector of the request.
   */
  public long sector() {
    return sector;
  }

  /** Name of the device the request was submitted to. */
  public String device() {
    return device;
  }
}
