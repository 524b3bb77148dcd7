package io.jdm.core;

/**
 * The Linux error numbers the device-mapper control interface returns, with the text {@code
 * strerror} prints for them (what {@code dmsetup} shows after "failed: ").
 */
public enum Errno {
  EPERM(1, "Operation not permitted"),
  ENOENT(2, "No such file or directory"),
  EIO(5, "Input/output error"),
  ENXIO(6, "No such device or address"),
  E2BIG(7, "Argument list too long"),
  EAGAIN(11, "Resource temporarily unavailable"),
  ENOMEM(12, "Cannot allocate memory"),
  EACCES(13, "Permission denied"),
  ENOTBLK(15, "Block device required"),
  EBUSY(16, "Device or resource busy"),
  EEXIST(17, "File exists"),
  ENODEV(19, "No such device"),
  EINVAL(22, "Invalid argument"),
  ENOSPC(28, "No space left on device"),
  EROFS(30, "Read-only file system"),
  ELOOP(40, "Too many levels of symbolic links"),
  EOPNOTSUPP(95, "Operation not supported");

  private final int number;
  private final String text;

  Errno(int number, String text) {
    this.number = number;
    this.text = text;
  }

  /** The positive errno value. */
  public int number() {
    return number;
  }

  /** What {@code strerror} says. */
  public String text() {
    return text;
  }
}
