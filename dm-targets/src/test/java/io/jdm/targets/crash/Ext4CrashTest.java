package io.jdm.targets.crash;

import io.jdm.testkit.ExternalTools;
import io.jdm.testkit.crash.CrashTester;
import java.nio.file.Path;

/**
 * {@link KernelFsCrashTestCase} on ext4: 32 MiB, 4 KiB blocks, no lazy initialisation. By default
 * every flush/FUA point and a few subsets of the writes after it (a few hundred states).
 */
class Ext4CrashTest extends KernelFsCrashTestCase {
  @Override
  String fs() {
    return "ext4";
  }

  @Override
  long sectors() {
    return 32 * 2048; // 32 MiB
  }

  @Override
  void requireTools() {
    ExternalTools.require("mkfs.ext4", "e2fsprogs");
    ExternalTools.require("e2fsck", "e2fsprogs");
  }

  @Override
  void mkfs(Path img) throws Exception {
    // no lazy initialisation: nothing but the workload writes while it runs
    ExternalTools.ok(
        "mkfs.ext4",
        "-q",
        "-F",
        "-b",
        "4096",
        "-E",
        "lazy_itable_init=0,lazy_journal_init=0",
        img.toString());
  }

  @Override
  void fsck(Path img) throws Exception {
    ExternalTools.ok("e2fsck", "-fn", img.toString());
  }

  @Override
  String[] recordMountOptions() {
    return new String[] {"noinit_itable"};
  }

  @Override
  void bound(CrashTester tester) {
    tester.randomStates(0).exhaustiveUpTo(2);
  }

  @Override
  int minStates() {
    return 51;
  }
}
