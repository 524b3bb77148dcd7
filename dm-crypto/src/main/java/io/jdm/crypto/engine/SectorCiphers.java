package io.jdm.crypto.engine;

/**
 * Builds {@link SectorCipher}s from dm-crypt cipher specifications, checking them in the order and
 * with the texts of {@code crypt_ctr_cipher}: the cipher and chain mode ({@code "Error allocating
 * crypto tfm"}), the IV mode ({@code "Invalid IV mode"}), then the key ({@code "Error decoding and
 * setting key"}).
 *
 * <p>Ciphers: {@code aes}, {@code serpent}, {@code twofish}; chain modes {@code xts}, {@code cbc},
 * {@code ecb}; IV modes {@code plain}, {@code plain64}, {@code plain64be}, {@code essiv:<hash>},
 * {@code benbi}, {@code null}, {@code eboiv}.
 */
public final class SectorCiphers {
  private SectorCiphers() {}

  /** Checks the cipher, chain mode and IV mode; returns the IV mode to use (NONE for ECB). */
  static IvMode check(CipherSpec spec) {
    String mode = spec.chainMode();
    if (!BlockEngine.known(spec.cipher())
        || !(mode.equals("xts") || mode.equals("cbc") || mode.equals("ecb"))) {
      throw new IllegalArgumentException("Error allocating crypto tfm");
    }
    if ("essiv".equals(spec.ivMode())) {
      IvMode.essivSalt(spec.ivOpts(), new byte[0], 0, 0); // an unknown hash fails here
    }
    if (mode.equals("ecb") || spec.ivMode() == null) {
      return IvMode.NONE; // "Selected cipher does not support IVs": the kernel ignores it
    }
    IvMode iv = IvMode.forName(spec.ivMode());
    if (iv == null) {
      throw new IllegalArgumentException(
          "Invalid IV mode: " + spec.ivMode() + " is not implemented in jdm");
    }
    return iv;
  }

  /**
   * Checks {@code spec} without a key.
   *
   * @throws IllegalArgumentException with the kernel's error text
   */
  public static void checkSpec(CipherSpec spec) {
    check(spec);
  }

  /**
   * A cipher for {@code spec} under {@code key} (copied; wipe yours), for crypto sectors of {@code
   * sectorSize} bytes.
   *
   * @throws IllegalArgumentException with the kernel's error text
   */
  public static SectorCipher create(
      CipherSpec spec, byte[] key, int sectorSize, boolean ivLargeSectors) {
    IvMode iv = check(spec);
    if (sectorSize < 512 || sectorSize > 4096 || Integer.bitCount(sectorSize) != 1) {
      throw new IllegalArgumentException("Invalid feature value for sector_size");
    }
    int n = spec.keyCount();
    if (key.length == 0 || key.length % n != 0) {
      throw new IllegalArgumentException("Error decoding and setting key");
    }
    int sub = key.length / n;
    boolean xts = spec.chainMode().equals("xts");
    int cipherKey = xts ? sub / 2 : sub;
    if ((xts && sub % 2 != 0) || !BlockEngine.validKeyLength(spec.cipher(), cipherKey)) {
      throw new IllegalArgumentException("Error decoding and setting key");
    }
    if (xts && n == 1 && spec.cipher().equals("aes")) {
      return new AesXtsSectorCipher(iv, spec.ivOpts(), key, sectorSize, ivLargeSectors);
    }
    ModeSectorCipher.Mode mode =
        xts
            ? ModeSectorCipher.Mode.XTS
            : spec.chainMode().equals("cbc")
                ? ModeSectorCipher.Mode.CBC
                : ModeSectorCipher.Mode.ECB;
    return new ModeSectorCipher(
        spec.cipher(), mode, iv, spec.ivOpts(), key, n, sectorSize, ivLargeSectors);
  }

  /** {@link #create(CipherSpec, byte[], int, boolean)} for a specification string. */
  public static SectorCipher create(String spec, byte[] key, int sectorSize) {
    return create(CipherSpec.parse(spec), key, sectorSize, false);
  }
}
