package io.jdm.targets.crash;

import io.jdm.testkit.ExternalTools;
import io.jdm.testkit.crash.CrashTester;
import java.nio.file.Path;

/**
 * {@link KernelFsCrashTestCase} on xfs: 320 MiB (mkfs.xfs wants 300 MiB at least; the image is
 * sparse), 4 KiB blocks and sectors, so every write is whole harness blocks. Each state costs a
 * mount with log recovery and an {@code xfs_repair -n} (about 0.8 s here), so the default profile
 * checks the first 25 states in log order (the flush points of mount and the first steps, with
 * their prefixes); {@code -Pfull-tests} checks them all.
 */
class XfsCrashTest extends KernelFsCrashTestCase {
  @Override
  String fs() {
    return "xfs";
  }

  @Override
  long sectors() {
    return 320 * 2048;
  }

  @Override
  void requireTools() {
    ExternalTools.require("mkfs.xfs", "xfsprogs");
    ExternalTools.require("xfs_repair", "xfsprogs");
  }

  @Override
  void mkfs(Path img) throws Exception {
    ExternalTools.ok("mkfs.xfs", "-q", "-f", "-b", "size=4096", "-s", "size=4096", img.toString());
  }

  @Override
  void fsck(Path img) throws Exception {
    ExternalTools.ok("xfs_repair", "-n", img.toString());
  }

  @Override
  String[] recordMountOptions() {
    return new String[0];
  }

  @Override
  void bound(CrashTester tester) {
    tester.randomStates(0).exhaustiveUpTo(0).maxStates(25);
  }

  @Override
  int minStates() {
    return 20;
  }
}
