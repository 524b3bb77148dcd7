package io.jdm.crypto.luks;

import io.jdm.core.BlockDevice;
import io.jdm.core.DeviceMapper;
import io.jdm.core.FileBlockDevice;
import io.jdm.core.MappedDevice;
import io.jdm.core.TableSpec;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import org.bouncycastle.crypto.Digest;

/**
 * cryptsetup's plain mode ({@code cryptsetup open --type plain}, {@code lib/crypt_plain.c}): no
 * header; the key is the passphrase hashed ({@code crypt_plain_hash}: the hash, then the hash of
 * {@code "A" + passphrase}, {@code "AA" + passphrase}... until the key is filled, as hashalot did),
 * or the passphrase's first bytes with the hash {@code plain} (cryptsetup's choice for a key file).
 * The mapping is {@code 0 <size> crypt <cipher> <key> <skip> <device> <offset>}, with dm uuid
 * {@code CRYPT-PLAIN-<name>}.
 *
 * <p>cryptsetup 2.6's defaults: {@code aes-cbc-essiv:sha256}, 256-bit key, {@code ripemd160}.
 */
public final class PlainMode {
  /** cryptsetup 2.6's default plain cipher. */
  public static final String DEFAULT_CIPHER = "aes-cbc-essiv:sha256";

  /** cryptsetup 2.6's default plain key size in bits. */
  public static final int DEFAULT_KEY_BITS = 256;

  /** cryptsetup 2.6's default plain passphrase hash. */
  public static final String DEFAULT_HASH = "ripemd160";

  private PlainMode() {}

  /**
   * What {@code open --type plain} takes besides the passphrase.
   *
   * @param cipher {@code aes-cbc-essiv:sha256} and the like
   * @param keyBits key size in bits
   * @param hash {@code ripemd160}, {@code sha256}, {@code hash:bytes} (hash that many bytes, zero
   *     the rest) or {@code plain} (the passphrase's bytes)
   * @param offset where the data starts on the device, in 512-byte sectors ({@code --offset})
   * @param skip the IV offset in 512-byte sectors ({@code --skip})
   * @param size sectors to map; 0 for the rest of the device ({@code --size})
   * @param sectorSize the encryption sector size, 512 to 4096 ({@code --sector-size})
   * @param readOnly map read-only ({@code --readonly})
   * @param allowDiscards pass discards down ({@code --allow-discards})
   */
  public record Options(
      String cipher,
      int keyBits,
      String hash,
      long offset,
      long skip,
      long size,
      int sectorSize,
      boolean readOnly,
      boolean allowDiscards) {
    /** Checks what cryptsetup checks before it reads a key. */
    public Options {
      Objects.requireNonNull(cipher, "cipher");
      Objects.requireNonNull(hash, "hash");
      if (keyBits <= 0 || keyBits % 8 != 0) {
        throw new IllegalArgumentException("Key size must be a multiple of 8 bits");
      }
      if (sectorSize < 512 || sectorSize > 4096 || Integer.bitCount(sectorSize) != 1) {
        throw new IllegalArgumentException("Unsupported encryption sector size.");
      }
      if (offset < 0 || skip < 0 || size < 0) {
        throw new IllegalArgumentException(
            "offset " + offset + ", skip " + skip + ", size " + size + " (expected: >= 0)");
      }
    }

    /** cryptsetup's defaults. */
    public static Options defaults() {
      return new Options(
          DEFAULT_CIPHER, DEFAULT_KEY_BITS, DEFAULT_HASH, 0, 0, 0, 512, false, false);
    }
  }

  /**
   * {@code crypt_plain_hash}: the key of {@code keyBytes} bytes for {@code passphrase} under {@code
   * hashSpec}.
   *
   * @throws IllegalArgumentException for an unknown hash, a {@code :length} longer than the key, or
   *     a {@code plain} passphrase shorter than the key
   */
  public static byte[] key(String hashSpec, byte[] passphrase, int keyBytes) {
    String name = hashSpec;
    int hashBytes = keyBytes;
    int colon = hashSpec.indexOf(':');
    if (colon >= 0) {
      name = hashSpec.substring(0, colon);
      try {
        hashBytes = Integer.parseInt(hashSpec.substring(colon + 1));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("hash " + hashSpec + ": length is not a number", e);
      }
      if (hashBytes < 0 || hashBytes > keyBytes) {
        throw new IllegalArgumentException(
            "hash " + hashSpec + ": length " + hashBytes + " > key length " + keyBytes);
      }
    }
    byte[] key = new byte[keyBytes];
    if (name.equals("plain")) {
      if (passphrase.length < hashBytes) {
        throw new IllegalArgumentException(
            "plain passphrase of " + passphrase.length + " bytes is shorter than " + hashBytes);
      }
      System.arraycopy(passphrase, 0, key, 0, hashBytes);
      return key;
    }
    Digest d = Hashes.create(name.toLowerCase(Locale.ROOT));
    if (d == null) {
      throw new IllegalArgumentException("hash " + name + " is not supported");
    }
    byte[] out = new byte[d.getDigestSize()];
    try {
      int pos = 0;
      for (int round = 0; pos < hashBytes; round++) {
        for (int i = 0; i < round; i++) {
          d.update((byte) 'A');
        }
        d.update(passphrase, 0, passphrase.length);
        d.doFinal(out, 0);
        int n = Math.min(out.length, hashBytes - pos);
        System.arraycopy(out, 0, key, pos, n);
        pos += n;
      }
    } finally {
      Arrays.fill(out, (byte) 0);
    }
    return key;
  }

  /**
   * The table line for a plain mapping of {@code key} over {@code devicePath}, whose size is {@code
   * deviceSectors}.
   *
   * @throws IllegalArgumentException with cryptsetup's texts when the offset is past the end or the
   *     size is not a multiple of the sector size
   */
  public static String table(byte[] key, String devicePath, long deviceSectors, Options o) {
    long size = o.size();
    if (size == 0) {
      if (o.offset() >= deviceSectors) {
        throw new IllegalArgumentException(
            "Requested offset is beyond real size of device " + devicePath + ".");
      }
      size = deviceSectors - o.offset();
    } else if (o.offset() + size > deviceSectors) {
      throw new IllegalArgumentException("Device " + devicePath + " is too small.");
    }
    if (size % (o.sectorSize() / 512) != 0) {
      throw new IllegalArgumentException("Device size is not aligned to requested sector size.");
    }
    StringBuilder sb =
        new StringBuilder("0 ")
            .append(size)
            .append(" crypt ")
            .append(o.cipher())
            .append(' ')
            .append(HexFormat.of().formatHex(key))
            .append(' ')
            .append(o.skip())
            .append(' ')
            .append(devicePath)
            .append(' ')
            .append(o.offset());
    int n = (o.allowDiscards() ? 1 : 0) + (o.sectorSize() != 512 ? 1 : 0);
    if (n > 0) {
      sb.append(' ').append(n);
      if (o.allowDiscards()) {
        sb.append(" allow_discards");
      }
      if (o.sectorSize() != 512) {
        sb.append(" sector_size:").append(o.sectorSize());
      }
    }
    return sb.toString();
  }

  /**
   * Creates {@code name}, a plain mapping over {@code devicePath} (a mapped device's name or {@code
   * /dev/mapper/NAME}, else a file or block device), with the key {@link #key} makes of {@code
   * passphrase}; the key is wiped before this returns.
   */
  public static MappedDevice activate(
      DeviceMapper dm, String name, String devicePath, byte[] passphrase, Options o)
      throws IOException {
    Objects.requireNonNull(dm, "dm");
    Objects.requireNonNull(name, "name");
    String mapped =
        devicePath.startsWith("/dev/mapper/")
            ? devicePath.substring("/dev/mapper/".length())
            : devicePath;
    long sectors;
    Optional<MappedDevice> m = dm.find(mapped);
    if (m.isPresent()) {
      sectors = m.get().sectors();
    } else {
      try (BlockDevice f = FileBlockDevice.builder(Path.of(devicePath)).readOnly(true).open()) {
        sectors = f.sectors();
      }
    }
    byte[] key = key(o.hash(), passphrase, o.keyBits() / 8);
    try {
      String table = table(key, devicePath, sectors, o);
      String uuid = "CRYPT-PLAIN-" + name;
      return dm.create(
          name,
          uuid.length() <= DeviceMapper.MAX_UUID ? uuid : null,
          TableSpec.parse(table),
          o.readOnly());
    } finally {
      Arrays.fill(key, (byte) 0);
    }
  }
}
