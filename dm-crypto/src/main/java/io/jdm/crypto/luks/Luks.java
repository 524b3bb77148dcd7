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
    return activate(dm, name, devicePath, passphrase, null);
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
    Objects.requireNonNull(newPassphrase, "newPassphrase");
    KdfLimit limit = KdfLimit.none();
    Header h = read(device);
    SecureRandom random = new SecureRandom();
    if (h.luks1 != null) {
      Luks1 l = h.luks1;
      Unlocked u = l.unlock(device, passphrase, -1, limit);
      try {
        int slot = l.freeSlot();
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
    Unlocked u = l.unlock(device, passphrase, -1, limit);
    try {
      Luks2.Keyslot old = l.keyslots.get(u.keyslot());
      int id = l.freeKeyslotId();
      long area = l.findArea(Luks2.areaSize(u.key().length), -1);
      if (id < 0 || area < 0) {
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
   * ({@code luksChangeKey}), keeping the keyslot number and key derivation. LUKS2 writes the new
   * material to a free area first when there is one, then switches the metadata and wipes the old
   * area; LUKS1 (and LUKS2 without free space) rewrites the keyslot in place.
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
    Objects.requireNonNull(newPassphrase, "newPassphrase");
    KdfLimit limit = KdfLimit.none();
    Header h = read(device);
    SecureRandom random = new SecureRandom();
    if (h.luks1 != null) {
      Luks1 l = h.luks1;
      Unlocked u = l.unlock(device, passphrase, -1, limit);
      try {
        l.setKeyslot(
            device, u.keyslot(), u.key(), newPassphrase, kdfLike(l, u, pbkdf), random, limit);
        return u.keyslot();
      } finally {
        HeaderIo.wipe(u.key());
      }
    }
    Luks2 l = h.luks2;
    Unlocked u = l.unlock(device, passphrase, -1, limit);
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
