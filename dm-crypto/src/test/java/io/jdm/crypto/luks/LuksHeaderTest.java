package io.jdm.crypto.luks;

import static io.jdm.crypto.luks.LuksImages.PASS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdm.core.MemoryBlockDevice;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * Damaged and hostile headers: every one is refused with a {@link LuksException} that names the
 * place and the rule, or, where cryptsetup would carry on (one bad LUKS2 copy), read from the other
 * copy.
 */
class LuksHeaderTest {

  private static byte[] open(MemoryBlockDevice dev) throws Exception {
    try (LuksVolume v = Luks.open(dev, PASS)) {
      return v.volumeKey();
    }
  }

  @Test
  void wrongPassphraseHasCryptsetupsMessage() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    assertThatThrownBy(() -> Luks.open(dev, "nope".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(LuksPassphraseException.class)
        .hasMessage("No key available with this passphrase.");
    MemoryBlockDevice one = LuksImages.luks1();
    assertThatThrownBy(() -> Luks.open(one, new byte[0]))
        .isInstanceOf(LuksPassphraseException.class)
        .hasMessage("No key available with this passphrase.");
  }

  @Test
  void notLuksAtAll() throws Exception {
    MemoryBlockDevice dev = MemoryBlockDevice.create("blank", 4096);
    assertThat(Luks.version(dev)).isZero();
    assertThatThrownBy(() -> Luks.open(dev, PASS))
        .isInstanceOf(LuksException.class)
        .hasMessageStartingWith(
            "device blank is not a LUKS device: LUKS2 header at offset 0: bad magic")
        .hasMessageContaining("no valid secondary LUKS2 header");
  }

  @Test
  void corruptPrimaryMagicFallsBackToTheSecondary() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    byte[] key = open(dev);
    LuksImages.flip(dev, 1);
    assertThat(Luks.version(dev)).isEqualTo(2);
    assertThat(open(dev)).isEqualTo(key);
    assertThat(Luks2.read(dev).source)
        .startsWith("secondary (primary invalid: LUKS2 header at offset 0: bad magic");
    // a write repairs the primary
    Luks.addKeyslot(dev, PASS, "x".getBytes(StandardCharsets.UTF_8));
    assertThat(Luks2.read(dev).source).isEqualTo("primary");
  }

  @Test
  void badVersion() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    LuksImages.write(dev, 6, new byte[] {0, 3});
    assertThatThrownBy(() -> Luks.open(dev, PASS))
        .isInstanceOf(LuksException.class)
        .hasMessage("LUKS header at offset 0: version 3 (expected: 1 or 2)");
    MemoryBlockDevice one = LuksImages.luks1();
    LuksImages.write(one, 0, new byte[] {'L', 'U', 'K', 'X'});
    assertThatThrownBy(() -> Luks.open(one, PASS))
        .isInstanceOf(LuksException.class)
        .hasMessageContaining("not a LUKS device");
  }

  @Test
  void checksumMismatchOnOneCopyUsesTheOther() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    byte[] key = open(dev);
    LuksImages.flip(dev, 4096 + 5); // primary JSON
    assertThat(open(dev)).isEqualTo(key);
    assertThat(Luks2.read(dev).source)
        .contains("LUKS2 header at offset 0: checksum mismatch (sha256 over header and JSON area)");
    LuksImages.flip(dev, 4096 + 5); // repair, break the secondary's binary header instead
    LuksImages.flip(dev, 16384 + 30);
    assertThat(open(dev)).isEqualTo(key);
    assertThat(Luks2.read(dev).source).contains("LUKS2 header at offset 16384: checksum mismatch");
  }

  @Test
  void checksumMismatchOnBothCopies() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    LuksImages.flip(dev, 4096 + 5);
    LuksImages.flip(dev, 16384 + 4096 + 5);
    assertThatThrownBy(() -> Luks.open(dev, PASS))
        .isInstanceOf(LuksException.class)
        .hasMessage(
            "LUKS2 header at offset 0: checksum mismatch (sha256 over header and JSON area);"
                + " no valid secondary LUKS2 header at 16 KiB to 4 MiB;"
                + " LUKS2 header at offset 16384: checksum mismatch (sha256 over header and JSON"
                + " area)");
  }

  @Test
  void theNewerCopyWins() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    long seq = Luks2.read(dev).seqid;
    // the secondary is newer and has another label
    byte[] bin = LuksImages.read(dev, 16384, 4096);
    System.arraycopy("newer".getBytes(StandardCharsets.US_ASCII), 0, bin, 24, 5);
    LuksImages.write(dev, 16384, bin);
    LuksImages.setSeqid(dev, 16384, seq + 1);
    Luks2 h = Luks2.read(dev);
    assertThat(h.label).isEqualTo("newer");
    assertThat(h.source).isEqualTo("secondary (seqid " + (seq + 1) + " > " + seq + ")");
    LuksImages.setSeqid(dev, 0, seq + 2);
    assertThat(Luks2.read(dev).label).isEmpty();
  }

  @Test
  void jsonThatDoesNotParse() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    LuksImages.writeJson(dev, 0, "{\"keyslots\":{");
    LuksImages.writeJson(dev, 16384, "{\"keyslots\":{}} trailing");
    assertThatThrownBy(() -> Luks.open(dev, PASS))
        .isInstanceOf(LuksException.class)
        .hasMessageStartingWith("LUKS2 header at offset 0: JSON does not parse: ")
        .hasMessageContaining("LUKS2 header at offset 16384: JSON does not parse: ");
  }

  @Test
  void jsonThatLacksFields() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    LuksImages.editJson(dev, j -> j.remove("segments"));
    assertThatThrownBy(() -> Luks.open(dev, PASS))
        .isInstanceOf(LuksException.class)
        .hasMessageStartingWith("LUKS2 header at offset 0: JSON .segments: missing");

    MemoryBlockDevice dev2 = LuksImages.luks2();
    LuksImages.editJson(dev2, j -> ((ObjectNode) j.at("/keyslots/0/area")).remove("offset"));
    assertThatThrownBy(() -> Luks.open(dev2, PASS))
        .hasMessageStartingWith("LUKS2 header at offset 0: JSON keyslots.0.area.offset: missing");

    MemoryBlockDevice dev3 = LuksImages.luks2();
    LuksImages.editJson(dev3, j -> ((ObjectNode) j.at("/segments/0")).put("offset", 4096));
    assertThatThrownBy(() -> Luks.open(dev3, PASS))
        .hasMessageStartingWith(
            "LUKS2 header at offset 0: JSON segments.0.offset: expected a string");

    MemoryBlockDevice dev4 = LuksImages.luks2();
    LuksImages.editJson(dev4, j -> ((ObjectNode) j.at("/config")).put("json_size", "4096"));
    assertThatThrownBy(() -> Luks.open(dev4, PASS))
        .hasMessageStartingWith(
            "LUKS2 header at offset 0: JSON config.json_size: 4096 (expected: hdr_size - 4096 ="
                + " 12288)");

    MemoryBlockDevice dev5 = LuksImages.luks2();
    LuksImages.editJson(
        dev5,
        j ->
            ((com.fasterxml.jackson.databind.node.ArrayNode) j.at("/digests/0/keyslots")).add("7"));
    assertThatThrownBy(() -> Luks.open(dev5, PASS))
        .hasMessageStartingWith(
            "LUKS2 header at offset 0: JSON digests.0.keyslots: names keyslots 7, which does not"
                + " exist");
  }

  @Test
  void keyslotAreaOutsideTheKeyslotsArea() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    LuksImages.editJson(dev, j -> ((ObjectNode) j.at("/keyslots/0/area")).put("offset", "1048576"));
    assertThatThrownBy(() -> Luks.open(dev, PASS))
        .isInstanceOf(LuksException.class)
        .hasMessageStartingWith(
            "LUKS2 header at offset 0: JSON keyslots.0.area: bytes 1048576 to 1306624 are outside"
                + " the keyslots area [32768, 1048576)");
  }

  @Test
  void keyslotAreaOutsideTheDevice() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    MemoryBlockDevice cut = MemoryBlockDevice.create("cut", 128); // 64 KiB: headers, not the area
    LuksImages.write(cut, 0, LuksImages.read(dev, 0, 65536));
    // cryptsetup's LUKS2_check_device_size: both headers and the keyslots area must fit
    assertThatThrownBy(() -> Luks.open(cut, PASS))
        .isInstanceOf(LuksException.class)
        .hasMessage("Device cut is too small. Need at least 1048576 bytes.");
    MemoryBlockDevice one = LuksImages.luks1();
    MemoryBlockDevice cut1 = MemoryBlockDevice.create("cut1", 16);
    LuksImages.write(cut1, 0, LuksImages.read(one, 0, 8192));
    // LUKS_check_device_size: up to the end of the last key material or the payload
    assertThatThrownBy(() -> Luks.open(cut1, PASS))
        .isInstanceOf(LuksException.class)
        .hasMessageMatching(
            "Device cut1 is too small\\. \\(LUKS1 requires at least \\d+ bytes\\.\\)");
  }

  @Test
  void truncatedDevice() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    MemoryBlockDevice cut = MemoryBlockDevice.create("cut", 16); // 8 KiB of a 16 KiB header
    LuksImages.write(cut, 0, LuksImages.read(dev, 0, 8192));
    assertThatThrownBy(() -> Luks.open(cut, PASS))
        .isInstanceOf(LuksException.class)
        .hasMessage(
            "LUKS2 header at offset 0: JSON area ends at 16384, past the end of cut (8192 bytes);"
                + " no secondary LUKS2 header fits the device");
    MemoryBlockDevice tiny = MemoryBlockDevice.create("tiny", 1);
    assertThatThrownBy(() -> Luks.open(tiny, PASS))
        .isInstanceOf(LuksException.class)
        .hasMessage("LUKS header at offset 0: device tiny is only 512 bytes (truncated?)");
  }

  @Test
  void unknownKdf() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    LuksImages.editJson(dev, j -> ((ObjectNode) j.at("/keyslots/0/kdf")).put("type", "scrypt"));
    assertThatThrownBy(() -> Luks.open(dev, PASS))
        .isInstanceOf(LuksException.class)
        .hasMessage(
            "LUKS2 keyslot 0: KDF scrypt is not supported (expected: pbkdf2, argon2i, argon2id)");
  }

  @Test
  void absurdArgon2Costs() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    LuksImages.editJson(
        dev,
        j -> {
          ObjectNode kdf = (ObjectNode) j.at("/keyslots/0/kdf");
          kdf.remove("hash");
          kdf.remove("iterations");
          kdf.put("type", "argon2id");
          kdf.put("time", 4);
          kdf.put("memory", 1L << 31);
          kdf.put("cpus", 1);
        });
    assertThatThrownBy(() -> Luks.open(dev, PASS))
        .isInstanceOf(LuksException.class)
        .hasMessage(
            "LUKS2 keyslot 0: argon2id memory cost 2147483648 KiB is unreasonable (expected: 32 <="
                + " memory <= 4194304 KiB)");
    LuksImages.editJson(dev, j -> ((ObjectNode) j.at("/keyslots/0/kdf")).put("time", 1L << 40));
    assertThatThrownBy(() -> Luks.open(dev, PASS))
        .isInstanceOf(LuksException.class)
        .hasMessageContaining(
            "JSON keyslots.0.kdf.time: 1099511627776 (expected: 1 <= value <= 4294967295)");
  }

  @Test
  void unmetRequirementsRefuseActivation() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    LuksImages.editJson(
        dev,
        j ->
            ((ObjectNode) j.get("config"))
                .putObject("requirements")
                .putArray("mandatory")
                .add("online-reencrypt-v2"));
    assertThatThrownBy(() -> Luks.open(dev, PASS))
        .isInstanceOf(LuksException.class)
        .hasMessageStartingWith("LUKS2 header: unmet requirements [online-reencrypt-v2]");
  }

  @Test
  void luks1BadKeyslotFields() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks1();
    // an unknown state makes that keyslot invalid (skipped, never reused), as cryptsetup
    LuksImages.write(dev, 208 + 48 * 2, new byte[] {0, 0, 0, 1});
    try (LuksVolume v = Luks.open(dev, PASS)) {
      assertThat(v.keyslot()).isZero();
    }
    assertThat(Luks.addKeyslot(dev, PASS, "x".getBytes(StandardCharsets.UTF_8))).isEqualTo(1);
    assertThat(Luks.addKeyslot(dev, PASS, "y".getBytes(StandardCharsets.UTF_8))).isEqualTo(3);
    assertThat(LuksImages.read(dev, 208 + 48 * 2, 4)).containsExactly(0, 0, 0, 1);
    MemoryBlockDevice dev2 = LuksImages.luks1();
    LuksImages.write(dev2, 208 + 48 * 3 + 44, ByteBuffer.allocate(4).putInt(3999).array());
    assertThatThrownBy(() -> Luks.open(dev2, PASS))
        .hasMessage("LUKS1 header at offset 0: keyslot 3 stripes 3999 (expected: 4000)");
    MemoryBlockDevice dev3 = LuksImages.luks1();
    LuksImages.write(dev3, 208 + 48 * 1 + 40, ByteBuffer.allocate(4).putInt(10).array());
    assertThatThrownBy(() -> Luks.open(dev3, PASS))
        .hasMessage("LUKS1 header at offset 0: keyslot 1 key material overlaps keyslot 0's");
    MemoryBlockDevice dev4 = LuksImages.luks1();
    LuksImages.write(dev4, 72, "md5\0".getBytes(StandardCharsets.US_ASCII));
    assertThatThrownBy(() -> Luks.open(dev4, PASS))
        .hasMessage("LUKS1 header at offset 0: hash_spec md5 is not supported");
  }
}
