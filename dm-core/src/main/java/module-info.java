/**
 * jdm's engine: bios, block devices, targets, tables, mapped devices and the device mapper, with
 * the built-in targets {@code linear}, {@code striped}, {@code zero} and {@code error}, and the
 * kernel's services that bigger targets share: dm-io and the buffer pool ({@code io.jdm.core.io}),
 * the block cache with validators ({@code io.jdm.core.bufio}), dirty logs ({@code
 * io.jdm.core.dirtylog}), the region hash ({@code io.jdm.core.region}), the bio prison and deferred
 * set ({@code io.jdm.core.prison}), the path selector SPI ({@code io.jdm.core.pathselector}).
 */
module io.jdm.core {
  requires jdk.unsupported; // com.sun.nio.file.ExtendedOpenOption.DIRECT
  // optional: FileBlockDevice's hole punching (add the module with --add-modules com.sun.jna)
  requires static com.sun.jna;

  exports io.jdm.core;
  exports io.jdm.core.bufio;
  exports io.jdm.core.dirtylog;
  exports io.jdm.core.io;
  exports io.jdm.core.pathselector;
  exports io.jdm.core.prison;
  exports io.jdm.core.region;

  uses io.jdm.core.TargetType;
  uses io.jdm.core.dirtylog.DirtyLogType;
  uses io.jdm.core.pathselector.PathSelectorType;
}
