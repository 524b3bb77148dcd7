package io.jdm.targets.thin;

import io.jdm.core.Errno;
import java.io.IOException;

/**
 * A pool metadata operation that failed, with the errno the kernel's {@code dm-thin-metadata.c}
 * returns for it ({@code EEXIST} for a thin id in use, {@code ENODATA}-like absence is not an error
 * but an empty result, {@code ENOSPC} for no free data or metadata block, {@code EINVAL} for a
 * wrong transaction id or an invalid id, {@code EBUSY} for a device opened twice, {@code EIO} for
 * metadata that cannot be read or fails its checksum: the message names the block and the
 * structure).
 */
public final class PoolMetadataException extends IOException {
  private static final long serialVersionUID = 1L;

  private final transient Errno errno;

  public PoolMetadataException(Errno errno, String message) {
    super(message);
    this.errno = errno;
  }

  public PoolMetadataException(Errno errno, String message, Throwable cause) {
    super(message, cause);
    this.errno = errno;
  }

  /** What the kernel would return. */
  public Errno errno() {
    return errno;
  }
}
