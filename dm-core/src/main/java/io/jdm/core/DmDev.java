package io.jdm.core;

/**
 * An underlying device as a target holds it, the kernel's {@code struct dm_dev}: obtained from
 * {@link TargetContext#getDevice(String)}, counted so the device cannot be removed while a table
 * uses it, and released when the table is destroyed.
 */
public interface DmDev {
  /** The device to submit bios to. */
  BlockDevice bdev();

  /** Its {@code major:minor}, which is how status and table text name it. */
  DeviceNumber number();

  /** {@link #number()} as text ({@code dm_dev->name}). */
  default String name() {
    return number().toString();
  }

  /** The path or name the table gave for it. */
  String path();

  /** Whether it was opened for writing. */
  boolean writable();
}
