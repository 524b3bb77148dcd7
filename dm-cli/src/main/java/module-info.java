/**
 * {@code jdmsetup}, dmsetup for jdm: a daemon holding a device mapper, reachable through a control
 * socket and exporting every mapped device over NBD, and dmsetup's commands as its clients.
 */
module io.jdm.cli {
  requires transitive io.jdm.core;
  requires io.jdm.nbd;
  requires io.jdm.crypto;
  requires io.jdm.targets; // verity verbs, MultipathTargetType.withPathChecker
  requires info.picocli;
  requires java.logging;
  requires jdk.net;

  exports io.jdm.cli;

  uses io.jdm.core.TargetType;

  opens io.jdm.cli to
      info.picocli;
}
