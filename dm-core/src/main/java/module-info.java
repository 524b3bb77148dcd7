/**
 * jdm's engine: bios, block devices, targets, tables, mapped devices and the device mapper, with
 * the built-in targets {@code linear}, {@code striped}, {@code zero} and {@code error}, and the
 * kernel's I/O services for targets (dm-io, kcopyd, buffer pools).
 */
module io.jdm.core {
  requires jdk.unsupported; // com.sun.nio.file.ExtendedOpenOption.DIRECT

  exports io.jdm.core;
  exports io.jdm.core.io;

  uses io.jdm.core.TargetType;
}
