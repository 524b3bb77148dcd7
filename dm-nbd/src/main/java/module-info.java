/**
 * The Network Block Device protocol ({@code NetworkBlockDevice/nbd doc/proto.md}): {@link
 * io.jdm.nbd.NbdServer} exports block devices, {@link io.jdm.nbd.NbdBlockDevice} is a remote export
 * as a block device, and {@link io.jdm.nbd.NbdDeviceResolver} lets tables name {@code nbd://} URIs.
 */
module io.jdm.nbd {
  requires transitive io.jdm.core;

  exports io.jdm.nbd;
}
