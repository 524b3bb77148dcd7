package io.jdm.crypto;

import io.jdm.core.BlockDevice;
import io.jdm.testkit.BaseTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.DeviceCapabilities.Discard;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HexFormat;

/**
 * The target suite on a crypt line. A fresh crypt device reads as the decryption of whatever is
 * below (noise over a zeroed disk), so each device is first zeroed through the crypt mapping, as
 * one would wipe a new volume.
 */
abstract class CryptSuite extends BaseTargetTestCase {
  static String key(int bytes, int seed) {
    byte[] k = new byte[bytes];
    for (int i = 0; i < bytes; i++) {
      k[i] = (byte) (seed * 31 + i * 7);
    }
    return HexFormat.of().formatHex(k);
  }

  @Override
  protected String targetType() {
    return "crypt";
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk().withDiscard(Discard.UNSUPPORTED).withWriteZeroes(false);
  }

  @Override
  protected BlockDevice createDevice(long sectors) throws IOException {
    BlockDevice dev = super.createDevice(sectors);
    ByteBuffer zeros = ByteBuffer.allocate(64 * 1024);
    for (long pos = 0; pos < dev.size(); pos += zeros.capacity()) {
      dev.write(zeros.clear().limit((int) Math.min(zeros.capacity(), dev.size() - pos)), pos);
    }
    return dev;
  }
}
