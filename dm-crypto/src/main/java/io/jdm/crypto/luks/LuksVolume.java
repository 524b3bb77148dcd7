package io.jdm.crypto.luks;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;

/**
 * An opened LUKS container: the volume key, the keyslot that gave it, and the data segment, with
 * the {@code crypt} table line cryptsetup would load for it ({@code lib/libdevmapper.c}, {@code
 * get_dm_crypt_params}):
 *
 * <pre>
 * 0 &lt;size&gt; crypt &lt;cipher&gt; &lt;hex key&gt; &lt;iv_tweak&gt; &lt;device&gt; &lt;offset&gt; [&lt;#opt&gt; &lt;opt&gt;...]
 * </pre>
 *
 * with the size and offset in 512-byte sectors, the LUKS2 {@code config.flags} as {@code
 * allow_discards} and the like, and {@code sector_size:N} when the segment's sector size is not
 * 512. Like cryptsetup, jdm adds no {@code iv_large_sectors} for LUKS: with 4 KiB sectors the IV of
 * the {@code k}-th 4 KiB sector is {@code iv_tweak + 8k}.
 *
 * <p>{@link #close()} wipes the key; the methods that need it throw {@link IllegalStateException}
 * afterwards. Not thread-safe against a concurrent {@code close}.
 */
public final class LuksVolume implements AutoCloseable {
  private final int version;
  private final String uuid;
  private final int keyslot;
  private final String cipher;
  private final long offsetSectors;
  private final long sizeSectors;
  private final int sectorSize;
  private final long ivTweak;
  private final List<String> options;
  private final byte[] key;
  private boolean closed;

  LuksVolume(
      int version,
      String uuid,
      int keyslot,
      String cipher,
      long offsetSectors,
      long sizeSectors,
      int sectorSize,
      long ivTweak,
      List<String> options,
      byte[] key) {
    this.version = version;
    this.uuid = uuid;
    this.keyslot = keyslot;
    this.cipher = cipher;
    this.offsetSectors = offsetSectors;
    this.sizeSectors = sizeSectors;
    this.sectorSize = sectorSize;
    this.ivTweak = ivTweak;
    this.options = List.copyOf(options);
    this.key = key;
  }

  /** 1 or 2. */
  public int version() {
    return version;
  }

  /** The container's UUID, as {@code cryptsetup luksUUID} prints it. */
  public String uuid() {
    return uuid;
  }

  /** The keyslot the passphrase opened (0 after {@link Luks#format}). */
  public int keyslot() {
    return keyslot;
  }

  /** The data cipher: {@code aes-xts-plain64}. */
  public String cipher() {
    return cipher;
  }

  /** Where the data starts, in 512-byte sectors. */
  public long offsetSectors() {
    return offsetSectors;
  }

  /** The data segment's size in 512-byte sectors (the table line's length). */
  public long sizeSectors() {
    return sizeSectors;
  }

  /** The encryption sector size: 512 to 4096. */
  public int sectorSize() {
    return sectorSize;
  }

  /** The IV offset ({@code iv_tweak}) in 512-byte sectors. */
  public long ivTweak() {
    return ivTweak;
  }

  /** Bytes in the volume key. */
  public int keySize() {
    ensureOpen();
    return key.length;
  }

  /** A copy of the volume key; wipe it when done. */
  public byte[] volumeKey() {
    ensureOpen();
    return key.clone();
  }

  /** The table line that maps the data of the container on {@code devicePath}. */
  public String table(String devicePath) {
    return table(devicePath, false);
  }

  /**
   * The table line, with {@code allow_discards} among the options if {@code allowDiscards} ({@code
   * cryptsetup open --allow-discards}) or the header's flags ask for it.
   */
  public String table(String devicePath, boolean allowDiscards) {
    List<String> options = this.options;
    if (allowDiscards && !options.contains("allow_discards")) {
      List<String> l = new java.util.ArrayList<>(options.size() + 1);
      l.add("allow_discards"); // first, in get_dm_crypt_params' order
      l.addAll(options);
      options = l;
    }
    Objects.requireNonNull(devicePath, "devicePath");
    ensureOpen();
    StringBuilder sb =
        new StringBuilder()
            .append("0 ")
            .append(sizeSectors)
            .append(" crypt ")
            .append(cipher)
            .append(' ')
            .append(HexFormat.of().formatHex(key))
            .append(' ')
            .append(Long.toUnsignedString(ivTweak))
            .append(' ')
            .append(devicePath)
            .append(' ')
            .append(offsetSectors);
    if (!options.isEmpty()) {
      sb.append(' ').append(options.size());
      for (String o : options) {
        sb.append(' ').append(o);
      }
    }
    return sb.toString();
  }

  /** The dm uuid cryptsetup gives the mapping: {@code CRYPT-LUKS2-<uuid without dashes>-<name>}. */
  public String dmUuid(String name) {
    return "CRYPT-LUKS" + version + "-" + uuid.replace("-", "") + "-" + name;
  }

  /**
   * Creates the mapped device {@code name} over {@code devicePath} ({@link #table}), with
   * cryptsetup's dm uuid when it fits.
   */
  public MappedDevice activate(DeviceMapper dm, String name, String devicePath) {
    return activate(dm, name, devicePath, false, false);
  }

  /**
   * {@link #activate(DeviceMapper, String, String)} read-only ({@code cryptsetup open --readonly})
   * and with discards passed down ({@code --allow-discards}) if asked.
   */
  public MappedDevice activate(
      DeviceMapper dm, String name, String devicePath, boolean readOnly, boolean allowDiscards) {
    String dmUuid = dmUuid(name);
    String table = table(devicePath, allowDiscards);
    return dm.create(
        name,
        dmUuid.length() <= DeviceMapper.MAX_UUID ? dmUuid : null,
        io.jdm.core.TableSpec.parse(table),
        readOnly);
  }

  /** Wipes the key. Idempotent. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      Arrays.fill(key, (byte) 0);
    }
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("LUKS volume " + uuid + " is closed (its key is wiped)");
    }
  }

  @Override
  public String toString() {
    return "LUKS"
        + version
        + " "
        + uuid
        + " keyslot "
        + keyslot
        + " "
        + cipher
        + " offset "
        + offsetSectors
        + " size "
        + sizeSectors
        + " sector_size "
        + sectorSize;
  }
}
