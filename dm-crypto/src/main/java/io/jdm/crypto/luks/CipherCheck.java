package io.jdm.crypto.luks;

import io.jdm.crypto.engine.CipherSpec;
import io.jdm.crypto.engine.SectorCipher;
import io.jdm.crypto.engine.SectorCiphers;

/** Checks that jdm's crypt engine can use a cipher with a key size, before anything is written. */
final class CipherCheck {
  private CipherCheck() {}

  static void check(String cipher, int keyBytes) {
    CipherSpec spec;
    try {
      spec = CipherSpec.parse(cipher);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("cipher " + cipher + ": " + e.getMessage(), e);
    }
    if (spec.capi()) {
      throw new IllegalArgumentException(
          "cipher " + cipher + ": LUKS stores cipher-mode-iv, not the capi: form");
    }
    try (SectorCipher c = SectorCiphers.create(spec, new byte[keyBytes], 512, false)) {
      c.sectorSize();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "cipher " + cipher + " with a " + keyBytes * 8 + "-bit key: " + e.getMessage(), e);
    }
  }
}
