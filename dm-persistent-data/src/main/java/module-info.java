/**
 * The kernel's persistent-data library ({@code drivers/md/persistent-data}): block manager,
 * transaction manager, space maps and B-trees, byte-compatible with the kernel and
 * thin-provisioning-tools.
 */
module io.jdm.persistentdata {
  requires transitive io.jdm.core;

  exports io.jdm.persistentdata;
}
