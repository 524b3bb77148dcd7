package io.jdm.persistentdata;

import io.jdm.core.Errno;
import java.io.IOException;

/**
 * A persistent-data operation refused with the errno the kernel's library returns for it: {@code
 * ENOSPC} when a space map has no free block, {@code EINVAL} for a reference count that would drop
 * below zero or a space map grown beyond its index, {@code EROFS} for a change to a read-only block
 * manager. A corrupt block is a {@link io.jdm.core.bufio.CorruptBlockException} instead.
 */
public final class PersistentDataException extends IOException {
  private static final long serialVersionUID = 1L;

  private final transient Errno errno;

  public PersistentDataException(Errno errno, String message) {
    super(message);
    this.errno = errno;
  }

  /** What the kernel would return. */
  public Errno errno() {
    return errno;
  }
}
