package io.jdm.crypto;

import io.jdm.testkit.TargetFixture;

/** serpent-xts-plain64 (Bouncy Castle) with 4 KiB crypto sectors over a 4 KiB-sector disk. */
class CryptOver4kDiskTest extends CryptSuite {
  @Override
  protected String targetArgs(TargetFixture f, long length) {
    return "serpent-xts-plain64 "
        + key(64, 5)
        + " 64 "
        + f.memory(length + 64, 4096)
        + " 64 1 sector_size:4096";
  }

  @Override
  protected long targetLength(long sectors) {
    return sectors / 8 * 8;
  }
}
