package io.jdm.crypto.luks;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdm.core.BlockDevice;
import java.io.IOException;
import java.util.Base64;
import java.util.Iterator;
import java.util.Map;

/**
 * {@code cryptsetup luksDump}'s text for a LUKS1 or LUKS2 header, byte for byte as cryptsetup 2.6.1
 * prints it: LUKS1 from {@code lib/setup.c} ({@code _luks_dump}), LUKS2 from {@code
 * lib/luks2/luks2_json_metadata.c} ({@code LUKS2_hdr_dump}) with the keyslot, digest and keyring
 * token dumps of {@code luks2_keyslot_luks2.c}, {@code luks2_digest_pbkdf2.c} and {@code
 * luks2_token_keyring.c}.
 *
 * <p>LUKS2 sections are printed in id order (keyslots and tokens 0 to 31, segments 0 to 31, digests
 * 0 to 7), the {@code Digest ID} of a keyslot in the JSON's digest order, as cryptsetup does.
 * Keyslots of another type than {@code luks2} (cryptsetup's {@code reencrypt}) show only their
 * first lines, and tokens of an external type (systemd's) their type and keyslots, where cryptsetup
 * would ask the type's plugin.
 */
public final class LuksDump {
  private LuksDump() {}

  /**
   * The dump of the header on {@code device}.
   *
   * @param path the device as the user named it: LUKS1's first line names it
   * @throws LuksException if {@code device} holds no valid LUKS header
   */
  public static String dump(BlockDevice device, String path) throws IOException {
    int v = Luks.version(device);
    if (v == 1) {
      return luks1(Luks1.read(device), path);
    }
    if (v == 2) {
      return luks2(Luks2.read(device));
    }
    throw new LuksException("device " + device.name() + " is not a LUKS device");
  }

  static String luks1(Luks1 h, String path) {
    StringBuilder sb = new StringBuilder();
    sb.append("LUKS header information for ").append(path).append("\n\n");
    sb.append("Version:       \t1\n");
    sb.append("Cipher name:   \t").append(h.cipherName).append('\n');
    sb.append("Cipher mode:   \t").append(h.cipherMode).append('\n');
    sb.append("Hash spec:     \t").append(h.hashSpec).append('\n');
    sb.append("Payload offset:\t").append(h.payloadOffset).append('\n');
    sb.append("MK bits:       \t").append(h.keyBytes * 8L).append('\n');
    sb.append("MK digest:     \t");
    hex(sb, h.mkDigest, 0, Luks1.DIGEST_SIZE);
    sb.append("\nMK salt:       \t");
    hex(sb, h.mkDigestSalt, 0, Luks1.SALT_SIZE / 2);
    sb.append("\n               \t");
    hex(sb, h.mkDigestSalt, Luks1.SALT_SIZE / 2, Luks1.SALT_SIZE / 2);
    sb.append('\n');
    sb.append("MK iterations: \t").append(h.mkDigestIter).append('\n');
    sb.append("UUID:          \t").append(h.uuid).append("\n\n");
    for (int i = 0; i < Luks1.SLOTS; i++) {
      Luks1.Slot s = h.slots[i];
      if (!s.active) {
        sb.append("Key Slot ").append(i).append(": DISABLED\n");
        continue;
      }
      sb.append("Key Slot ").append(i).append(": ENABLED\n");
      sb.append("\tIterations:         \t").append(s.iterations).append('\n');
      sb.append("\tSalt:               \t");
      hex(sb, s.salt, 0, Luks1.SALT_SIZE / 2);
      sb.append("\n\t                      \t");
      hex(sb, s.salt, Luks1.SALT_SIZE / 2, Luks1.SALT_SIZE / 2);
      sb.append('\n');
      sb.append("\tKey material offset:\t").append(s.keyMaterialOffset).append('\n');
      sb.append("\tAF stripes:            \t").append(s.stripes).append('\n');
    }
    return sb.toString();
  }

  /** {@code crypt_log_hex} with a {@code " "} separator: every byte followed by a space. */
  private static void hex(StringBuilder sb, byte[] b, int off, int len) {
    for (int i = off; i < off + len; i++) {
      sb.append(Character.forDigit((b[i] >> 4) & 0xF, 16))
          .append(Character.forDigit(b[i] & 0xF, 16))
          .append(' ');
    }
  }

  static String luks2(Luks2 h) {
    StringBuilder sb = new StringBuilder();
    JsonNode root = h.json;
    sb.append("LUKS header information\n");
    sb.append("Version:       \t2\n");
    sb.append("Epoch:         \t").append(h.seqid).append('\n');
    sb.append("Metadata area: \t").append(h.hdrSize).append(" [bytes]\n");
    sb.append("Keyslots area: \t").append(h.keyslotsSize).append(" [bytes]\n");
    sb.append("UUID:          \t").append(orElse(h.uuid, "(no UUID)")).append('\n');
    sb.append("Label:         \t").append(orElse(h.label, "(no label)")).append('\n');
    sb.append("Subsystem:     \t").append(orElse(h.subsystem, "(no subsystem)")).append('\n');
    config(sb, h);
    segments(sb, root.get("segments"));
    keyslots(sb, h);
    tokens(sb, root.get("tokens"));
    digests(sb, root.get("digests"));
    return sb.toString();
  }

  private static String orElse(String s, String empty) {
    return s == null || s.isEmpty() ? empty : s;
  }

  private static void config(StringBuilder sb, Luks2 h) {
    sb.append("Flags:       \t");
    for (String f : h.flags) {
      sb.append(f).append(' ');
    }
    sb.append(h.flags.isEmpty() ? "(no flags)" : "").append('\n');
    if (h.requirements.isEmpty()) {
      sb.append('\n');
      return;
    }
    sb.append("Requirements:\t");
    for (String r : h.requirements) {
      sb.append(r).append(' ');
    }
    sb.append("\n\n");
  }

  private static void segments(StringBuilder sb, JsonNode segments) {
    sb.append("Data segments:\n");
    for (int i = 0; i < 32; i++) {
      JsonNode s = segments.get(Integer.toString(i));
      if (s == null) {
        continue;
      }
      sb.append("  ").append(i).append(": ").append(s.path("type").asText()).append('\n');
      sb.append("\toffset: ").append(s.path("offset").asText()).append(" [bytes]\n");
      String size = s.path("size").asText();
      sb.append(
          size.equals("dynamic")
              ? "\tlength: (whole device)\n"
              : "\tlength: " + size + " [bytes]\n");
      if (s.has("encryption")) {
        sb.append("\tcipher: ").append(s.get("encryption").asText()).append('\n');
      }
      if (s.has("sector_size")) {
        sb.append("\tsector: ").append(s.get("sector_size").asLong()).append(" [bytes]\n");
      }
      if (s.has("integrity") && s.get("integrity").has("type")) {
        sb.append("\tintegrity: ").append(s.get("integrity").get("type").asText()).append('\n');
      }
      JsonNode flags = s.get("flags");
      if (flags != null && flags.isArray() && flags.size() > 0) {
        sb.append("\tflags : ").append(flags.get(0).asText());
        for (int j = 1; j < flags.size(); j++) {
          sb.append(", ").append(flags.get(j).asText());
        }
        sb.append('\n');
      }
      sb.append('\n');
    }
  }

  private static void keyslots(StringBuilder sb, Luks2 h) {
    sb.append("Keyslots:\n");
    JsonNode keyslots = h.json.get("keyslots");
    JsonNode digests = h.json.get("digests");
    for (int j = 0; j < Luks2.KEYSLOTS_MAX; j++) {
      String id = Integer.toString(j);
      JsonNode k = keyslots.get(id);
      if (k == null) {
        continue;
      }
      sb.append("  ").append(id).append(": ").append(k.path("type").asText());
      sb.append(bound(h, j) ? "" : " (unbound)").append('\n');
      if (k.has("key_size")) {
        sb.append("\tKey:        ").append(k.get("key_size").asLong() * 8).append(" bits\n");
      }
      int priority = k.has("priority") ? k.get("priority").asInt() : 1;
      sb.append("\tPriority:   ")
          .append(
              switch (priority) {
                case 0 -> "ignored";
                case 1 -> "normal";
                case 2 -> "preferred";
                default -> "invalid";
              })
          .append('\n');
      if (k.path("type").asText().equals("luks2")) {
        luks2Keyslot(sb, k);
      }
      for (Iterator<Map.Entry<String, JsonNode>> it = digests.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> d = it.next();
        for (JsonNode ks : d.getValue().path("keyslots")) {
          if (ks.asText().equals(id)) {
            sb.append("\tDigest ID:  ").append(d.getKey()).append('\n');
          }
        }
      }
    }
  }

  /**
   * {@code LUKS2_keyslot_for_segment(hdr, keyslot, CRYPT_ONE_SEGMENT)}: the keyslot's digest is the
   * (first) digest of some segment.
   */
  private static boolean bound(Luks2 h, int keyslot) {
    Luks2.Digest d = h.digestOf(keyslot);
    if (d == null) {
      return false;
    }
    for (int s : h.segments.keySet()) {
      for (Luks2.Digest any : h.digests.values()) {
        if (any.segments().contains(s)) {
          if (any.id() == d.id()) {
            return true;
          }
          break;
        }
      }
    }
    return false;
  }

  private static void luks2Keyslot(StringBuilder sb, JsonNode k) {
    JsonNode area = k.path("area");
    JsonNode kdf = k.path("kdf");
    JsonNode af = k.path("af");
    sb.append("\tCipher:     ").append(area.path("encryption").asText()).append('\n');
    sb.append("\tCipher key: ").append(area.path("key_size").asLong() * 8).append(" bits\n");
    String type = kdf.path("type").asText();
    sb.append("\tPBKDF:      ").append(type).append('\n');
    if (type.equals("pbkdf2")) {
      sb.append("\tHash:       ").append(kdf.path("hash").asText()).append('\n');
      sb.append("\tIterations: ").append(kdf.path("iterations").asLong()).append('\n');
    } else {
      sb.append("\tTime cost:  ").append(kdf.path("time").asLong()).append('\n');
      sb.append("\tMemory:     ").append(kdf.path("memory").asLong()).append('\n');
      sb.append("\tThreads:    ").append(kdf.path("cpus").asLong()).append('\n');
    }
    sb.append("\tSalt:       ");
    base64Hex(sb, kdf.path("salt").asText());
    sb.append("\tAF stripes: ").append(af.path("stripes").asInt()).append('\n');
    sb.append("\tAF hash:    ").append(af.path("hash").asText()).append('\n');
    sb.append("\tArea offset:").append(area.path("offset").asText()).append(" [bytes]\n");
    sb.append("\tArea length:").append(area.path("size").asText()).append(" [bytes]\n");
  }

  /** {@code hexprint_base64(cd, jobj, " ", " ")}: 16 bytes a line. */
  private static void base64Hex(StringBuilder sb, String base64) {
    byte[] b;
    try {
      b = Base64.getDecoder().decode(base64);
    } catch (IllegalArgumentException e) {
      return; // cryptsetup prints nothing, not even the newline, for bad base64
    }
    for (int i = 0; i < b.length; i++) {
      if (i > 0 && i % 16 == 0) {
        sb.append("\n\t            ");
      }
      sb.append(Character.forDigit((b[i] >> 4) & 0xF, 16))
          .append(Character.forDigit(b[i] & 0xF, 16))
          .append(' ');
    }
    sb.append('\n');
  }

  private static void tokens(StringBuilder sb, JsonNode tokens) {
    sb.append("Tokens:\n");
    for (int j = 0; j < 32; j++) {
      JsonNode t = tokens.get(Integer.toString(j));
      if (t == null) {
        continue;
      }
      String type = t.path("type").asText();
      sb.append("  ").append(j).append(": ").append(type).append('\n');
      if (type.equals("luks2-keyring") && t.has("key_description")) {
        sb.append("\tKey description: ").append(t.get("key_description").asText()).append('\n');
      }
      for (JsonNode ks : t.path("keyslots")) {
        sb.append("\tKeyslot:    ").append(ks.asText()).append('\n');
      }
    }
  }

  private static void digests(StringBuilder sb, JsonNode digests) {
    sb.append("Digests:\n");
    for (int i = 0; i < 8; i++) {
      JsonNode d = digests.get(Integer.toString(i));
      if (d == null) {
        continue;
      }
      String type = d.path("type").asText();
      sb.append("  ").append(i).append(": ").append(type).append('\n');
      if (type.equals("pbkdf2")) {
        sb.append("\tHash:       ").append(d.path("hash").asText()).append('\n');
        sb.append("\tIterations: ").append(d.path("iterations").asLong()).append('\n');
        sb.append("\tSalt:       ");
        base64Hex(sb, d.path("salt").asText());
        sb.append("\tDigest:     ");
        base64Hex(sb, d.path("digest").asText());
      }
    }
  }
}
