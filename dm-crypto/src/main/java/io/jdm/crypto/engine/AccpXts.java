package io.jdm.crypto.engine;

import java.security.GeneralSecurityException;
import java.security.InvalidAlgorithmParameterException;
import java.security.Provider;
import java.util.Arrays;
import java.util.HexFormat;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.IvParameterSpec;

/**
 * AES-256-XTS of the Amazon Corretto Crypto Provider ({@code AES/XTS/NoPadding}: AWS-LC's assembly,
 * VAES and AVX-512 where the CPU has them), used by {@link AesXtsSectorCipher} when the provider is
 * on the class path. Optional: jdm neither needs nor names it at compile time; it is found by class
 * name, checked once against IEEE 1619 vector 10, and left alone if it is missing, fails to load
 * its native library, or the system property {@value #DISABLE} is {@code true}.
 *
 * <p>One call per run of bytes under one tweak: the provider expands both keys and runs XTS over
 * the run in place. Not thread-safe: each worker has its own.
 */
final class AccpXts {
  /** The system property that keeps jdm off the provider even when it is on the class path. */
  static final String DISABLE = "io.jdm.crypto.accp.disable";

  private static final String CLASS =
      "com.amazon.corretto.crypto.provider.AmazonCorrettoCryptoProvider";

  private static final Provider PROVIDER = find();

  private final Cipher cipher;
  private final RawKey key;
  private final byte[] tweak = new byte[16];

  private AccpXts(Cipher cipher, byte[] key) {
    this.cipher = cipher;
    this.key = new RawKey(key);
  }

  /** Whether the provider is here and passed its check. */
  static boolean available() {
    return PROVIDER != null;
  }

  /**
   * An engine for the 64-byte AES-256-XTS {@code key} (copied), or null where the provider is
   * missing or cannot take this key (AES-128-XTS; halves that are equal, which AWS-LC refuses and
   * the kernel outside FIPS mode accepts).
   */
  static AccpXts create(byte[] key, int off, int len) {
    if (PROVIDER == null || len != 64) {
      return null;
    }
    byte[] k = Arrays.copyOfRange(key, off, off + len);
    if (Arrays.equals(k, 0, 32, k, 32, 64)) {
      Arrays.fill(k, (byte) 0);
      return null;
    }
    try {
      return new AccpXts(Cipher.getInstance("AES/XTS/NoPadding", PROVIDER), k);
    } catch (GeneralSecurityException e) {
      Arrays.fill(k, (byte) 0);
      return null;
    }
  }

  private static Provider find() {
    if (Boolean.getBoolean(DISABLE)) {
      return null;
    }
    try {
      Provider p = (Provider) Class.forName(CLASS).getField("INSTANCE").get(null);
      HexFormat hex = HexFormat.of();
      byte[] key =
          hex.parseHex(
              "2718281828459045235360287471352662497757247093699959574966967627"
                  + "3141592653589793238462643383279502884197169399375105820974944592");
      AccpXts x = new AccpXts(Cipher.getInstance("AES/XTS/NoPadding", p), key);
      byte[] data = new byte[512];
      for (int i = 0; i < data.length; i++) {
        data[i] = (byte) i;
      }
      byte[] iv = new byte[16];
      iv[0] = (byte) 0xff;
      x.crypt(true, iv, 0, data, 0, 512);
      boolean ok =
          hex.formatHex(data, 0, 32)
              .equals("1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b");
      x.crypt(false, iv, 0, data, 0, 512);
      for (int i = 0; i < data.length; i++) {
        ok &= data[i] == (byte) i;
      }
      x.wipe();
      return ok ? p : null;
    } catch (ReflectiveOperationException
        | GeneralSecurityException
        | LinkageError
        | RuntimeException e) {
      return null; // not on the class path, or its native library does not load here
    }
  }

  /**
   * En- or decrypts {@code len} bytes of {@code buf} from {@code off} in place, as one XTS data
   * unit whose tweak (before the tweak key) is the 16 bytes of {@code iv} from {@code ivOff}.
   */
  void crypt(boolean encrypt, byte[] iv, int ivOff, byte[] buf, int off, int len) {
    System.arraycopy(iv, ivOff, tweak, 0, 16);
    int mode = encrypt ? Cipher.ENCRYPT_MODE : Cipher.DECRYPT_MODE;
    try {
      try {
        cipher.init(mode, key, new IvParameterSpec(tweak));
      } catch (InvalidAlgorithmParameterException reused) {
        // the provider refuses to encrypt twice in a row under one tweak (a sector written
        // twice): a decryption init in between resets that check
        cipher.init(Cipher.DECRYPT_MODE, key, new IvParameterSpec(tweak));
        cipher.init(mode, key, new IvParameterSpec(tweak));
      }
      cipher.doFinal(buf, off, len, buf, off);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("AES/XTS/NoPadding of the Corretto provider failed", e);
    }
  }

  void wipe() {
    key.wipe();
    Arrays.fill(tweak, (byte) 0);
  }

  /**
   * The key without the copy {@code SecretKeySpec.getEncoded()} makes on every call (the provider
   * asks for it at every init and copies it itself).
   */
  private static final class RawKey implements SecretKey {
    private static final long serialVersionUID = 1L;
    private final byte[] key;

    RawKey(byte[] key) {
      this.key = key;
    }

    @Override
    public String getAlgorithm() {
      return "AES";
    }

    @Override
    public String getFormat() {
      return "RAW";
    }

    @Override
    public byte[] getEncoded() {
      return key;
    }

    void wipe() {
      Arrays.fill(key, (byte) 0);
    }

    @Override
    public boolean isDestroyed() {
      return false;
    }
  }
}
