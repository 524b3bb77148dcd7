package io.jdm.crypto.luks;

import io.jdm.core.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.List;

/**
 * A LUKS1 header and what can be done with it, as cryptsetup's {@code lib/luks1/keymanage.c} and
 * {@code keyencryption.c}: the 592-byte big-endian header at offset 0, eight keyslots of PBKDF2 +
 * AF-split material, and the volume key digest {@code PBKDF2(hash, key, salt, iter, 20)}.
 *
 * <p>Not thread-safe; one instance per operation.
 */
final class Luks1 {
  static final int HEADER_SIZE = 592;
  static final int SLOTS = 8;
  static final int ACTIVE = 0x00AC71F3;
  static final int DISABLED = 0x0000DEAD;
  static final int STRIPES = 4000;
  static final int DIGEST_SIZE = 20;
  static final int SALT_SIZE = 32;
  static final byte[] MAGIC = {'L', 'U', 'K', 'S', (byte) 0xBA, (byte) 0xBE};

  String cipherName;
  String cipherMode;
  String hashSpec;
  long payloadOffset;
  int keyBytes;
  byte[] mkDigest = new byte[DIGEST_SIZE];
  byte[] mkDigestSalt = new byte[SALT_SIZE];
  long mkDigestIter;
  String uuid;
  final Slot[] slots = new Slot[SLOTS];

  /** One of the eight keyslots. */
  static final class Slot {
    boolean active;

    /**
     * Neither enabled nor disabled on disk: cryptsetup's {@code CRYPT_SLOT_INVALID}, skipped when
     * opening and never reused; the header stays usable through the other keyslots.
     */
    int invalidState;

    long iterations;
    byte[] salt = new byte[SALT_SIZE];
    long keyMaterialOffset;
    long stripes;
  }

  String cipher() {
    return cipherName + "-" + cipherMode;
  }

  // ---------------------------------------------------------------------------------------------
  // Parsing

  /**
   * Bytes the header and its keyslot areas take ({@code LUKS_device_sectors}): the end of the last
   * key material (cryptsetup 2.6.1 says 2066432 for a default 512-bit container, 8 slots).
   */
  long deviceBytes() {
    long material = AfSplitter.splitSectors(keyBytes, STRIPES);
    long end = 0;
    for (Slot s : slots) {
      end = Math.max(end, s.keyMaterialOffset + material);
    }
    return end * 512;
  }

  static Luks1 read(BlockDevice dev) throws IOException {
    byte[] b = HeaderIo.read(dev, 0, HEADER_SIZE, "LUKS1 header at offset 0");
    return parse(b, dev.size());
  }

  static Luks1 parse(byte[] raw, long deviceSize) throws LuksException {
    ByteBuffer b = ByteBuffer.wrap(raw); // big-endian
    String where = "LUKS1 header at offset 0";
    if (!Arrays.equals(raw, 0, 6, MAGIC, 0, 6)) {
      throw new LuksException(where + ": bad magic (expected: LUKS\\xba\\xbe)");
    }
    int version = b.getShort(6) & 0xFFFF;
    if (version != 1) {
      throw new LuksException(where + ": version " + version + " (expected: 1)");
    }
    Luks1 h = new Luks1();
    h.cipherName = cstring(raw, 8, 32, where + ": cipher_name");
    h.cipherMode = cstring(raw, 40, 32, where + ": cipher_mode");
    h.hashSpec = cstring(raw, 72, 32, where + ": hash_spec");
    h.payloadOffset = b.getInt(104) & 0xFFFF_FFFFL;
    long keyBytes = b.getInt(108) & 0xFFFF_FFFFL;
    System.arraycopy(raw, 112, h.mkDigest, 0, DIGEST_SIZE);
    System.arraycopy(raw, 132, h.mkDigestSalt, 0, SALT_SIZE);
    h.mkDigestIter = b.getInt(164) & 0xFFFF_FFFFL;
    h.uuid = cstring(raw, 168, 40, where + ": uuid");
    if (!Hashes.known(h.hashSpec)) {
      throw new LuksException(where + ": hash_spec " + h.hashSpec + " is not supported");
    }
    if (keyBytes == 0 || keyBytes > 512) {
      throw new LuksException(where + ": key_bytes " + keyBytes + " (expected: 1 to 512)");
    }
    h.keyBytes = (int) keyBytes;
    if (h.mkDigestIter == 0) {
      throw new LuksException(where + ": mk_digest_iter 0 (expected: > 0)");
    }
    long material = AfSplitter.splitSectors(h.keyBytes, STRIPES);
    for (int i = 0; i < SLOTS; i++) {
      int o = 208 + 48 * i;
      Slot s = new Slot();
      int active = b.getInt(o);
      // LUKS_keyslot_info: another value makes the keyslot invalid, not the header
      s.active = active == ACTIVE;
      s.invalidState = active != ACTIVE && active != DISABLED ? active : 0;
      s.iterations = b.getInt(o + 4) & 0xFFFF_FFFFL;
      System.arraycopy(raw, o + 8, s.salt, 0, SALT_SIZE);
      s.keyMaterialOffset = b.getInt(o + 40) & 0xFFFF_FFFFL;
      s.stripes = b.getInt(o + 44) & 0xFFFF_FFFFL;
      h.slots[i] = s;
      // LUKS_check_keyslots: stripes and offsets, for every slot (disabled ones are reused)
      if (s.stripes != STRIPES) {
        throw new LuksException(
            where + ": keyslot " + i + " stripes " + s.stripes + " (expected: " + STRIPES + ")");
      }
      if (s.keyMaterialOffset * 512 < HEADER_SIZE) {
        throw new LuksException(
            where
                + ": keyslot "
                + i
                + " key material offset "
                + s.keyMaterialOffset
                + " overlaps the header (expected: >= 2 sectors)");
      }
      long end = s.keyMaterialOffset + material;
      if (h.payloadOffset != 0 && end > h.payloadOffset) {
        throw new LuksException(
            where
                + ": keyslot "
                + i
                + " key material (sectors "
                + s.keyMaterialOffset
                + " to "
                + end
                + ") overlaps the payload at sector "
                + h.payloadOffset);
      }
      for (int j = 0; j < i; j++) {
        long js = h.slots[j].keyMaterialOffset;
        if (s.keyMaterialOffset < js + material && js < end) {
          throw new LuksException(
              where + ": keyslot " + i + " key material overlaps keyslot " + j + "'s");
        }
      }
    }
    return h;
  }

  private static String cstring(byte[] raw, int off, int len, String where) throws LuksException {
    int n = 0;
    while (n < len && raw[off + n] != 0) {
      n++;
    }
    if (n == len) {
      throw new LuksException(where + ": not NUL-terminated within " + len + " bytes");
    }
    return new String(raw, off, n, StandardCharsets.US_ASCII);
  }

  byte[] toBytes() {
    byte[] raw = new byte[HEADER_SIZE];
    ByteBuffer b = ByteBuffer.wrap(raw);
    System.arraycopy(MAGIC, 0, raw, 0, 6);
    b.putShort(6, (short) 1);
    putString(raw, 8, 32, cipherName);
    putString(raw, 40, 32, cipherMode);
    putString(raw, 72, 32, hashSpec);
    b.putInt(104, (int) payloadOffset);
    b.putInt(108, keyBytes);
    System.arraycopy(mkDigest, 0, raw, 112, DIGEST_SIZE);
    System.arraycopy(mkDigestSalt, 0, raw, 132, SALT_SIZE);
    b.putInt(164, (int) mkDigestIter);
    putString(raw, 168, 40, uuid);
    for (int i = 0; i < SLOTS; i++) {
      int o = 208 + 48 * i;
      Slot s = slots[i];
      b.putInt(o, s.active ? ACTIVE : s.invalidState != 0 ? s.invalidState : DISABLED);
      b.putInt(o + 4, (int) s.iterations);
      System.arraycopy(s.salt, 0, raw, o + 8, SALT_SIZE);
      b.putInt(o + 40, (int) s.keyMaterialOffset);
      b.putInt(o + 44, (int) s.stripes);
    }
    return raw;
  }

  private static void putString(byte[] raw, int off, int len, String s) {
    byte[] v = s.getBytes(StandardCharsets.US_ASCII);
    if (v.length >= len) {
      throw new IllegalArgumentException(
          "\"" + s + "\" does not fit a LUKS1 header field of " + len + " bytes with its NUL");
    }
    System.arraycopy(v, 0, raw, off, v.length);
  }

  void write(BlockDevice dev) throws IOException {
    HeaderIo.write(dev, 0, toBytes(), "LUKS1 header at offset 0");
    dev.flush();
  }

  // ---------------------------------------------------------------------------------------------
  // Keyslots

  private String slotWhere(int slot) {
    return "LUKS1 keyslot " + slot;
  }

  /** Tries {@code slot}; returns the volume key, or {@code null} if the passphrase is wrong. */
  byte[] tryKeyslot(BlockDevice dev, int slot, byte[] passphrase, KdfLimit limit)
      throws IOException {
    Slot s = slots[slot];
    String where = slotWhere(slot);
    Pbkdf kdf = Pbkdf.pbkdf2(hashSpec, s.iterations);
    kdf.checkForUse(where);
    int sectors = AfSplitter.splitSectors(keyBytes, STRIPES);
    byte[] material =
        HeaderIo.read(
            dev,
            s.keyMaterialOffset * 512,
            sectors * 512,
            where + " key material at sector " + s.keyMaterialOffset);
    byte[] derived = kdf.derive(passphrase, s.salt, keyBytes, limit, where);
    try {
      HeaderIo.cryptArea(cipher(), derived, material, false, where);
    } finally {
      HeaderIo.wipe(derived);
    }
    byte[] vk = AfSplitter.merge(material, keyBytes, STRIPES, hashSpec);
    HeaderIo.wipe(material);
    boolean ok;
    try {
      ok = verify(vk, limit);
    } catch (IOException | RuntimeException e) {
      HeaderIo.wipe(vk);
      throw e;
    }
    if (ok) {
      return vk;
    }
    HeaderIo.wipe(vk);
    return null;
  }

  boolean verify(byte[] vk, KdfLimit limit) throws IOException {
    byte[] d =
        Pbkdf.pbkdf2(hashSpec, mkDigestIter)
            .derive(vk, mkDigestSalt, DIGEST_SIZE, limit, "LUKS1 volume key digest");
    return HeaderIo.equal(d, mkDigest);
  }

  /** Unlocks with any active keyslot ({@code slot < 0}) or the given one, within {@code limit}. */
  Unlocked unlock(BlockDevice dev, byte[] passphrase, int slot, KdfLimit limit) throws IOException {
    for (int i = 0; i < SLOTS; i++) {
      if ((slot >= 0 && i != slot) || !slots[i].active) {
        continue;
      }
      byte[] vk = tryKeyslot(dev, i, passphrase, limit);
      if (vk != null) {
        return new Unlocked(i, vk);
      }
    }
    throw new LuksPassphraseException();
  }

  /** The volume for an unlocked key. */
  LuksVolume volume(BlockDevice dev, Unlocked u) throws LuksException {
    long devSectors = dev.sectors();
    if (payloadOffset >= devSectors) {
      throw new LuksException(
          "LUKS1 payload offset "
              + payloadOffset
              + " sectors is at or past the end of "
              + dev.name()
              + " ("
              + devSectors
              + " sectors)");
    }
    return new LuksVolume(
        1,
        uuid,
        u.keyslot(),
        cipher(),
        payloadOffset,
        devSectors - payloadOffset,
        512,
        0,
        List.of(),
        u.key());
  }

  /**
   * Writes a new keyslot into {@code slot} for {@code vk}: derives first, so that an interrupted or
   * failed derivation writes nothing.
   */
  void setKeyslot(
      BlockDevice dev,
      int slot,
      byte[] vk,
      byte[] passphrase,
      Pbkdf kdf,
      SecureRandom random,
      KdfLimit limit)
      throws IOException {
    writeKeyslot(dev, slot, makeKeyslot(slot, vk, passphrase, kdf, random, limit));
  }

  /** A keyslot made but not written: its salt, costs and encrypted key material. */
  record NewKeyslot(byte[] salt, long iterations, byte[] material) {}

  /** Derives the key of a new keyslot {@code slot} for {@code vk} and encrypts its material. */
  NewKeyslot makeKeyslot(
      int slot, byte[] vk, byte[] passphrase, Pbkdf kdf, SecureRandom random, KdfLimit limit)
      throws IOException {
    kdf.checkForNewKeyslot();
    if (kdf.isArgon2() || !kdf.hash().equalsIgnoreCase(hashSpec)) {
      throw new IllegalArgumentException(
          "LUKS1 keyslots use pbkdf2 with the header hash " + hashSpec + ", not " + kdf);
    }
    byte[] salt = new byte[SALT_SIZE];
    random.nextBytes(salt);
    byte[] derived = kdf.derive(passphrase, salt, keyBytes, limit, slotWhere(slot));
    int sectors = AfSplitter.splitSectors(keyBytes, STRIPES);
    byte[] material = new byte[sectors * 512];
    byte[] split = AfSplitter.split(vk, STRIPES, hashSpec, random);
    System.arraycopy(split, 0, material, 0, split.length);
    HeaderIo.wipe(split);
    try {
      HeaderIo.cryptArea(cipher(), derived, material, true, slotWhere(slot));
    } finally {
      HeaderIo.wipe(derived);
    }
    return new NewKeyslot(salt, kdf.iterations(), material);
  }

  /** Writes {@code k}'s material, then the header with {@code slot} active. */
  void writeKeyslot(BlockDevice dev, int slot, NewKeyslot k) throws IOException {
    Slot s = slots[slot];
    HeaderIo.write(dev, s.keyMaterialOffset * 512, k.material(), slotWhere(slot) + " key material");
    dev.flush();
    s.active = true;
    s.invalidState = 0;
    s.iterations = k.iterations();
    s.salt = k.salt();
    write(dev);
  }

  int freeSlot() {
    for (int i = 0; i < SLOTS; i++) {
      if (!slots[i].active && slots[i].invalidState == 0) {
        return i;
      }
    }
    return -1;
  }

  /** Disables {@code slot} and wipes its material, as {@code LUKS_del_key}. */
  void removeKeyslot(BlockDevice dev, int slot, SecureRandom random) throws IOException {
    Slot s = slots[slot];
    if (!s.active) {
      throw new IllegalArgumentException("LUKS1 keyslot " + slot + " is not active");
    }
    // LUKS_del_key's order: the material first, so a crash in between leaves nothing readable
    HeaderIo.wipe(
        dev,
        s.keyMaterialOffset * 512,
        (long) AfSplitter.splitSectors(keyBytes, STRIPES) * 512,
        random,
        slotWhere(slot) + " key material");
    dev.flush();
    s.active = false;
    s.iterations = 0;
    Arrays.fill(s.salt, (byte) 0);
    write(dev);
    dev.flush();
  }

  // ---------------------------------------------------------------------------------------------
  // Format

  static LuksVolume format(BlockDevice dev, byte[] passphrase, LuksFormatOptions o, KdfLimit limit)
      throws IOException {
    SecureRandom random = o.random();
    Luks1 h = new Luks1();
    String cipher = o.cipher();
    int dash = cipher.indexOf('-');
    if (dash <= 0) {
      throw new IllegalArgumentException(
          "LUKS1 cipher " + cipher + " (expected: cipher-mode, such as aes-xts-plain64)");
    }
    h.cipherName = cipher.substring(0, dash);
    h.cipherMode = cipher.substring(dash + 1);
    h.hashSpec = o.hash();
    h.keyBytes = o.keySizeBits() / 8;
    h.uuid = o.uuid().toLowerCase(java.util.Locale.ROOT);
    int material = AfSplitter.splitSectors(h.keyBytes, STRIPES);
    long sector = 4096 / 512; // LUKS_ALIGN_KEYSLOTS
    for (int i = 0; i < SLOTS; i++) {
      Slot s = new Slot();
      s.stripes = STRIPES;
      s.keyMaterialOffset = sector;
      sector = HeaderIo.alignUp(sector + material, 4096 / 512);
      h.slots[i] = s;
    }
    long minPayload = sector;
    if (o.dataOffset() >= 0) {
      h.payloadOffset = o.dataOffset() / 512;
      if (h.payloadOffset < minPayload) {
        throw new IllegalArgumentException(
            "data offset "
                + o.dataOffset()
                + " bytes is inside the LUKS1 keyslots, which end at "
                + minPayload * 512);
      }
    } else {
      h.payloadOffset = HeaderIo.alignUp(minPayload, 2048); // 1 MiB, cryptsetup's default
    }
    if (h.payloadOffset > 0xFFFF_FFFFL) {
      throw new IllegalArgumentException("data offset does not fit LUKS1's 32-bit sector count");
    }
    if (dev.sectors() <= h.payloadOffset) {
      throw new LuksException(
          "device "
              + dev.name()
              + " ("
              + dev.size()
              + " bytes) is too small for a LUKS1 header with data at "
              + h.payloadOffset * 512);
    }
    byte[] vk = o.volumeKey();
    if (vk == null) {
      vk = new byte[h.keyBytes];
      random.nextBytes(vk);
    }
    try {
      random.nextBytes(h.mkDigestSalt);
      h.mkDigestIter = o.digestIterations();
      // all derivation before the first write: an interrupted format leaves the device as it was
      h.mkDigest =
          Pbkdf.pbkdf2(h.hashSpec, h.mkDigestIter)
              .derive(vk, h.mkDigestSalt, DIGEST_SIZE, limit, "new LUKS1 volume key digest");
      NewKeyslot k = h.makeKeyslot(0, vk, passphrase, o.pbkdf(), random, limit);
      HeaderIo.wipe(dev, 0, h.payloadOffset * 512, null, "LUKS1 header area");
      h.writeKeyslot(dev, 0, k);
      return h.volume(dev, new Unlocked(0, vk));
    } catch (IOException | RuntimeException e) {
      Arrays.fill(vk, (byte) 0); // nothing returned the key: wipe it
      throw e;
    }
  }
}
