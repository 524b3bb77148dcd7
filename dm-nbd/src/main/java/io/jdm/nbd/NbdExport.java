package io.jdm.nbd;

import io.jdm.core.BlockDevice;
import java.util.Objects;

/**
 * One export as an {@link NbdServer} serves it to one connection.
 *
 * @param device where the connection's requests go
 * @param readOnly the export is offered read-only ({@code NBD_FLAG_READ_ONLY}); writes, trims and
 *     write-zeroes fail with {@code NBD_EPERM}. A read-only device is always exported read-only.
 * @param description shown to clients that ask ({@code NBD_INFO_DESCRIPTION}); may be empty
 * @param shared every connection to this export reaches the same device object, so a flush or FUA
 *     on one connection covers writes completed on all: the condition for advertising {@code
 *     NBD_FLAG_CAN_MULTI_CONN}
 * @param closeWhenDone the server closes {@code device} when the connection has ended and every
 *     request on it has completed (for per-connection handles such as {@link
 *     io.jdm.core.MappedDevice#open()})
 */
public record NbdExport(
    BlockDevice device,
    boolean readOnly,
    String description,
    boolean shared,
    boolean closeWhenDone) {

  public NbdExport {
    Objects.requireNonNull(device, "device");
    Objects.requireNonNull(description, "description");
  }

  /** A device shared by every connection and owned by the caller. */
  public static NbdExport of(BlockDevice device) {
    return new NbdExport(device, device.isReadOnly(), "", true, false);
  }

  /** {@link #of(BlockDevice)}, read-only when {@code readOnly} or the device is. */
  public static NbdExport of(BlockDevice device, boolean readOnly) {
    return new NbdExport(device, readOnly || device.isReadOnly(), "", true, false);
  }

  /** Whether writes are refused: the export or its device is read-only. */
  public boolean isReadOnly() {
    return readOnly || device.isReadOnly();
  }
}
