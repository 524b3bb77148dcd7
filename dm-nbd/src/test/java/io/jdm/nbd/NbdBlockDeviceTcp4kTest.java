package io.jdm.nbd;

/**
 * The conformance suite over TCP with 4 KiB logical blocks, which the client learns from {@code
 * NBD_INFO_BLOCK_SIZE}.
 */
class NbdBlockDeviceTcp4kTest extends NbdBlockDeviceTest {
  @Override
  protected int blockSize() {
    return 4096;
  }

  @Override
  protected boolean tcp() {
    return true;
  }
}
