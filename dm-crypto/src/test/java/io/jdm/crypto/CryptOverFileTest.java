package io.jdm.crypto;

import io.jdm.testkit.TargetFixture;
import java.io.IOException;

/** aes-xts-plain64 with 4 KiB crypto sectors and iv_large_sectors, over a file. */
class CryptOverFileTest extends CryptSuite {
  @Override
  protected String targetArgs(TargetFixture f, long length) throws IOException {
    return "aes-xts-plain64 "
        + key(32, 3)
        + " 800 "
        + f.file(length + 8)
        + " 8 2 sector_size:4096 iv_large_sectors";
  }

  @Override
  protected long targetLength(long sectors) {
    return sectors / 8 * 8;
  }
}
