package io.jdm.core;

import java.io.IOException;

/**
 * Turns a device path from a table into a {@link BlockDevice}, for schemes the core does not know
 * ({@code dm-nbd} adds {@code nbd://host:port/export}). Registered with {@link
 * DeviceMapper#addResolver}.
 */
public interface DeviceResolver {

  /**
   * A stable key for the device {@code path} names (so the same device named twice is opened once),
   * or {@code null} if this resolver does not handle {@code path}.
   */
  String key(String path);

  /**
   * Opens the device. The device mapper closes it when no table uses it any more.
   *
   * @param readOnly the table is read-only
   */
  BlockDevice open(String path, boolean readOnly) throws IOException;

  /** The major number for devices from this resolver (default: local/experimental). */
  default int major() {
    return DeviceNumber.LOCAL_MAJOR;
  }
}
