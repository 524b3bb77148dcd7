package io.jdm.core;

/**
 * The outcome of a block I/O: the kernel's {@code blk_status_t} set ({@code
 * include/linux/blk_types.h}, descriptions from {@code block/blk-core.c}).
 *
 * <p>A {@link Bio} completes with exactly one of these. {@link #DM_REQUEUE} is the device-mapper's
 * internal "push back" status; like the kernel, jdm never lets it leak out of a mapped device.
 */
public enum BlockStatus {
  OK(0, ""),
  NOTSUPP(-95, "operation not supported"),
  TIMEOUT(-110, "timeout"),
  NOSPC(-28, "critical space allocation"),
  TRANSPORT(-67, "recoverable transport"),
  TARGET(-121, "critical target"),
  RESV_CONFLICT(-52, "reservation conflict"),
  MEDIUM(-61, "critical medium"),
  PROTECTION(-84, "protection"),
  RESOURCE(-12, "kernel resource"),
  IOERR(-5, "I/O"),
  DM_REQUEUE(-78, "dm internal retry"),
  AGAIN(-11, "nonblocking retry"),
  DEV_RESOURCE(-16, "device resource"),
  ZONE_OPEN_RESOURCE(-109, "open zones exceeded"),
  ZONE_ACTIVE_RESOURCE(-75, "active zones exceeded"),
  OFFLINE(-19, "device offline"),
  DURATION_LIMIT(-62, "duration limit exceeded"),
  INVAL(-22, "invalid");

  private final int errno;
  private final String description;

  BlockStatus(int errno, String description) {
    this.errno = errno;
    this.description = description;
  }

  /** The negative Linux errno the kernel maps this status to (0 for {@link #OK}). */
  public int errno() {
    return errno;
  }

  /** The kernel's description, as printed in {@code "<description> error, dev ..."} log lines. */
  public String description() {
    return description;
  }

  /** {@code true} for every status but {@link #OK}. */
  public boolean isError() {
    return this != OK;
  }
}
