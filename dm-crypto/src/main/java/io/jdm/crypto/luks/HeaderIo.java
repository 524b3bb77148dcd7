package io.jdm.crypto.luks;

import io.jdm.core.BlockDevice;
import io.jdm.crypto.engine.CipherSpec;
import io.jdm.crypto.engine.SectorCipher;
import io.jdm.crypto.engine.SectorCiphers;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Byte-range I/O on a device for headers and keyslot areas (any alignment, through {@link
 * BlockDevice#asFileChannel()}), and the keyslot-area cipher shared by LUKS1 and LUKS2.
 */
final class HeaderIo {
  private HeaderIo() {}

  /**
   * Reads {@code length} bytes at {@code pos}.
   *
   * @param what the structure being read, for the message if the device ends first
   */
  static byte[] read(BlockDevice dev, long pos, int length, String what) throws IOException {
    if (pos < 0 || pos + length > dev.size()) {
      throw new LuksException(
          what
              + ": bytes "
              + pos
              + " to "
              + (pos + length)
              + " are outside the device "
              + dev.name()
              + " ("
              + dev.size()
              + " bytes)");
    }
    byte[] out = new byte[length];
    ByteBuffer b = ByteBuffer.wrap(out);
    // closed: the view of a mapped device holds it open
    try (FileChannel ch = dev.asFileChannel()) {
      while (b.hasRemaining()) {
        int n = ch.read(b, pos + b.position());
        if (n < 0) {
          throw new LuksException(what + ": device " + dev.name() + " ended at " + b.position());
        }
      }
    }
    return out;
  }

  /** Writes {@code data} at {@code pos}. */
  static void write(BlockDevice dev, long pos, byte[] data, String what) throws IOException {
    if (pos < 0 || pos + data.length > dev.size()) {
      throw new LuksException(
          what
              + ": bytes "
              + pos
              + " to "
              + (pos + data.length)
              + " are outside the device "
              + dev.name()
              + " ("
              + dev.size()
              + " bytes)");
    }
    ByteBuffer b = ByteBuffer.wrap(data);
    try (FileChannel ch = dev.asFileChannel()) {
      while (b.hasRemaining()) {
        ch.write(b, pos + b.position());
      }
    }
  }

  /**
   * Fills {@code length} bytes at {@code pos} with zeros ({@code random == null}) or random: the
   * AES-256-CTR keystream under a key and initial counter drawn from {@code random}: data no one
   * can tell from random without that key, which is wiped at once. ({@code SecureRandom} itself
   * took 0.4 s of CPU time for the 16 MiB keyslots area of a LUKS2 format, a fifth of the whole
   * format with cryptsetup's default Argon2 costs; AES-CTR takes milliseconds.)
   */
  static void wipe(BlockDevice dev, long pos, long length, SecureRandom random, String what)
      throws IOException {
    byte[] chunk = new byte[(int) Math.min(length, 1 << 20)];
    Cipher ctr = random == null ? null : randomStream(random);
    try {
      for (long done = 0; done < length; ) {
        int n = (int) Math.min(chunk.length, length - done);
        byte[] part = n == chunk.length ? chunk : new byte[n];
        if (ctr != null) {
          Arrays.fill(part, (byte) 0);
          try {
            ctr.update(part, 0, n, part, 0);
          } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-CTR over " + n + " bytes", e);
          }
        }
        write(dev, pos + done, part, what);
        done += n;
      }
    } finally {
      Arrays.fill(chunk, (byte) 0);
    }
  }

  /** AES-256 in CTR mode under a random key and initial counter. */
  private static Cipher randomStream(SecureRandom random) {
    byte[] key = new byte[32];
    byte[] iv = new byte[16];
    random.nextBytes(key);
    random.nextBytes(iv);
    try {
      Cipher c = Cipher.getInstance("AES/CTR/NoPadding");
      c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new IvParameterSpec(iv));
      return c;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("AES/CTR/NoPadding is missing from this JDK", e);
    } finally {
      Arrays.fill(key, (byte) 0);
    }
  }

  /**
   * Decrypts ({@code encrypt == false}) or encrypts keyslot material in place with {@code cipher}
   * under {@code key}: 512-byte sectors, IV sector 0 at the start of the area, as cryptsetup's
   * {@code LUKS2_keyslot_... / LUKS_decrypt_from_storage} do through a temporary dm-crypt mapping.
   */
  static void cryptArea(String cipher, byte[] key, byte[] data, boolean encrypt, String where)
      throws LuksException {
    SectorCipher c;
    try {
      c = SectorCiphers.create(CipherSpec.parse(cipher), key, 512, false);
    } catch (IllegalArgumentException e) {
      throw new LuksException(
          where
              + ": keyslot cipher "
              + cipher
              + " with a "
              + key.length
              + "-byte key: "
              + e.getMessage(),
          e);
    }
    try (c) {
      ByteBuffer b = ByteBuffer.wrap(data);
      if (encrypt) {
        c.encrypt(b, 0, data.length / 512, 0);
      } else {
        c.decrypt(b, 0, data.length / 512, 0);
      }
    }
  }

  /** Constant-time comparison. */
  static boolean equal(byte[] a, byte[] b) {
    return MessageDigest.isEqual(a, b);
  }

  static void wipe(byte[] secret) {
    if (secret != null) {
      Arrays.fill(secret, (byte) 0);
    }
  }

  static long alignUp(long v, long a) {
    return (v + a - 1) / a * a;
  }
}
