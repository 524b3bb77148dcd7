package io.jdm.crypto.luks;

import io.jdm.core.BlockDevice;
import io.jdm.core.DeviceMapper;
import io.jdm.core.FileBlockDevice;
import io.jdm.core.MappedDevice;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;

/**
 * LUKS1 and LUKS2 containers as cryptsetup 2.6 reads and writes them: open one with a passphrase
 * ({@code cryptsetup open}), format one ({@code luksFormat}), add, remove and change keyslots
 * ({@code luksAddKey}, {@code luksKillSlot}/{@code luksRemoveKey}, {@code luksChangeKey}).
 *
 * <p>Passphrases are bytes, used as given, as cryptsetup uses the bytes of a key file; for text use
 * {@link #passphrase(char[])}, which encodes UTF-8 as a terminal would. Callers should wipe their
 * passphrase arrays; jdm wipes every key it derives.
 *
 * <p>Errors:
 *
 * <ul>
 *   <li>{@link LuksPassphraseException} ({@value LuksPassphraseException#MESSAGE}) when no keyslot
 *       opens with the passphrase;
 *   <li>{@link LuksException} for a device that is not LUKS, headers that break a rule (the message
 *       names the header offset or JSON path, and the rule), keyslots that cannot be used (unknown
 *       KDF, unreasonable Argon2 memory, area outside the device);
 *   <li>{@link io.jdm.core.BlockIOException} and other {@link IOException}s for I/O failures;
 *   <li>{@link InterruptedIOException} ({@code key derivation interrupted}) when the calling thread
 *       is interrupted while a method derives keys (PBKDF2 or Argon2, which a hostile header can
 *       make last years); the derivation stops within a millisecond or so, the interrupt flag stays
 *       set, and nothing has been written: every method derives all it needs before its first
 *       write;
 *   <li>{@link LuksException} naming the keyslot, its key derivation and costs, and the limit
 *       ({@code LUKS2 keyslot 0: argon2id (time 2147483647, memory 1048576 KiB, 4 threads) did not
 *       finish within 30 s}) when a time limit given to {@link #open(BlockDevice, byte[], int,
 *       Duration)} or {@link #activate(DeviceMapper, String, String, byte[], Duration)} passes;
 *   <li>{@link IllegalArgumentException} for bad options or keyslot numbers.
 * </ul>
 *
 * <p>Thread model: the static methods keep no state; Argon2 derives on up to {@code min(parallel,
 * availableProcessors)} threads of its own, all ended when the method returns or throws. Two
 * operations that change the same container at once can lose each other's keyslot, as two
 * cryptsetup processes without their lock would. Header writes are not atomic against a crash
 * beyond what LUKS2's two copies give.
 */
public final class Luks {
  private Luks() {}

  /** The UTF-8 bytes of {@code passphrase}. */
  public static byte[] passphrase(char[] passphrase) {
    ByteBuffer b = StandardCharsets.UTF_8.encode(CharBuffer.wrap(passphrase));
    byte[] out = new byte[b.remaining()];
    b.get(out);
    if (b.hasArray()) {
      Arrays.fill(b.array(), (byte) 0);
    }
    return out;
  }

  /**
   * The LUKS version of the container on {@code device}: 1 or 2; 0 if there is no LUKS magic at 0
   * (a LUKS2 container whose primary header is damaged still answers 2 when {@link #open} would
   * find its secondary header).
   */
  public static int version(BlockDevice device) throws IOException {
    if (device.size() < 8) {
      return 0;
    }
    byte[] b = HeaderIo.read(device, 0, 8, "LUKS header at offset 0");
    if (Arrays.equals(b, 0, 6, Luks1.MAGIC, 0, 6)) {
      int v = ((b[6] & 0xFF) << 8) | (b[7] & 0xFF);
      return v == 1 || v == 2 ? v : 0;
    }
    try {
      Luks2.read(device);
      return 2;
    } catch (LuksException e) {
      return 0;
    }
  }

  /** A header, LUKS1 or LUKS2. */
  private record Header(Luks1 luks1, Luks2 luks2) {}

  private static Header read(BlockDevice device) throws IOException {
    Objects.requireNonNull(device, "device");
    if (device.size() < Luks1.HEADER_SIZE) {
      throw new LuksException(
          "LUKS header at offset 0: device "
              + device.name()
              + " is only "
              + device.size()
              + " bytes (truncated?)");
    }
    Header h = parse(device);
    // LUKS_check_device_size / LUKS2_check_device_size: headers and keyslot areas must fit
    long need = h.luks1() != null ? h.luks1().deviceBytes() : h.luks2().deviceBytes();
    if (device.size() < need) {
      // cryptsetup 2.6's texts, which differ between the two
      throw new LuksException(
          "Device "
              + device.name()
              + (h.luks1() != null
                  ? " is too small. (LUKS1 requires at least " + need + " bytes.)"
                  : " is too small. Need at least " + need + " bytes."));
    }
    return h;
  }

  private static Header parse(BlockDevice device) throws IOException {
    byte[] b = HeaderIo.read(device, 0, 8, "LUKS header at offset 0");
    if (Arrays.equals(b, 0, 6, Luks1.MAGIC, 0, 6)) {
      int v = ((b[6] & 0xFF) << 8) | (b[7] & 0xFF);
      if (v == 1) {
        return new Header(Luks1.read(device), null);
      }
      if (v != 2) {
        throw new LuksException("LUKS header at offset 0: version " + v + " (expected: 1 or 2)");
      }
      return new Header(null, Luks2.read(device));
    }
    try {
      return new Header(null, Luks2.read(device)); // the secondary header may be intact
    } catch (LuksException e) {
      throw new LuksException(
          "device " + device.name() + " is not a LUKS device: " + e.getMessage(), e);
    }
  }

  /**
   * Opens the container on {@code device} with any keyslot, as {@code cryptsetup open} does (LUKS2:
   * keyslots of priority high first, then normal; priority 0 only when named).
   *
   * @return the volume; close it to wipe the key
   * @throws LuksPassphraseException if no keyslot opens
   */
  public static LuksVolume open(BlockDevice device, byte[] passphrase) throws IOException {
    return open(device, passphrase, -1);
  }

  /**
   * Opens the container with keyslot {@code keyslot} only ({@code --key-slot}), or any if it is
   * negative.
   */
  public static LuksVolume open(BlockDevice device, byte[] passphrase, int keyslot)
      throws IOException {
    return open(device, passphrase, keyslot, (Duration) null);
  }

  /**
   * Opens the container with keyslot {@code keyslot}, or any if it is negative, giving up once key
   * derivation has taken {@code kdfTimeLimit}. The limit counts from the call and covers all of its
   * key derivation: every keyslot tried, with its volume key digest check. A daemon that opens
   * containers for clients should pass one, so that a header asking for years of PBKDF2 or Argon2
   * work cannot hold a thread and a CPU; cryptsetup's own keyslots take about 2 s on the machine
   * that wrote them.
   *
   * @param kdfTimeLimit the longest key derivation may take; {@code null} for no limit
   * @throws LuksException once the limit is reached, naming the keyslot, its key derivation and
   *     costs, and the limit: {@code LUKS2 keyslot 0: argon2id (time 2147483647, memory 1048576
   *     KiB, 4 threads) did not finish within 30 s}; no later keyslot is tried
   * @throws InterruptedIOException if the calling thread is interrupted; its flag stays set
   * @throws IllegalArgumentException if {@code kdfTimeLimit} is negative
   */
  public static LuksVolume open(
      BlockDevice device, byte[] passphrase, int keyslot, Duration kdfTimeLimit)
      throws IOException {
    return open(device, passphrase, keyslot, KdfLimit.start(kdfTimeLimit));
  }

  private static LuksVolume open(BlockDevice device, byte[] passphrase, int keyslot, KdfLimit limit)
      throws IOException {
    Objects.requireNonNull(passphrase, "passphrase");
    Header h = read(device);
    checkSlot(keyslot, h.luks1 != null ? Luks1.SLOTS : Luks2.KEYSLOTS_MAX);
    checkInUse(h, keyslot);
    Unlocked u =
        h.luks1 != null
            ? h.luks1.unlock(device, passphrase, keyslot, limit)
            : h.luks2.unlock(device, passphrase, keyslot, limit);
    try {
      return h.luks1 != null ? h.luks1.volume(device, u) : h.luks2.volume(device, u);
    } catch (LuksException e) {
      HeaderIo.wipe(u.key());
      throw e;
    }
  }

  /** cryptsetup's {@code -ENOENT} when the keyslot named is free. */
  private static void checkInUse(Header h, int keyslot) throws LuksException {
    if (keyslot >= 0
        && (h.luks1 != null
            ? !h.luks1.slots[keyslot].active
            : !h.luks2.keyslots.containsKey(keyslot))) {
      throw new LuksException("No usable keyslot is available.");
    }
  }

  private static void checkSlot(int keyslot, int max) {
    if (keyslot >= max) {
      throw new IllegalArgumentException(
          "keyslot " + keyslot + " (expected: 0 <= keyslot < " + max + ", or -1 for any)");
    }
  }

  /**
   * Opens the container on {@code devicePath} and creates the mapped device {@code name} over it
   * ({@code cryptsetup open devicePath name}). {@code devicePath} is read where the device mapper
   * would find it: a mapped device's name or {@code /dev/mapper/NAME}, else a file or block device,
   * opened read-only for the header. A device given to {@link DeviceMapper#registerDevice} needs
   * {@link #activate(DeviceMapper, String, BlockDevice, String, byte[])}.
   */
  public static MappedDevice activate(
      DeviceMapper dm, String name, String devicePath, byte[] passphrase) throws IOException {
    return activate(dm, name, devicePath, passphrase, (Duration) null);
  }

  /**
   * {@link #activate(DeviceMapper, String, String, byte[])}, giving up once key derivation has
   * taken {@code kdfTimeLimit}, as {@link #open(BlockDevice, byte[], int, Duration)} does; nothing
   * is created then.
   *
   * @param kdfTimeLimit the longest key derivation may take, counted from the call; {@code null}
   *     for no limit
   * @throws LuksException once the limit is reached, naming the keyslot, its key derivation and
   *     costs, and the limit
   * @throws InterruptedIOException if the calling thread is interrupted; its flag stays set
   * @throws IllegalArgumentException if {@code kdfTimeLimit} is negative
   */
  public static MappedDevice activate(
      DeviceMapper dm, String name, String devicePath, byte[] passphrase, Duration kdfTimeLimit)
      throws IOException {
    KdfLimit limit = KdfLimit.start(kdfTimeLimit);
    Objects.requireNonNull(devicePath, "devicePath");
    String mapped =
        devicePath.startsWith("/dev/mapper/")
            ? devicePath.substring("/dev/mapper/".length())
            : devicePath;
    Optional<MappedDevice> m = dm.find(mapped);
    if (m.isPresent()) {
      return activate(dm, name, m.get(), devicePath, passphrase, limit);
    }
    try (FileBlockDevice f = FileBlockDevice.builder(Path.of(devicePath)).readOnly(true).open()) {
      return activate(dm, name, f, devicePath, passphrase, limit);
    }
  }

  /**
   * What {@code cryptsetup open --type luks} takes besides the passphrase.
   *
   * @param version 1 or 2 to accept only that LUKS version ({@code --type luks1}, {@code luks2}), 0
   *     for either
   * @param keyslot the only keyslot to try ({@code --key-slot}), -1 for any
   * @param readOnly map read-only ({@code --readonly})
   * @param allowDiscards pass discards down ({@code --allow-discards})
   * @param kdfTimeLimit the longest key derivation may take; {@code null} for no limit
   */
  public record ActivateOptions(
      int version, int keyslot, boolean readOnly, boolean allowDiscards, Duration kdfTimeLimit) {
    /** Checks the version. */
    public ActivateOptions {
      if (version < 0 || version > 2) {
        throw new IllegalArgumentException("LUKS version " + version + " (expected: 0, 1 or 2)");
      }
    }

    /** Any version, any keyslot, read-write, no discards, no time limit. */
    public static ActivateOptions defaults() {
      return new ActivateOptions(0, -1, false, false, null);
    }
  }

  /**
   * {@link #activate(DeviceMapper, String, String, byte[], Duration)} with {@code cryptsetup
   * open}'s options.
   *
   * @throws LuksException {@code Device PATH is not a valid LUKS device.} if the container is not
   *     of the version asked for
   */
  public static MappedDevice activate(
      DeviceMapper dm, String name, String devicePath, byte[] passphrase, ActivateOptions o)
      throws IOException {
    KdfLimit limit = KdfLimit.start(o.kdfTimeLimit());
    Objects.requireNonNull(dm, "dm");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(devicePath, "devicePath");
    String mapped =
        devicePath.startsWith("/dev/mapper/")
            ? devicePath.substring("/dev/mapper/".length())
            : devicePath;
    Optional<MappedDevice> m = dm.find(mapped);
    if (m.isPresent()) {
      return activate(dm, name, m.get(), devicePath, passphrase, o, limit);
    }
    try (FileBlockDevice f = FileBlockDevice.builder(Path.of(devicePath)).readOnly(true).open()) {
      return activate(dm, name, f, devicePath, passphrase, o, limit);
    }
  }

  private static MappedDevice activate(
      DeviceMapper dm,
      String name,
      BlockDevice device,
      String devicePath,
      byte[] passphrase,
      ActivateOptions o,
      KdfLimit limit)
      throws IOException {
    if (o.version() != 0 && version(device) != o.version()) {
      throw new LuksException("Device " + devicePath + " is not a valid LUKS device.");
    }
    try (LuksVolume v = open(device, passphrase, o.keyslot(), limit)) {
      return v.activate(dm, name, devicePath, o.readOnly(), o.allowDiscards());
    }
  }

  /**
   * Opens the container on {@code device} and creates the mapped device {@code name} with the table
   * line over {@code devicePath}, the name under which {@code dm} finds the same device.
   */
  public static MappedDevice activate(
      DeviceMapper dm, String name, BlockDevice device, String devicePath, byte[] passphrase)
      throws IOException {
    return activate(dm, name, device, devicePath, passphrase, KdfLimit.none());
  }

  private static MappedDevice activate(
      DeviceMapper dm,
      String name,
      BlockDevice device,
      String devicePath,
      byte[] passphrase,
      KdfLimit limit)
      throws IOException {
    Objects.requireNonNull(dm, "dm");
    Objects.requireNonNull(name, "name");
    try (LuksVolume v = open(device, passphrase, -1, limit)) {
      return v.activate(dm, name, devicePath);
    }
  }

  /**
   * Formats {@code device} as a new container with {@code passphrase} in keyslot 0 ({@code
   * cryptsetup luksFormat}). Everything before the data offset is overwritten: zeros over the
   * header, random over the LUKS2 keyslots area.
   *
   * @return the new volume (keyslot 0); close it to wipe the key
   * @throws LuksException if the device is too small for the layout
   */
  public static LuksVolume format(BlockDevice device, byte[] passphrase, LuksFormatOptions options)
      throws IOException {
    Objects.requireNonNull(device, "device");
    Objects.requireNonNull(passphrase, "passphrase");
    Objects.requireNonNull(options, "options");
    if (device.isReadOnly()) {
      throw new IllegalArgumentException("device " + device.name() + " is read-only");
    }
    KdfLimit limit = KdfLimit.none();
    return options.version() == 1
        ? Luks1.format(device, passphrase, options, limit)
        : Luks2.format(device, passphrase, options, limit);
  }

  /**
   * Adds a keyslot for {@code newPassphrase}, opened with {@code passphrase} ({@code luksAddKey}),
   * with the key derivation and costs of the keyslot {@code passphrase} opens.
   *
   * @return the new keyslot: the lowest free one
   */
  public static int addKeyslot(BlockDevice device, byte[] passphrase, byte[] newPassphrase)
      throws IOException {
    return addKeyslot(device, passphrase, newPassphrase, null);
  }

  /**
   * Adds a keyslot for {@code newPassphrase} with {@code pbkdf} ({@code null}: as the keyslot
   * {@code passphrase} opens).
   *
   * @throws LuksException if no keyslot or no keyslots-area space is free (cryptsetup's {@code "No
   *     space for new keyslot."})
   */
  public static int addKeyslot(
      BlockDevice device, byte[] passphrase, byte[] newPassphrase, Pbkdf pbkdf) throws IOException {
    return addKeyslot(device, passphrase, -1, newPassphrase, -1, pbkdf);
  }

  /**
   * Adds keyslot {@code newKeyslot} ({@code -1}: the lowest free one) for {@code newPassphrase},
   * opened with {@code passphrase} in keyslot {@code keyslot} ({@code -1}: any), as {@code
   * cryptsetup luksAddKey --key-slot K --new-key-slot N}.
   *
   * @throws LuksException with cryptsetup's texts: {@code Key slot N is full, please select another
   *     one.}, {@code Key slot N is invalid, please select between 0 and M.}, {@code All key slots
   *     full.}, {@code No space for new keyslot.}
   */
  public static int addKeyslot(
      BlockDevice device,
      byte[] passphrase,
      int keyslot,
      byte[] newPassphrase,
      int newKeyslot,
      Pbkdf pbkdf)
      throws IOException {
    Objects.requireNonNull(newPassphrase, "newPassphrase");
    KdfLimit limit = KdfLimit.none();
    Header h = read(device);
    int max = h.luks1 != null ? Luks1.SLOTS : Luks2.KEYSLOTS_MAX;
    checkSlot(keyslot, max);
    if (newKeyslot >= max || newKeyslot < -1) {
      throw new LuksException(
          "Key slot " + newKeyslot + " is invalid, please select between 0 and " + (max - 1) + ".");
    }
    boolean taken =
        newKeyslot >= 0
            && (h.luks1 != null
                ? h.luks1.slots[newKeyslot].active || h.luks1.slots[newKeyslot].invalidState != 0
                : h.luks2.keyslots.containsKey(newKeyslot));
    if (taken) {
      throw new LuksException("Key slot " + newKeyslot + " is full, please select another one.");
    }
    SecureRandom random = new SecureRandom();
    if (h.luks1 != null) {
      Luks1 l = h.luks1;
      Unlocked u = l.unlock(device, passphrase, keyslot, limit);
      try {
        int slot = newKeyslot >= 0 ? newKeyslot : l.freeSlot();
        if (slot < 0) {
          throw new LuksException("All key slots full.");
        }
        l.setKeyslot(device, slot, u.key(), newPassphrase, kdfLike(l, u, pbkdf), random, limit);
        return slot;
      } finally {
        HeaderIo.wipe(u.key());
      }
    }
    Luks2 l = h.luks2;
    Unlocked u = l.unlock(device, passphrase, keyslot, limit);
    try {
      Luks2.Keyslot old = l.keyslots.get(u.keyslot());
      int id = newKeyslot >= 0 ? newKeyslot : l.freeKeyslotId();
      if (id < 0) {
        throw new LuksException("All key slots full.");
      }
      long area = l.findArea(Luks2.areaSize(u.key().length), -1);
      if (area < 0) {
        throw new LuksException("No space for new keyslot.");
      }
      var k = keyslotLike(area, u, newPassphrase, pbkdf, old, 1, random, limit);
      l.json.withObject("/keyslots").set(Integer.toString(id), k.writeArea(device));
      l.bindToDigest(id, l.digestOf(u.keyslot()));
      l.write(device);
      return id;
    } finally {
      HeaderIo.wipe(u.key());
    }
  }

  /**
   * Removes keyslot {@code keyslot} and wipes its area ({@code luksKillSlot}); no passphrase is
   * needed, as with {@code cryptsetup luksKillSlot --batch-mode}. Removing the last keyslot makes
   * the data unreachable.
   *
   * @throws IllegalArgumentException if the keyslot is not in use
   */
  public static void removeKeyslot(BlockDevice device, int keyslot) throws IOException {
    Header h = read(device);
    SecureRandom random = new SecureRandom();
    if (h.luks1 != null) {
      if (keyslot < 0 || keyslot >= Luks1.SLOTS) {
        throw new IllegalArgumentException(
            "keyslot " + keyslot + " (expected: 0 <= keyslot < " + Luks1.SLOTS + ")");
      }
      h.luks1.removeKeyslot(device, keyslot, random);
      return;
    }
    Luks2 l = h.luks2;
    Luks2.Keyslot k = l.keyslots.get(keyslot);
    if (k == null) {
      throw new IllegalArgumentException("LUKS2 keyslot " + keyslot + " is not in use");
    }
    // as LUKS2_keyslot_wipe: the area first, then the metadata
    if (k.areaSize() > 0) {
      HeaderIo.wipe(device, k.areaOffset(), k.areaSize(), random, "LUKS2 keyslot " + keyslot);
      device.flush();
    }
    l.unbind(keyslot);
    l.write(device);
  }

  /**
   * Removes the keyslot {@code passphrase} opens ({@code luksRemoveKey}).
   *
   * @return the keyslot removed
   */
  public static int removeKeyslot(BlockDevice device, byte[] passphrase) throws IOException {
    int slot;
    try (LuksVolume v = open(device, passphrase)) {
      slot = v.keyslot();
    }
    removeKeyslot(device, slot);
    return slot;
  }

  /**
   * Replaces the passphrase of the keyslot {@code passphrase} opens by {@code newPassphrase}
   * ({@code luksChangeKey}), keeping its key derivation, as cryptsetup does: LUKS2 keeps the
   * keyslot number, writing the new material to a free area first when there is one, then switching
   * the metadata and wiping the old area (in place without free space); LUKS1 writes the new
   * keyslot into the first free one, then wipes the old (in place when none is free).
   *
   * @return the keyslot changed
   */
  public static int changePassphrase(BlockDevice device, byte[] passphrase, byte[] newPassphrase)
      throws IOException {
    return changePassphrase(device, passphrase, newPassphrase, null);
  }

  /**
   * {@link #changePassphrase(BlockDevice, byte[], byte[])} with a new key derivation ({@code null}:
   * keep the keyslot's).
   */
  public static int changePassphrase(
      BlockDevice device, byte[] passphrase, byte[] newPassphrase, Pbkdf pbkdf) throws IOException {
    return changePassphrase(device, passphrase, -1, newPassphrase, pbkdf);
  }

  /**
   * {@link #changePassphrase(BlockDevice, byte[], byte[], Pbkdf)} of keyslot {@code keyslot} only
   * ({@code cryptsetup luksChangeKey --key-slot}), or of any if it is {@code -1}.
   */
  public static int changePassphrase(
      BlockDevice device, byte[] passphrase, int keyslot, byte[] newPassphrase, Pbkdf pbkdf)
      throws IOException {
    Objects.requireNonNull(newPassphrase, "newPassphrase");
    KdfLimit limit = KdfLimit.none();
    Header h = read(device);
    checkSlot(keyslot, h.luks1 != null ? Luks1.SLOTS : Luks2.KEYSLOTS_MAX);
    checkInUse(h, keyslot);
    SecureRandom random = new SecureRandom();
    if (h.luks1 != null) {
      Luks1 l = h.luks1;
      Unlocked u = l.unlock(device, passphrase, keyslot, limit);
      try {
        // crypt_keyslot_change_by_passphrase: LUKS1 moves to the first free keyslot when none is
        // named, then destroys the old one; in place only when named or when none is free
        int target = keyslot >= 0 ? u.keyslot() : l.freeSlot();
        if (target < 0) {
          target = u.keyslot();
        }
        Pbkdf kdf = kdfLike(l, u, pbkdf);
        if (target == u.keyslot()) {
          l.setKeyslot(device, target, u.key(), newPassphrase, kdf, random, limit);
        } else {
          l.writeKeyslot(
              device, target, l.makeKeyslot(target, u.key(), newPassphrase, kdf, random, limit));
          l.removeKeyslot(device, u.keyslot(), random);
        }
        return target;
      } finally {
        HeaderIo.wipe(u.key());
      }
    }
    Luks2 l = h.luks2;
    Unlocked u = l.unlock(device, passphrase, keyslot, limit);
    try {
      Luks2.Keyslot old = l.keyslots.get(u.keyslot());
      long size = Luks2.areaSize(u.key().length);
      long area = l.findArea(size, -1);
      boolean inPlace = area < 0;
      if (inPlace) {
        area = l.findArea(size, old.id());
      }
      if (area < 0) {
        throw new LuksException("No space for new keyslot.");
      }
      var k = keyslotLike(area, u, newPassphrase, pbkdf, old, old.priority(), random, limit);
      l.json.withObject("/keyslots").set(Integer.toString(old.id()), k.writeArea(device));
      l.write(device);
      if (!inPlace) {
        HeaderIo.wipe(
            device, old.areaOffset(), old.areaSize(), random, "LUKS2 keyslot " + old.id());
        device.flush();
      }
      return old.id();
    } finally {
      HeaderIo.wipe(u.key());
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Header maintenance: luksUUID, keyslot states, luksHeaderBackup / luksHeaderRestore

  /** A keyslot's state, as cryptsetup's {@code crypt_keyslot_status}. */
  public enum KeyslotState {
    /** Not a keyslot number of this header (cryptsetup's {@code CRYPT_SLOT_INVALID}). */
    INVALID,
    /** Free. */
    INACTIVE,
    /** In use, and not the last one bound to the data. */
    ACTIVE,
    /** The last keyslot that opens the data: removing it loses the data. */
    ACTIVE_LAST,
    /** LUKS2: in use but bound to no data segment. */
    UNBOUND
  }

  /** The state of keyslot {@code keyslot} of the container on {@code device}. */
  public static KeyslotState keyslotState(BlockDevice device, int keyslot) throws IOException {
    Header h = read(device);
    if (h.luks1 != null) {
      if (keyslot < 0 || keyslot >= Luks1.SLOTS) {
        return KeyslotState.INVALID;
      }
      Luks1.Slot s = h.luks1.slots[keyslot];
      if (s.invalidState != 0) {
        return KeyslotState.INVALID;
      }
      if (!s.active) {
        return KeyslotState.INACTIVE;
      }
      int active = 0;
      for (Luks1.Slot o : h.luks1.slots) {
        active += o.active ? 1 : 0;
      }
      return active == 1 ? KeyslotState.ACTIVE_LAST : KeyslotState.ACTIVE;
    }
    Luks2 l = h.luks2;
    if (keyslot < 0 || keyslot >= Luks2.KEYSLOTS_MAX) {
      return KeyslotState.INVALID;
    }
    if (!l.keyslots.containsKey(keyslot)) {
      return KeyslotState.INACTIVE;
    }
    if (!bound(l, keyslot)) {
      return KeyslotState.UNBOUND;
    }
    int bound = 0;
    for (int k : l.keyslots.keySet()) {
      bound += bound(l, k) ? 1 : 0;
    }
    return bound == 1 ? KeyslotState.ACTIVE_LAST : KeyslotState.ACTIVE;
  }

  private static boolean bound(Luks2 l, int keyslot) {
    Luks2.Digest d = l.digestOf(keyslot);
    return d != null && !d.segments().isEmpty();
  }

  /**
   * The key derivation of keyslot {@code keyslot} (LUKS1: PBKDF2 with the header's hash), or {@code
   * null} if the keyslot is not in use or its KDF is unknown to jdm.
   */
  public static Pbkdf keyslotPbkdf(BlockDevice device, int keyslot) throws IOException {
    Header h = read(device);
    if (h.luks1 != null) {
      if (keyslot < 0 || keyslot >= Luks1.SLOTS || !h.luks1.slots[keyslot].active) {
        return null;
      }
      return Pbkdf.pbkdf2(h.luks1.hashSpec, h.luks1.slots[keyslot].iterations);
    }
    Luks2.Keyslot k = h.luks2.keyslots.get(keyslot);
    return k == null ? null : k.kdf();
  }

  /** How many keyslots the container's format has: 8 (LUKS1) or 32 (LUKS2). */
  public static int keyslotMax(BlockDevice device) throws IOException {
    return read(device).luks1 != null ? Luks1.SLOTS : Luks2.KEYSLOTS_MAX;
  }

  /** The container's UUID ({@code cryptsetup luksUUID}). */
  public static String uuid(BlockDevice device) throws IOException {
    Header h = read(device);
    return h.luks1 != null ? h.luks1.uuid : h.luks2.uuid;
  }

  /**
   * Sets the container's UUID ({@code cryptsetup luksUUID --uuid}), or a new random one if {@code
   * uuid} is {@code null}; written lower case, as cryptsetup's {@code uuid_unparse}. Nothing is
   * written if the UUID is already {@code uuid}.
   *
   * @throws IllegalArgumentException {@code Wrong LUKS UUID format provided.} if {@code uuid} is
   *     not a UUID
   */
  public static void setUuid(BlockDevice device, String uuid) throws IOException {
    Header h = read(device);
    String current = h.luks1 != null ? h.luks1.uuid : h.luks2.uuid;
    if (uuid != null && uuid.equals(current)) {
      return;
    }
    String u = uuid == null ? java.util.UUID.randomUUID().toString() : canonicalUuid(uuid);
    if (h.luks1 != null) {
      h.luks1.uuid = u;
      h.luks1.write(device);
    } else {
      h.luks2.uuid = u;
      h.luks2.write(device);
    }
  }

  /** {@code uuid_parse} then {@code uuid_unparse}: 36 characters, hex digits and four dashes. */
  private static String canonicalUuid(String uuid) {
    if (!uuid.matches(
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")) {
      throw new IllegalArgumentException("Wrong LUKS UUID format provided.");
    }
    return uuid.toLowerCase(java.util.Locale.ROOT);
  }

  /**
   * Bytes a header backup holds: the binary headers and keyslot areas ({@code LUKS_device_sectors}
   * for LUKS1, {@code LUKS2_hdr_and_areas_size} for LUKS2).
   */
  private static long headerBytes(Header h) {
    return h.luks1 != null ? h.luks1.deviceBytes() : h.luks2.deviceBytes();
  }

  /**
   * Writes the header and keyslot areas of the container on {@code device} to the new file {@code
   * backup} ({@code cryptsetup luksHeaderBackup}): the same bytes, rounded up to 4 KiB with zeros,
   * LUKS1's unused bytes between the header and its first keyslot zeroed, the file created
   * owner-read-only (0400).
   *
   * @throws LuksException {@code Requested header backup file FILE already exists.}
   */
  public static void backupHeader(BlockDevice device, Path backup) throws IOException {
    Header h = read(device);
    long size = headerBytes(h);
    long fileSize = HeaderIo.alignUp(size, 4096);
    if (fileSize > Integer.MAX_VALUE) {
      throw new LuksException("LUKS header and keyslots of " + size + " bytes: too large");
    }
    byte[] buf = new byte[(int) fileSize];
    try {
      byte[] hdr = HeaderIo.read(device, 0, (int) size, "LUKS header backup");
      System.arraycopy(hdr, 0, buf, 0, hdr.length);
      HeaderIo.wipe(hdr);
      if (h.luks1 != null && h.luks1.slots[0].keyMaterialOffset * 512 == 4096) {
        Arrays.fill(buf, Luks1.HEADER_SIZE, 4096, (byte) 0); // no old signatures in the backup
      }
      java.nio.file.attribute.FileAttribute<?> ownerRead =
          java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
              java.nio.file.attribute.PosixFilePermissions.fromString("r--------"));
      try {
        java.nio.file.Files.createFile(backup, ownerRead);
      } catch (java.nio.file.FileAlreadyExistsException e) {
        throw new LuksException("Requested header backup file " + backup + " already exists.", e);
      } catch (IOException e) {
        throw new LuksException("Cannot create header backup file " + backup + ".", e);
      }
      try (java.nio.channels.FileChannel ch =
          java.nio.channels.FileChannel.open(backup, java.nio.file.StandardOpenOption.WRITE)) {
        ByteBuffer b = ByteBuffer.wrap(buf);
        while (b.hasRemaining()) {
          ch.write(b);
        }
        ch.force(true);
      } catch (IOException e) {
        throw new LuksException("Cannot write header backup file " + backup + ".", e);
      }
    } finally {
      Arrays.fill(buf, (byte) 0);
    }
  }

  /**
   * Writes the header and keyslot areas in {@code backup} over {@code device} ({@code cryptsetup
   * luksHeaderRestore}), after cryptsetup's checks: the backup holds a valid header; if the device
   * holds one of the same version, the data offset (and LUKS1's key size, LUKS2's header and
   * keyslots size) match. {@code confirm} is asked cryptsetup's question ({@code Device DEV already
   * contains LUKS2 header. Replacing header will destroy existing keyslots.}, with the different
   * UUID warning) and nothing is written if it answers {@code false}.
   *
   * @return whether the header was written
   * @throws LuksException {@code Backup file does not contain valid LUKS header.}, {@code Data
   *     offset differ on device and backup, restore failed.} and cryptsetup's other texts
   */
  public static boolean restoreHeader(
      BlockDevice device,
      String devicePath,
      Path backup,
      java.util.function.Predicate<String> confirm)
      throws IOException {
    byte[] file;
    try {
      file = java.nio.file.Files.readAllBytes(backup);
    } catch (java.nio.file.NoSuchFileException e) {
      throw new LuksException("Cannot open header backup file " + backup + ".", e);
    }
    if (file.length < Luks1.HEADER_SIZE) {
      throw new LuksException("Header backup file does not contain compatible LUKS header.");
    }
    try (io.jdm.core.MemoryBlockDevice mem =
        io.jdm.core.MemoryBlockDevice.create("backup", (file.length + 511) / 512)) {
      mem.write(ByteBuffer.wrap(Arrays.copyOf(file, (file.length + 511) / 512 * 512)), 0);
      if (version(mem) == 0) {
        throw new LuksException("Header backup file does not contain compatible LUKS header.");
      }
      Header b;
      try {
        b = parse(mem);
      } catch (LuksException e) {
        throw new LuksException("Backup file does not contain valid LUKS header.", e);
      }
      if (b.luks2 != null && !b.luks2.requirements.isEmpty()) {
        throw new LuksException("Forbidden LUKS2 requirements detected in backup " + backup + ".");
      }
      long size = headerBytes(b);
      if (size > file.length) {
        throw new LuksException("Cannot read header backup file " + backup + ".");
      }
      boolean v1 = b.luks1 != null;
      Header d = null;
      try {
        d = parse(device);
      } catch (LuksException e) {
        // no header: cryptsetup warns that replacing it may destroy data
      }
      if (d != null && (v1 ? d.luks1 == null : d.luks2 == null)) {
        d = null; // a header of the other version counts as none, as in cryptsetup
      }
      boolean diffUuid = false;
      if (d != null && v1) {
        if (d.luks1.payloadOffset != b.luks1.payloadOffset
            || d.luks1.keyBytes != b.luks1.keyBytes) {
          throw new LuksException(
              "Data offset or key size differs on device and backup, restore failed.");
        }
        diffUuid = !d.luks1.uuid.equals(b.luks1.uuid);
      } else if (d != null) {
        if (d.luks2.segment().offset() != b.luks2.segment().offset()) {
          throw new LuksException("Data offset differ on device and backup, restore failed.");
        }
        if (d.luks2.deviceBytes() != size) {
          throw new LuksException(
              "Binary header with keyslot areas size differ on device and backup, restore failed.");
        }
        diffUuid = !d.luks2.uuid.equals(b.luks2.uuid);
      }
      String kind = v1 ? "LUKS" : "LUKS2";
      String msg =
          "Device "
              + devicePath
              + (d == null
                  ? " does not contain "
                      + kind
                      + " header. Replacing header can destroy data on"
                      + " that device."
                  : " already contains "
                      + kind
                      + " header. Replacing header will destroy existing"
                      + " keyslots.")
              + (diffUuid ? "\nWARNING: real device header has different UUID than backup!" : "");
      if (!confirm.test(msg)) {
        return false;
      }
      if (device.size() < size) {
        throw new LuksException("Device " + devicePath + " is too small.");
      }
      byte[] hdr = Arrays.copyOf(file, (int) size);
      try {
        HeaderIo.write(device, 0, hdr, "LUKS header restore");
      } finally {
        HeaderIo.wipe(hdr);
      }
      device.flush();
      return true;
    } finally {
      Arrays.fill(file, (byte) 0);
    }
  }

  /** {@code pbkdf}, or the PBKDF2 of the LUKS1 keyslot {@code u} opened. */
  private static Pbkdf kdfLike(Luks1 l, Unlocked u, Pbkdf pbkdf) {
    return pbkdf != null ? pbkdf : Pbkdf.pbkdf2(l.hashSpec, l.slots[u.keyslot()].iterations);
  }

  /**
   * A new LUKS2 keyslot at {@code area} for {@code newPassphrase}, not yet written, with the AF
   * hash and area encryption of {@code old} and its key derivation unless {@code pbkdf} is given.
   */
  private static Luks2.NewKeyslot keyslotLike(
      long area,
      Unlocked u,
      byte[] newPassphrase,
      Pbkdf pbkdf,
      Luks2.Keyslot old,
      int priority,
      SecureRandom random,
      KdfLimit limit)
      throws IOException {
    return Luks2.makeKeyslot(
        area,
        u.key(),
        newPassphrase,
        pbkdf != null ? pbkdf : old.kdf(),
        old.afHash(),
        old.areaEncryption(),
        priority,
        random,
        limit);
  }
}
