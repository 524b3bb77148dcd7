package io.jdm.crypto.luks;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdm.core.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * A LUKS2 header and what can be done with it, as cryptsetup's {@code lib/luks2}: two copies of a
 * 4096-byte big-endian binary header plus a JSON area ({@code luks2_disk_metadata.c}), the JSON
 * checked as {@code LUKS2_hdr_validate} checks it (a subset, listed in {@link #validate}), keyslots
 * of a KDF + AF-split material in the keyslots area ({@code luks2_keyslot_luks2.c}), and {@code
 * pbkdf2} digests of the volume key ({@code luks2_digest_pbkdf2.c}).
 *
 * <p>Reading takes both copies: the primary at 0, the secondary at the primary's {@code hdr_size}
 * (or, when the primary is unreadable, at the first of cryptsetup's known offsets, 16 KiB to 4 MiB,
 * that holds a valid one); a copy is valid if its magic, version, size, offset, checksum and JSON
 * are; of two valid copies the one with the higher {@code seqid} wins. Writing increments the
 * {@code seqid} and writes the primary, then the secondary, as {@code LUKS2_disk_hdr_write}.
 *
 * <p>Not thread-safe; one instance per operation.
 */
final class Luks2 {
  static final int BIN_SIZE = 4096;
  static final int KEYSLOTS_MAX = 32;
  static final int STRIPES = 4000;
  static final int SALT_SIZE = 32;

  /** cryptsetup's {@code LUKS2_MAX_KEYSLOTS_SIZE}: larger keyslots areas are invalid. */
  static final long MAX_KEYSLOTS_SIZE = 128L << 20;

  static final byte[] MAGIC1 = {'L', 'U', 'K', 'S', (byte) 0xBA, (byte) 0xBE};
  static final byte[] MAGIC2 = {'S', 'K', 'U', 'L', (byte) 0xBA, (byte) 0xBE};
  static final long[] SECONDARY_OFFSETS = {
    0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000
  };

  long hdrSize;
  long seqid;
  String label;
  String csumAlg;
  String uuid;
  String subsystem;
  byte[] salt1;
  byte[] salt2;
  ObjectNode json;

  /** Which copy was used and why, for messages and tests. */
  String source;

  // parsed views, rebuilt by validate()
  long keyslotsSize;
  final Map<Integer, Keyslot> keyslots = new TreeMap<>();
  final Map<Integer, Segment> segments = new TreeMap<>();
  final Map<Integer, Digest> digests = new TreeMap<>();
  final List<String> flags = new ArrayList<>();
  final List<String> requirements = new ArrayList<>();

  record Keyslot(
      int id,
      String type,
      int keySize,
      int priority,
      int stripes,
      String afHash,
      long areaOffset,
      long areaSize,
      String areaEncryption,
      int areaKeySize,
      String kdfType,
      Pbkdf kdf,
      byte[] kdfSalt) {}

  record Segment(
      int id,
      String type,
      long offset,
      long size,
      long ivTweak,
      String encryption,
      int sectorSize) {}

  record Digest(
      int id,
      String type,
      List<Integer> keyslots,
      List<Integer> segments,
      String hash,
      long iterations,
      byte[] salt,
      byte[] digest) {}

  static boolean validHdrSize(long size) {
    for (long s = 0x4000; s <= 0x400000; s <<= 1) {
      if (s == size) {
        return true;
      }
    }
    return false;
  }

  // ---------------------------------------------------------------------------------------------
  // Reading

  /** One header copy as read, or why it is not valid. */
  private record Copy(Luks2 header, String error, long hdrSizeHint) {}

  /** Bytes both header copies and the keyslots area take ({@code LUKS2_hdr_and_areas_size}). */
  long deviceBytes() {
    return 2 * hdrSize + keyslotsSize;
  }

  static Luks2 read(BlockDevice dev) throws IOException {
    Copy primary = readCopy(dev, 0);
    List<Copy> tried = new ArrayList<>();
    Copy secondary = null;
    long[] candidates =
        primary.hdrSizeHint > 0 ? new long[] {primary.hdrSizeHint} : SECONDARY_OFFSETS;
    for (long off : candidates) {
      if (off + BIN_SIZE > dev.size() && primary.hdrSizeHint <= 0) {
        break;
      }
      Copy c = readCopy(dev, off);
      tried.add(c);
      if (c.header != null) {
        secondary = c;
        break;
      }
    }
    Luks2 h;
    if (primary.header != null && secondary != null) {
      boolean useSecondary = secondary.header.seqid > primary.header.seqid;
      h = useSecondary ? secondary.header : primary.header;
      h.source =
          useSecondary
              ? "secondary (seqid " + secondary.header.seqid + " > " + primary.header.seqid + ")"
              : "primary";
    } else if (primary.header != null) {
      h = primary.header;
      h.source =
          "primary (secondary invalid: "
              + (tried.isEmpty() ? "none" : tried.get(tried.size() - 1).error)
              + ")";
    } else if (secondary != null) {
      h = secondary.header;
      h.source = "secondary (primary invalid: " + primary.error + ")";
    } else {
      StringBuilder sb = new StringBuilder(primary.error);
      if (tried.isEmpty()) {
        sb.append("; no secondary LUKS2 header fits the device");
      } else if (primary.hdrSizeHint > 0) {
        sb.append("; ").append(tried.get(0).error);
      } else {
        sb.append("; no valid secondary LUKS2 header at 16 KiB to 4 MiB");
        for (Copy c : tried) {
          if (!c.error.endsWith("bad magic")) {
            sb.append("; ").append(c.error);
          }
        }
      }
      throw new LuksException(sb.toString());
    }
    // keep each copy's salt; a copy that was bad gets a new one when rewritten
    h.salt1 = primary.header != null ? primary.header.salt1 : null;
    h.salt2 = secondary != null ? secondary.header.salt2 : null;
    return h;
  }

  private static Copy readCopy(BlockDevice dev, long offset) throws IOException {
    String where = "LUKS2 header at offset " + offset;
    if (offset + BIN_SIZE > dev.size()) {
      return new Copy(
          null,
          where + ": device " + dev.name() + " is only " + dev.size() + " bytes (truncated?)",
          -1);
    }
    byte[] bin = HeaderIo.read(dev, offset, BIN_SIZE, where);
    ByteBuffer b = ByteBuffer.wrap(bin);
    byte[] magic = offset == 0 ? MAGIC1 : MAGIC2;
    if (!Arrays.equals(bin, 0, 6, magic, 0, 6)) {
      return new Copy(null, where + ": bad magic", -1);
    }
    int version = b.getShort(6) & 0xFFFF;
    if (version != 2) {
      return new Copy(null, where + ": version " + version + " (expected: 2)", -1);
    }
    long hdrSize = b.getLong(8);
    if (!validHdrSize(hdrSize)) {
      return new Copy(
          null,
          where + ": hdr_size " + hdrSize + " (expected: a power of two from 16 KiB to 4 MiB)",
          -1);
    }
    // as LUKS2_disk_hdr_read: a primary that fails before its checksum is proven says nothing
    // about where the secondary is (all known offsets are tried); one with a good checksum does
    long hint = -1;
    long hdrOffset = b.getLong(256);
    if (hdrOffset != offset) {
      return new Copy(
          null, where + ": hdr_offset " + hdrOffset + " (expected: " + offset + ")", hint);
    }
    if (offset != 0 && hdrSize != offset) {
      return new Copy(
          null,
          where + ": hdr_size " + hdrSize + " (expected: " + offset + ", the secondary's offset)",
          hint);
    }
    Luks2 h = new Luks2();
    h.hdrSize = hdrSize;
    h.seqid = b.getLong(16);
    try {
      h.label = cstring(bin, 24, 48, where + ": label");
      h.csumAlg = cstring(bin, 72, 32, where + ": csum_alg");
      h.uuid = cstring(bin, 168, 40, where + ": uuid");
      h.subsystem = cstring(bin, 208, 48, where + ": subsystem");
    } catch (LuksException e) {
      return new Copy(null, e.getMessage(), hint);
    }
    byte[] salt = Arrays.copyOfRange(bin, 104, 168);
    if (offset == 0) {
      h.salt1 = salt;
    } else {
      h.salt2 = salt;
    }
    if (!Hashes.known(h.csumAlg)) {
      return new Copy(null, where + ": csum_alg " + h.csumAlg + " is not supported", hint);
    }
    if (offset + hdrSize > dev.size()) {
      return new Copy(
          null,
          where
              + ": JSON area ends at "
              + (offset + hdrSize)
              + ", past the end of "
              + dev.name()
              + " ("
              + dev.size()
              + " bytes)",
          hint);
    }
    byte[] area = HeaderIo.read(dev, offset + BIN_SIZE, (int) (hdrSize - BIN_SIZE), where);
    byte[] stored = Arrays.copyOfRange(bin, 448, 512);
    Arrays.fill(bin, 448, 512, (byte) 0);
    byte[] csum = Hashes.digest(h.csumAlg, bin, area);
    if (!HeaderIo.equal(Arrays.copyOf(stored, csum.length), csum)) {
      return new Copy(
          null, where + ": checksum mismatch (" + h.csumAlg + " over header and JSON area)", hint);
    }
    hint = offset == 0 ? hdrSize : -1;
    int end = 0;
    while (end < area.length && area[end] != 0) {
      end++;
    }
    if (end == area.length) {
      return new Copy(null, where + ": JSON area is not NUL-terminated", hint);
    }
    JsonNode root;
    try {
      root = JsonTree.read(new String(area, 0, end, StandardCharsets.UTF_8));
    } catch (JsonProcessingException e) {
      return new Copy(null, where + ": JSON does not parse: " + e.getOriginalMessage(), hint);
    }
    if (root == null || !root.isObject()) {
      return new Copy(null, where + ": JSON is not an object", hint);
    }
    h.json = (ObjectNode) root;
    try {
      h.validate(where);
    } catch (LuksException e) {
      return new Copy(null, e.getMessage(), hint);
    }
    return new Copy(h, null, hint);
  }

  private static String cstring(byte[] raw, int off, int len, String where) throws LuksException {
    int n = 0;
    while (n < len && raw[off + n] != 0) {
      n++;
    }
    if (n == len) {
      throw new LuksException(where + ": not NUL-terminated within " + len + " bytes");
    }
    return new String(raw, off, n, StandardCharsets.UTF_8);
  }

  // ---------------------------------------------------------------------------------------------
  // Validation

  /**
   * Checks the JSON and rebuilds the parsed views. The rules: the five top-level objects exist;
   * {@code config.json_size} is {@code hdr_size - 4096}; {@code keyslots_size} is a multiple of
   * 4096; member names are decimal ids (keyslots below 32); every field a keyslot, segment or
   * digest needs is there with its type (u64 as decimal strings, binary as base64); keyslot areas
   * lie in the keyslots area {@code [2 * hdr_size, 2 * hdr_size + keyslots_size)}, hold the AF
   * material and do not overlap; a data segment does not start inside the keyslots area (offset 0,
   * a detached header, excepted); sector sizes are 512 to 4096; digests name keyslots and segments
   * that exist.
   */
  void validate(String where) throws LuksException {
    Json j = new Json(where);
    keyslots.clear();
    segments.clear();
    digests.clear();
    flags.clear();
    requirements.clear();
    ObjectNode ks = j.object(json, "keyslots", "");
    ObjectNode tokens = j.object(json, "tokens", "");
    ObjectNode segs = j.object(json, "segments", "");
    ObjectNode dgs = j.object(json, "digests", "");
    ObjectNode config = j.object(json, "config", "");
    long jsonSize = j.u64(config, "json_size", "config");
    if (jsonSize != hdrSize - BIN_SIZE) {
      throw j.error(
          "config.json_size",
          jsonSize + " (expected: hdr_size - 4096 = " + (hdrSize - BIN_SIZE) + ")");
    }
    keyslotsSize = j.u64(config, "keyslots_size", "config");
    if (keyslotsSize % 4096 != 0 || keyslotsSize > MAX_KEYSLOTS_SIZE) {
      throw j.error(
          "config.keyslots_size",
          keyslotsSize + " (expected: a multiple of 4096, <= 128 MiB, cryptsetup's limit)");
    }
    if (config.has("flags")) {
      for (JsonNode f : j.array(config, "flags", "config")) {
        if (!f.isTextual()) {
          throw j.error("config.flags", "expected strings");
        }
        flags.add(f.textValue());
      }
    }
    if (config.has("requirements")) {
      ObjectNode req = j.object(config, "requirements", "config");
      if (req.has("mandatory")) {
        for (JsonNode f : j.array(req, "mandatory", "config.requirements")) {
          if (!f.isTextual()) {
            throw j.error("config.requirements.mandatory", "expected strings");
          }
          requirements.add(f.textValue());
        }
      }
    }
    long areaStart = 2 * hdrSize;
    long areaEnd = areaStart + keyslotsSize;
    for (Iterator<Map.Entry<String, JsonNode>> it = ks.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      int id = j.id(e.getKey(), "keyslots", KEYSLOTS_MAX - 1);
      keyslots.put(id, parseKeyslot(j, id, e.getValue(), areaStart, areaEnd));
    }
    List<Keyslot> list = new ArrayList<>(keyslots.values());
    for (int a = 0; a < list.size(); a++) {
      for (int b = a + 1; b < list.size(); b++) {
        Keyslot x = list.get(a);
        Keyslot y = list.get(b);
        if (x.areaSize > 0
            && y.areaSize > 0
            && x.areaOffset < y.areaOffset + y.areaSize
            && y.areaOffset < x.areaOffset + x.areaSize) {
          throw j.error("keyslots." + y.id + ".area", "overlaps the area of keyslot " + x.id);
        }
      }
    }
    // LUKS2_token_validate: a type, and keyslots that exist (cryptsetup refuses the header else)
    for (Iterator<Map.Entry<String, JsonNode>> it = tokens.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      int id = j.id(e.getKey(), "tokens", Integer.MAX_VALUE);
      String path = "tokens." + id;
      JsonNode t = e.getValue();
      if (!t.isObject()) {
        throw j.error(path, "expected an object");
      }
      j.string(t, "type", path);
      ids(j, t, "keyslots", path, keyslots.keySet());
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = segs.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      int id = j.id(e.getKey(), "segments", Integer.MAX_VALUE);
      String path = "segments." + id;
      JsonNode s = e.getValue();
      if (!s.isObject()) {
        throw j.error(path, "expected an object");
      }
      String type = j.string(s, "type", path);
      long offset = j.u64(s, "offset", path);
      String sizeText = j.string(s, "size", path);
      long size = sizeText.equals("dynamic") ? -1 : j.parseU64(sizeText, path + ".size");
      if (offset % 512 != 0 || (size > 0 && size % 512 != 0)) {
        throw j.error(path, "offset " + offset + " and size must be multiples of 512");
      }
      if (offset != 0 && offset < areaEnd) {
        throw j.error(
            path + ".offset",
            offset + " is inside the header and keyslots area, which ends at " + areaEnd);
      }
      long ivTweak = 0;
      String enc = null;
      int sectorSize = 512;
      if (type.equals("crypt")) {
        ivTweak = j.u64(s, "iv_tweak", path);
        enc = j.string(s, "encryption", path);
        sectorSize = (int) j.integer(s, "sector_size", path, 512, 4096);
        if (Integer.bitCount(sectorSize) != 1) {
          throw j.error(path + ".sector_size", sectorSize + " (expected: 512, 1024, 2048, 4096)");
        }
      }
      segments.put(id, new Segment(id, type, offset, size, ivTweak, enc, sectorSize));
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = dgs.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      int id = j.id(e.getKey(), "digests", Integer.MAX_VALUE);
      String path = "digests." + id;
      JsonNode d = e.getValue();
      if (!d.isObject()) {
        throw j.error(path, "expected an object");
      }
      String type = j.string(d, "type", path);
      List<Integer> dks = ids(j, d, "keyslots", path, keyslots.keySet());
      List<Integer> dss = ids(j, d, "segments", path, segments.keySet());
      String hash = null;
      long iterations = 0;
      byte[] salt = null;
      byte[] digest = null;
      if (type.equals("pbkdf2")) {
        hash = j.string(d, "hash", path);
        iterations = j.integer(d, "iterations", path, 1, 0xFFFF_FFFFL);
        salt = j.base64(d, "salt", path);
        digest = j.base64(d, "digest", path);
        if (digest.length == 0) {
          throw j.error(path + ".digest", "empty");
        }
      }
      digests.put(id, new Digest(id, type, dks, dss, hash, iterations, salt, digest));
    }
  }

  private static List<Integer> ids(
      Json j, JsonNode d, String key, String path, java.util.Set<Integer> existing)
      throws LuksException {
    List<Integer> out = new ArrayList<>();
    for (JsonNode n : j.array(d, key, path)) {
      if (!n.isTextual()) {
        throw j.error(path + "." + key, "expected id strings");
      }
      int id = j.id(n.textValue(), path + "." + key, Integer.MAX_VALUE);
      if (!existing.contains(id)) {
        throw j.error(path + "." + key, "names " + key + " " + id + ", which does not exist");
      }
      out.add(id);
    }
    return out;
  }

  private static Keyslot parseKeyslot(Json j, int id, JsonNode k, long areaStart, long areaEnd)
      throws LuksException {
    String path = "keyslots." + id;
    if (!k.isObject()) {
      throw j.error(path, "expected an object");
    }
    String type = j.string(k, "type", path);
    if (!type.equals("luks2")) {
      // reencrypt and other keyslot types: kept, never used to open
      return new Keyslot(id, type, 0, 0, 0, null, 0, 0, null, 0, null, null, null);
    }
    int keySize = (int) j.integer(k, "key_size", path, 1, 512);
    int priority = k.has("priority") ? (int) j.integer(k, "priority", path, 0, 2) : 1;
    ObjectNode af = j.object(k, "af", path);
    String afType = j.string(af, "type", path + ".af");
    if (!afType.equals("luks1")) {
      throw j.error(path + ".af.type", afType + " (expected: luks1)");
    }
    // an int, as cryptsetup checks it; cryptsetup reads 4000 stripes whatever it says
    int stripes =
        (int) j.integer(af, "stripes", path + ".af", Integer.MIN_VALUE, Integer.MAX_VALUE);
    String afHash = j.string(af, "hash", path + ".af");
    ObjectNode area = j.object(k, "area", path);
    String areaType = j.string(area, "type", path + ".area");
    if (!areaType.equals("raw")) {
      throw j.error(path + ".area.type", areaType + " (expected: raw)");
    }
    long offset = j.u64(area, "offset", path + ".area");
    long size = j.u64(area, "size", path + ".area");
    String enc = j.string(area, "encryption", path + ".area");
    int areaKeySize = (int) j.integer(area, "key_size", path + ".area", 1, 512);
    if (offset < areaStart || offset + size > areaEnd || offset + size < offset) {
      throw j.error(
          path + ".area",
          "bytes "
              + offset
              + " to "
              + (offset + size)
              + " are outside the keyslots area ["
              + areaStart
              + ", "
              + areaEnd
              + ")");
    }
    long material = (long) AfSplitter.splitSectors(keySize, STRIPES) * 512;
    if (size < material) {
      throw j.error(
          path + ".area.size", size + " is smaller than the AF material of " + material + " bytes");
    }
    ObjectNode kdf = j.object(k, "kdf", path);
    String kdfPath = path + ".kdf";
    String kdfType = j.string(kdf, "type", kdfPath);
    Pbkdf pbkdf = null;
    byte[] salt = j.base64(kdf, "salt", kdfPath);
    switch (kdfType) {
      case "pbkdf2" -> {
        String hash = j.string(kdf, "hash", kdfPath);
        long it = j.integer(kdf, "iterations", kdfPath, 1, 0xFFFF_FFFFL);
        if (Hashes.known(hash)) {
          pbkdf = Pbkdf.pbkdf2(hash, it);
        }
      }
      case "argon2i", "argon2id" -> {
        long time = j.integer(kdf, "time", kdfPath, 1, 0xFFFF_FFFFL);
        long memory = j.integer(kdf, "memory", kdfPath, 1, 0xFFFF_FFFFL);
        int cpus = (int) j.integer(kdf, "cpus", kdfPath, 1, 0xFF_FFFF);
        pbkdf = new Pbkdf(kdfType, null, time, memory, cpus);
      }
      default -> {
        // an unknown KDF makes the keyslot unusable, not the header invalid
      }
    }
    return new Keyslot(
        id,
        type,
        keySize,
        priority,
        stripes,
        afHash,
        offset,
        size,
        enc,
        areaKeySize,
        kdfType,
        pbkdf,
        salt);
  }

  // ---------------------------------------------------------------------------------------------
  // Writing

  void write(BlockDevice dev) throws IOException {
    validate("LUKS2 header to write");
    byte[] text = JsonTree.write(json);
    int jsonSize = (int) (hdrSize - BIN_SIZE);
    if (text.length >= jsonSize) {
      throw new LuksException(
          "LUKS2 JSON metadata of "
              + text.length
              + " bytes does not fit the "
              + jsonSize
              + "-byte JSON area (with its NUL)");
    }
    seqid++;
    SecureRandom random = new SecureRandom();
    if (salt1 == null) {
      salt1 = new byte[64];
      random.nextBytes(salt1);
    }
    if (salt2 == null) {
      salt2 = new byte[64];
      random.nextBytes(salt2);
    }
    byte[] area = Arrays.copyOf(text, jsonSize);
    for (long offset : new long[] {0, hdrSize}) {
      byte[] bin = new byte[BIN_SIZE];
      ByteBuffer b = ByteBuffer.wrap(bin);
      System.arraycopy(offset == 0 ? MAGIC1 : MAGIC2, 0, bin, 0, 6);
      b.putShort(6, (short) 2);
      b.putLong(8, hdrSize);
      b.putLong(16, seqid);
      putString(bin, 24, 48, label);
      putString(bin, 72, 32, csumAlg);
      System.arraycopy(offset == 0 ? salt1 : salt2, 0, bin, 104, 64);
      putString(bin, 168, 40, uuid);
      putString(bin, 208, 48, subsystem);
      b.putLong(256, offset);
      byte[] csum = Hashes.digest(csumAlg, bin, area);
      System.arraycopy(csum, 0, bin, 448, csum.length);
      String where = "LUKS2 header at offset " + offset;
      HeaderIo.write(dev, offset, bin, where);
      HeaderIo.write(dev, offset + BIN_SIZE, area, where);
      dev.flush();
    }
  }

  private static void putString(byte[] raw, int off, int len, String s) {
    if (s == null) {
      return;
    }
    byte[] v = s.getBytes(StandardCharsets.UTF_8);
    if (v.length >= len) {
      throw new IllegalArgumentException(
          "\"" + s + "\" does not fit a LUKS2 header field of " + len + " bytes with its NUL");
    }
    System.arraycopy(v, 0, raw, off, v.length);
  }

  // ---------------------------------------------------------------------------------------------
  // Keyslots

  /** The digest that lists {@code keyslot}, or {@code null}. */
  Digest digestOf(int keyslot) {
    for (Digest d : digests.values()) {
      if (d.keyslots.contains(keyslot)) {
        return d;
      }
    }
    return null;
  }

  /** The data segment: the crypt segment with the lowest id. */
  Segment segment() throws LuksException {
    if (!requirements.isEmpty()) {
      throw new LuksException(
          "LUKS2 header: unmet requirements "
              + requirements
              + " (config.requirements.mandatory; jdm supports none, e.g. no reencryption)");
    }
    if (segments.size() != 1) {
      throw new LuksException(
          "LUKS2 header: "
              + segments.size()
              + " segments (expected: 1; several mean a reencryption in progress)");
    }
    Segment s = segments.values().iterator().next();
    if (!s.type.equals("crypt")) {
      throw new LuksException("LUKS2 segment " + s.id + ": type " + s.type + " (expected: crypt)");
    }
    return s;
  }

  /**
   * Tries keyslot {@code k}; the volume key, or {@code null} if the passphrase is wrong.
   *
   * @throws LuksException if the keyslot cannot be used at all (unknown KDF, hash or cipher,
   *     unreasonable costs, area outside the device)
   */
  byte[] tryKeyslot(BlockDevice dev, Keyslot k, Digest d, byte[] passphrase, KdfLimit limit)
      throws IOException {
    String where = "LUKS2 keyslot " + k.id;
    if (k.kdf == null) {
      throw new LuksException(
          where
              + ": KDF "
              + k.kdfType
              + (k.kdfType.equals("pbkdf2") ? " with an unsupported hash" : " is not supported")
              + " (expected: pbkdf2, argon2i, argon2id)");
    }
    if (!Hashes.known(k.afHash)) {
      throw new LuksException(where + ": af.hash " + k.afHash + " is not supported");
    }
    if (!d.type.equals("pbkdf2") || !Hashes.known(d.hash)) {
      throw new LuksException(
          "LUKS2 digest " + d.id + ": type " + d.type + " hash " + d.hash + " is not supported");
    }
    if (k.kdfSalt.length != SALT_SIZE) {
      throw new LuksException(
          where
              + ": JSON keyslots."
              + k.id
              + ".kdf.salt: "
              + k.kdfSalt.length
              + " bytes (expected: "
              + SALT_SIZE
              + ")");
    }
    // PBKDF2_digest_verify's rules, which also bound the work a hostile digest can ask for
    int hashSize = Hashes.require(d.hash).getDigestSize();
    if (d.salt.length != SALT_SIZE) {
      throw new LuksException(
          "LUKS2 digest "
              + d.id
              + ": JSON digests."
              + d.id
              + ".salt: "
              + d.salt.length
              + " bytes (expected: "
              + SALT_SIZE
              + ")");
    }
    if (d.digest.length > 64 || (d.digest.length != 20 && d.digest.length != hashSize)) {
      throw new LuksException(
          "LUKS2 digest "
              + d.id
              + ": JSON digests."
              + d.id
              + ".digest: "
              + d.digest.length
              + " bytes (expected: 20 or the "
              + d.hash
              + " size "
              + hashSize
              + ", at most 64)");
    }
    k.kdf.checkForUse(where);
    // luks2_keyslot_get_key reads LUKS_STRIPES (4000) stripes, whatever af.stripes says
    int sectors = AfSplitter.splitSectors(k.keySize, STRIPES);
    byte[] material =
        HeaderIo.read(dev, k.areaOffset, sectors * 512, where + " area at " + k.areaOffset);
    byte[] derived = k.kdf.derive(passphrase, k.kdfSalt, k.areaKeySize, limit, where);
    try {
      HeaderIo.cryptArea(k.areaEncryption, derived, material, false, where);
    } finally {
      HeaderIo.wipe(derived);
    }
    byte[] vk = AfSplitter.merge(material, k.keySize, STRIPES, k.afHash);
    HeaderIo.wipe(material);
    boolean ok;
    try {
      ok = verify(d, vk, limit);
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

  static boolean verify(Digest d, byte[] vk, KdfLimit limit) throws IOException {
    byte[] c =
        Pbkdf.pbkdf2(d.hash, d.iterations)
            .derive(vk, d.salt, d.digest.length, limit, "LUKS2 digest " + d.id);
    return HeaderIo.equal(c, d.digest);
  }

  /**
   * Unlocks the data segment with any keyslot ({@code slot < 0}: priority high first, then normal;
   * priority 0 skipped, as cryptsetup) or the given one, within {@code limit}: reaching it ends the
   * search, where a keyslot that cannot be used only moves it on to the next.
   */
  Unlocked unlock(BlockDevice dev, byte[] passphrase, int slot, KdfLimit limit) throws IOException {
    Segment seg = segment();
    LuksException unusable = null;
    boolean tried = false;
    for (int prio = 2; prio >= (slot >= 0 ? 0 : 1); prio--) {
      for (Keyslot k : keyslots.values()) {
        if ((slot >= 0 && k.id != slot) || k.priority != prio || !k.type.equals("luks2")) {
          continue;
        }
        Digest d = digestOf(k.id);
        if (d == null || !d.segments.contains(seg.id)) {
          continue; // unbound keyslot
        }
        byte[] vk;
        try {
          vk = tryKeyslot(dev, k, d, passphrase, limit);
        } catch (KdfLimit.Expired e) {
          throw e;
        } catch (LuksException e) {
          if (unusable == null) {
            unusable = e;
          }
          continue;
        }
        tried = true;
        if (vk != null) {
          return new Unlocked(k.id, vk);
        }
      }
    }
    if (unusable != null && !tried) {
      throw unusable;
    }
    throw new LuksPassphraseException();
  }

  /** The volume for an unlocked key. */
  LuksVolume volume(BlockDevice dev, Unlocked u) throws LuksException {
    Segment s = segment();
    long devSize = dev.size();
    long size;
    if (s.size < 0) {
      if (s.offset >= devSize) {
        throw new LuksException(
            "LUKS2 segment "
                + s.id
                + ": offset "
                + s.offset
                + " is at or past the end of "
                + dev.name()
                + " ("
                + devSize
                + " bytes)");
      }
      size = (devSize - s.offset) / s.sectorSize * s.sectorSize;
    } else {
      if (s.offset + s.size > devSize) {
        throw new LuksException(
            "LUKS2 segment "
                + s.id
                + ": bytes "
                + s.offset
                + " to "
                + (s.offset + s.size)
                + " are outside "
                + dev.name()
                + " ("
                + devSize
                + " bytes)");
      }
      size = s.size;
    }
    List<String> opts = new ArrayList<>();
    // get_dm_crypt_params' order
    for (String[] f :
        new String[][] {
          {"allow-discards", "allow_discards"},
          {"same-cpu-crypt", "same_cpu_crypt"},
          {"submit-from-crypt-cpus", "submit_from_crypt_cpus"},
          {"no-read-workqueue", "no_read_workqueue"},
          {"no-write-workqueue", "no_write_workqueue"}
        }) {
      if (flags.contains(f[0])) {
        opts.add(f[1]);
      }
    }
    if (s.sectorSize != 512) {
      opts.add("sector_size:" + s.sectorSize);
    }
    return new LuksVolume(
        2,
        uuid,
        u.keyslot(),
        s.encryption,
        s.offset / 512,
        size / 512,
        s.sectorSize,
        s.ivTweak,
        opts,
        u.key());
  }

  int freeKeyslotId() {
    for (int i = 0; i < KEYSLOTS_MAX; i++) {
      if (!keyslots.containsKey(i)) {
        return i;
      }
    }
    return -1;
  }

  /**
   * The lowest free 4 KiB-aligned gap of {@code size} bytes, ignoring {@code except}; -1 if none.
   */
  long findArea(long size, int except) {
    long start = 2 * hdrSize;
    long end = start + keyslotsSize;
    List<long[]> used = new ArrayList<>();
    for (Keyslot k : keyslots.values()) {
      if (k.id != except && k.areaSize > 0) {
        used.add(new long[] {k.areaOffset, k.areaOffset + k.areaSize});
      }
    }
    used.sort((a, b) -> Long.compare(a[0], b[0]));
    long pos = start;
    for (long[] u : used) {
      if (u[0] >= pos + size) {
        break;
      }
      pos = Math.max(pos, HeaderIo.alignUp(u[1], 4096));
    }
    return pos + size <= end ? pos : -1;
  }

  static long areaSize(int keySize) {
    return HeaderIo.alignUp((long) AfSplitter.splitSectors(keySize, STRIPES) * 512, 4096);
  }

  /** A keyslot made but not written: its area, encrypted key material and JSON. */
  record NewKeyslot(long area, byte[] material, ObjectNode json) {
    /** Writes the material to its area and returns the JSON (not yet in the header). */
    ObjectNode writeArea(BlockDevice dev) throws IOException {
      HeaderIo.write(dev, area, material, "LUKS2 keyslot area at " + area);
      dev.flush();
      return json;
    }
  }

  /**
   * Derives the key of a new keyslot at {@code area} for {@code passphrase} and encrypts {@code
   * vk}'s AF material under it; writes nothing, so that an interrupted or failed derivation leaves
   * the device as it was.
   */
  static NewKeyslot makeKeyslot(
      long area,
      byte[] vk,
      byte[] passphrase,
      Pbkdf kdf,
      String afHash,
      String encryption,
      int priority,
      SecureRandom random,
      KdfLimit limit)
      throws IOException {
    kdf.checkForNewKeyslot();
    byte[] salt = new byte[SALT_SIZE];
    random.nextBytes(salt);
    int keySize = vk.length;
    byte[] derived = kdf.derive(passphrase, salt, keySize, limit, "new LUKS2 keyslot");
    byte[] material = new byte[AfSplitter.splitSectors(keySize, STRIPES) * 512];
    byte[] split = AfSplitter.split(vk, STRIPES, afHash, random);
    System.arraycopy(split, 0, material, 0, split.length);
    HeaderIo.wipe(split);
    try {
      HeaderIo.cryptArea(encryption, derived, material, true, "new LUKS2 keyslot");
    } finally {
      HeaderIo.wipe(derived);
    }
    JsonNodeFactory f = JsonNodeFactory.instance;
    ObjectNode k = f.objectNode();
    k.put("type", "luks2");
    k.put("key_size", keySize);
    ObjectNode af = k.putObject("af");
    af.put("type", "luks1");
    af.put("stripes", STRIPES);
    af.put("hash", afHash);
    ObjectNode a = k.putObject("area");
    a.put("type", "raw");
    a.put("offset", Long.toString(area));
    a.put("size", Long.toString(areaSize(keySize)));
    a.put("encryption", encryption);
    a.put("key_size", keySize);
    ObjectNode d = k.putObject("kdf");
    d.put("type", kdf.type());
    if (kdf.isArgon2()) {
      d.put("time", kdf.iterations());
      d.put("memory", kdf.memoryKiB());
      d.put("cpus", kdf.parallel());
    } else {
      d.put("hash", kdf.hash().toLowerCase(Locale.ROOT));
      d.put("iterations", kdf.iterations());
    }
    d.put("salt", Base64.getEncoder().encodeToString(salt));
    if (priority != 1) {
      k.put("priority", priority);
    }
    return new NewKeyslot(area, material, k);
  }

  /** Adds {@code id} to the keyslots of digest {@code d}. */
  void bindToDigest(int id, Digest d) {
    ArrayNode ks = (ArrayNode) json.get("digests").get(Integer.toString(d.id)).get("keyslots");
    ks.add(Integer.toString(id));
  }

  /**
   * Removes keyslot {@code id} from the JSON, every digest and every token, as cryptsetup's {@code
   * luks2_keyslot_wipe} (a token naming a keyslot that does not exist makes the header invalid).
   */
  void unbind(int id) {
    ((ObjectNode) json.get("keyslots")).remove(Integer.toString(id));
    List<JsonNode> holders = new ArrayList<>();
    json.get("digests").forEach(holders::add);
    json.get("tokens").forEach(holders::add);
    for (JsonNode d : holders) {
      ArrayNode ks = (ArrayNode) d.get("keyslots");
      for (int i = ks.size() - 1; i >= 0; i--) {
        if (ks.get(i).asText().equals(Integer.toString(id))) {
          ks.remove(i);
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Format

  static LuksVolume format(BlockDevice dev, byte[] passphrase, LuksFormatOptions o, KdfLimit limit)
      throws IOException {
    SecureRandom random = o.random();
    long hdrSize = o.metadataSize();
    int keySize = o.keySizeBits() / 8;
    long keyslotsSize;
    long dataOffset;
    if (o.dataOffset() >= 0 && o.keyslotsSize() < 0) {
      dataOffset = o.dataOffset();
      // LUKS2_generate_hdr: the gap, 4 KiB aligned, at most 128 MiB
      keyslotsSize = Math.min((dataOffset - 2 * hdrSize) / 4096 * 4096, MAX_KEYSLOTS_SIZE);
    } else if (o.keyslotsSize() >= 0) {
      keyslotsSize = o.keyslotsSize();
      dataOffset =
          o.dataOffset() >= 0
              ? o.dataOffset()
              : HeaderIo.alignUp(2 * hdrSize + keyslotsSize, 1 << 20);
    } else {
      dataOffset = LuksFormatOptions.DEFAULT_DATA_OFFSET;
      keyslotsSize = dataOffset - 2 * hdrSize;
    }
    long need = areaSize(keySize);
    if (keyslotsSize < need || dataOffset < 2 * hdrSize + keyslotsSize) {
      throw new IllegalArgumentException(
          "LUKS2 layout: data offset "
              + dataOffset
              + " leaves a keyslots area of "
              + keyslotsSize
              + " bytes after two "
              + hdrSize
              + "-byte header copies; one keyslot of a "
              + keySize
              + "-byte key needs "
              + need);
    }
    if (dataOffset % o.sectorSize() != 0) {
      throw new IllegalArgumentException(
          "data offset " + dataOffset + " is not a multiple of the sector size " + o.sectorSize());
    }
    if (dev.size() <= dataOffset) {
      throw new LuksException(
          "device "
              + dev.name()
              + " ("
              + dev.size()
              + " bytes) is too small for a LUKS2 header with data at "
              + dataOffset);
    }
    if ((dev.size() - dataOffset) % o.sectorSize() != 0) {
      // _crypt_format_luks2: else the kernel refuses the crypt table cryptsetup 2.6 loads
      throw new LuksException(
          "device "
              + dev.name()
              + ": the "
              + (dev.size() - dataOffset)
              + " bytes after the data offset "
              + dataOffset
              + " are not a multiple of the sector size "
              + o.sectorSize()
              + " (cryptsetup: Device size is not aligned to requested sector size.)");
    }
    byte[] vk = o.volumeKey();
    if (vk == null) {
      vk = new byte[keySize];
      random.nextBytes(vk);
    }
    try {
      return format(dev, passphrase, o, random, hdrSize, keyslotsSize, dataOffset, vk, limit);
    } catch (IOException | RuntimeException e) {
      Arrays.fill(vk, (byte) 0); // nothing returned the key: wipe it
      throw e;
    }
  }

  /** The rest of {@code format}, once the layout is checked and the volume key made. */
  private static LuksVolume format(
      BlockDevice dev,
      byte[] passphrase,
      LuksFormatOptions o,
      SecureRandom random,
      long hdrSize,
      long keyslotsSize,
      long dataOffset,
      byte[] vk,
      KdfLimit limit)
      throws IOException {
    Luks2 h = new Luks2();
    h.hdrSize = hdrSize;
    h.seqid = 0;
    h.label = o.label() == null ? "" : o.label();
    h.subsystem = o.subsystem() == null ? "" : o.subsystem();
    h.csumAlg = "sha256";
    h.uuid = o.uuid().toLowerCase(Locale.ROOT);
    h.salt1 = new byte[64];
    h.salt2 = new byte[64];
    random.nextBytes(h.salt1);
    random.nextBytes(h.salt2);
    JsonNodeFactory f = JsonNodeFactory.instance;
    ObjectNode root = f.objectNode();
    ObjectNode keyslotsJson = root.putObject("keyslots");
    root.putObject("tokens");
    ObjectNode seg = root.putObject("segments").putObject("0");
    seg.put("type", "crypt");
    seg.put("offset", Long.toString(dataOffset));
    seg.put("size", "dynamic");
    seg.put("iv_tweak", "0");
    seg.put("encryption", o.cipher());
    seg.put("sector_size", o.sectorSize());
    ObjectNode digest = root.putObject("digests").putObject("0");
    digest.put("type", "pbkdf2");
    digest.putArray("keyslots").add("0");
    digest.putArray("segments").add("0");
    digest.put("hash", o.hash());
    digest.put("iterations", o.digestIterations());
    byte[] dsalt = new byte[SALT_SIZE];
    random.nextBytes(dsalt);
    byte[] dv =
        Pbkdf.pbkdf2(o.hash(), o.digestIterations())
            .derive(vk, dsalt, Hashes.require(o.hash()).getDigestSize(), limit, "new LUKS2 digest");
    digest.put("salt", Base64.getEncoder().encodeToString(dsalt));
    digest.put("digest", Base64.getEncoder().encodeToString(dv));
    ObjectNode config = root.putObject("config");
    config.put("json_size", Long.toString(hdrSize - BIN_SIZE));
    config.put("keyslots_size", Long.toString(keyslotsSize));
    h.json = root;
    // all derivation before the first write: an interrupted format leaves the device as it was
    NewKeyslot k =
        makeKeyslot(2 * hdrSize, vk, passphrase, o.pbkdf(), o.hash(), o.cipher(), 1, random, limit);
    // zeros over both header copies, random over the keyslots area (luksFormat's wipe)
    HeaderIo.wipe(dev, 0, 2 * hdrSize, null, "LUKS2 header area");
    HeaderIo.wipe(dev, 2 * hdrSize, keyslotsSize, random, "LUKS2 keyslots area");
    keyslotsJson.set("0", k.writeArea(dev));
    h.write(dev);
    return h.volume(dev, new Unlocked(0, vk));
  }
}
