package io.jdm.crypto.engine;

import java.security.GeneralSecurityException;
import java.util.Arrays;
import javax.crypto.Cipher;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.crypto.BlockCipher;
import org.bouncycastle.crypto.engines.AESEngine;
import org.bouncycastle.crypto.engines.SerpentEngine;
import org.bouncycastle.crypto.engines.TwofishEngine;
import org.bouncycastle.crypto.params.KeyParameter;

/**
 * A 128-bit block cipher under one key, in ECB over runs of whole blocks: the primitive every chain
 * mode is built on. Not thread-safe: each thread uses its own (see {@link SectorCiphers}).
 */
abstract class BlockEngine {
  static final int BLOCK = 16;

  /** Encrypts {@code len} bytes (a multiple of 16) from {@code in} to {@code out}; may overlap. */
  abstract void encrypt(byte[] in, int inOff, byte[] out, int outOff, int len);

  abstract void decrypt(byte[] in, int inOff, byte[] out, int outOff, int len);

  /** Forgets the key as far as the implementation allows. */
  abstract void wipe();

  /** The block ciphers jdm has: AES through the JDK (AES-NI), Serpent and Twofish through BC. */
  static boolean known(String cipher) {
    return cipher.equals("aes") || cipher.equals("serpent") || cipher.equals("twofish");
  }

  /** Key lengths the cipher takes: 16, 24 or 32 bytes for all three. */
  static boolean validKeyLength(String cipher, int length) {
    return length == 16 || length == 24 || length == 32;
  }

  static BlockEngine create(String cipher, byte[] key, int off, int len) {
    switch (cipher) {
      case "aes":
        return new Jce(key, off, len);
      case "serpent":
        return new Bc(new SerpentEngine(), key, off, len);
      case "twofish":
        return new Bc(new TwofishEngine(), key, off, len);
      case "aes-bc": // the reference for tests
        return new Bc(AESEngine.newInstance(), key, off, len);
      default:
        throw new IllegalArgumentException("unknown cipher " + cipher);
    }
  }

  /** AES through {@code AES/ECB/NoPadding}, which HotSpot compiles to AES-NI. */
  static final class Jce extends BlockEngine {
    private final Cipher enc;
    private final Cipher dec;
    private byte[] scratch = new byte[16];

    Jce(byte[] key, int off, int len) {
      try {
        SecretKeySpec k = new SecretKeySpec(key, off, len, "AES");
        enc = Cipher.getInstance("AES/ECB/NoPadding");
        enc.init(Cipher.ENCRYPT_MODE, k);
        dec = Cipher.getInstance("AES/ECB/NoPadding");
        dec.init(Cipher.DECRYPT_MODE, k);
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("the JDK has no AES/ECB/NoPadding", e);
      }
    }

    @Override
    void encrypt(byte[] in, int inOff, byte[] out, int outOff, int len) {
      run(enc, in, inOff, out, outOff, len);
    }

    @Override
    void decrypt(byte[] in, int inOff, byte[] out, int outOff, int len) {
      run(dec, in, inOff, out, outOff, len);
    }

    /**
     * The JDK copies the input of an overlapping (in-place) update into a new array; jdm goes
     * through its own scratch instead, so no call allocates.
     */
    private void run(Cipher c, byte[] in, int inOff, byte[] out, int outOff, int len) {
      try {
        if (in == out && outOff < inOff + len && inOff < outOff + len) {
          if (scratch.length < len) {
            scratch = new byte[Math.max(len, 2 * scratch.length)];
          }
          c.update(in, inOff, len, scratch, 0);
          System.arraycopy(scratch, 0, out, outOff, len);
        } else {
          c.update(in, inOff, len, out, outOff);
        }
      } catch (ShortBufferException e) {
        throw new IllegalStateException(e);
      }
    }

    @Override
    void wipe() {
      Arrays.fill(scratch, (byte) 0);
      SecretKeySpec zero = new SecretKeySpec(new byte[16], "AES");
      try {
        enc.init(Cipher.ENCRYPT_MODE, zero);
        dec.init(Cipher.DECRYPT_MODE, zero);
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException(e);
      }
    }
  }

  /** A Bouncy Castle lightweight engine, one block at a time. */
  static final class Bc extends BlockEngine {
    private final BlockCipher enc;
    private final BlockCipher dec;
    private final byte[] keyCopy;

    Bc(BlockCipher engine, byte[] key, int off, int len) {
      this.keyCopy = Arrays.copyOfRange(key, off, off + len);
      this.enc = engine;
      this.dec = fresh(engine);
      enc.init(true, new KeyParameter(keyCopy));
      dec.init(false, new KeyParameter(keyCopy));
    }

    private static BlockCipher fresh(BlockCipher like) {
      if (like instanceof SerpentEngine) {
        return new SerpentEngine();
      }
      if (like instanceof TwofishEngine) {
        return new TwofishEngine();
      }
      return AESEngine.newInstance();
    }

    @Override
    void encrypt(byte[] in, int inOff, byte[] out, int outOff, int len) {
      for (int i = 0; i < len; i += BLOCK) {
        enc.processBlock(in, inOff + i, out, outOff + i);
      }
    }

    @Override
    void decrypt(byte[] in, int inOff, byte[] out, int outOff, int len) {
      for (int i = 0; i < len; i += BLOCK) {
        dec.processBlock(in, inOff + i, out, outOff + i);
      }
    }

    @Override
    void wipe() {
      Arrays.fill(keyCopy, (byte) 0);
      enc.init(true, new KeyParameter(keyCopy));
      dec.init(false, new KeyParameter(keyCopy));
    }
  }
}
