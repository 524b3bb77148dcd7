package io.jdm.crypto.luks;

import static io.jdm.crypto.luks.LuksImages.PASS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdm.core.FileBlockDevice;
import io.jdm.core.MemoryBlockDevice;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Regressions found in review: cryptsetup compatibility and hostile headers. */
class LuksReviewTest {
  private static final byte[] PASS2 = "second".getBytes(StandardCharsets.UTF_8);

  @TempDir Path dir;

  private Path image(long bytes) throws Exception {
    return LuksImages.image(dir, bytes);
  }

  @Test
  void removingAKeyslotDropsItFromTokensAsCryptsetupDoes() throws Exception {
    Path img = LuksImages.twoKeyslots(dir, PASS2);
    Cryptsetup.run(
            null,
            "token",
            "add",
            "--key-description",
            "jdm:test",
            "--key-slot",
            "1",
            img.toString())
        .ok();
    try (FileBlockDevice dev = FileBlockDevice.open(img)) {
      Luks.removeKeyslot(dev, 1);
    }
    // cryptsetup refuses a header whose token names a keyslot that does not exist
    String dump = Cryptsetup.run(null, "luksDump", img.toString()).ok().out();
    assertThat(dump).contains("luks2-keyring");
    try (FileBlockDevice dev = FileBlockDevice.builder(img).readOnly(true).open()) {
      ObjectNode j = LuksImages.json(dev, 0);
      assertThat(j.get("tokens").get("0").get("keyslots").size()).isZero();
    }
  }

  @Test
  void aTokenNamingAMissingKeyslotIsRefused() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    LuksImages.editJson(
        dev,
        j -> {
          ObjectNode t = ((ObjectNode) j.get("tokens")).putObject("0");
          t.put("type", "luks2-keyring");
          t.put("key_description", "x");
          t.putArray("keyslots").add("5");
        });
    assertThatThrownBy(() -> Luks.open(dev, PASS))
        .isInstanceOf(LuksException.class)
        .hasMessageContaining("JSON tokens.0.keyslots: names keyslots 5, which does not exist");
  }

  @Test
  void aLargeDataOffsetKeepsTheKeyslotsAreaWithinCryptsetupsLimit() throws Exception {
    Path img = image(300L << 20); // sparse
    try (FileBlockDevice dev = FileBlockDevice.open(img)) {
      Luks.format(
              dev,
              PASS,
              LuksFormatOptions.builder()
                  .pbkdf(Pbkdf.pbkdf2("sha256", 1000))
                  .dataOffset(256L << 20)
                  .build())
          .close();
    }
    String dump = Cryptsetup.run(null, "luksDump", img.toString()).ok().out();
    assertThat(dump).contains("Keyslots area: \t134217728 [bytes]");
    assertThat(dump).contains("offset: 268435456 [bytes]");
    assertThat(Cryptsetup.testPassphrase(img, PASS)).isTrue();
    assertThatThrownBy(() -> LuksFormatOptions.builder().keyslotsSize(256L << 20).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at most 128 MiB");
  }

  @Test
  void aKeyslotsAreaOverCryptsetupsLimitIsRefused() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    LuksImages.editJson(
        dev, j -> ((ObjectNode) j.get("config")).put("keyslots_size", "274877906944"));
    assertThatThrownBy(() -> Luks.open(dev, PASS))
        .isInstanceOf(LuksException.class)
        .hasMessageContaining("JSON config.keyslots_size: 274877906944 (expected: a multiple of");
  }

  @Test
  void afStripesInTheJsonDoNotChangeWhatIsRead() throws Exception {
    Path img = image(2 << 20);
    byte[] key;
    try (FileBlockDevice dev = FileBlockDevice.open(img)) {
      try (LuksVolume v = Luks.format(dev, PASS, LuksImages.small().build())) {
        key = v.volumeKey();
      }
      // a hostile stripe count once sized jdm's buffers (up to 512 MiB); cryptsetup reads 4000
      LuksImages.editJson(
          dev, j -> ((ObjectNode) j.get("keyslots").get("0").get("af")).put("stripes", 1 << 20));
      try (LuksVolume v = Luks.open(dev, PASS)) {
        assertThat(v.volumeKey()).isEqualTo(key);
      }
    }
    assertThat(Cryptsetup.dumpVolumeKey(img, PASS, dir)).isEqualTo(key);
  }

  @Test
  void digestAndSaltSizesFollowCryptsetup() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    LuksImages.editJson(
        dev,
        j ->
            ((ObjectNode) j.get("digests").get("0"))
                .put("digest", java.util.Base64.getEncoder().encodeToString(new byte[4096])));
    assertThatThrownBy(() -> Luks.open(dev, PASS))
        .isInstanceOf(LuksException.class)
        .hasMessage(
            "LUKS2 digest 0: JSON digests.0.digest: 4096 bytes (expected: 20 or the sha256 size"
                + " 32, at most 64)");
    MemoryBlockDevice dev2 = LuksImages.luks2();
    LuksImages.editJson(
        dev2,
        j ->
            ((ObjectNode) j.get("keyslots").get("0").get("kdf"))
                .put("salt", java.util.Base64.getEncoder().encodeToString(new byte[16])));
    assertThatThrownBy(() -> Luks.open(dev2, PASS))
        .isInstanceOf(LuksException.class)
        .hasMessage("LUKS2 keyslot 0: JSON keyslots.0.kdf.salt: 16 bytes (expected: 32)");
  }

  @Test
  void aPrimaryWithADamagedHdrSizeStillFindsTheSecondary() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    byte[] key;
    try (LuksVolume v = Luks.open(dev, PASS)) {
      key = v.volumeKey();
    }
    // hdr_size 16 KiB -> 32 KiB: the checksum fails, so (as cryptsetup) every known offset is
    // tried, not only the one the damaged field names
    LuksImages.write(dev, 8, new byte[] {0, 0, 0, 0, 0, 0, (byte) 0x80, 0});
    try (LuksVolume v = Luks.open(dev, PASS)) {
      assertThat(v.volumeKey()).isEqualTo(key);
    }
    assertThat(Luks2.read(dev).source)
        .startsWith("secondary (primary invalid: LUKS2 header at offset 0: checksum mismatch");
  }

  @Test
  void formatRefusesADeviceNotAlignedToTheSectorSizeAsCryptsetup() throws Exception {
    MemoryBlockDevice dev = MemoryBlockDevice.create("odd", 4097);
    assertThatThrownBy(() -> Luks.format(dev, PASS, LuksImages.small().sectorSize(4096).build()))
        .isInstanceOf(LuksException.class)
        .hasMessageStartingWith(
            "device odd: the 1049088 bytes after the data offset 1048576 are not a multiple of"
                + " the sector size 4096");
  }

  @Test
  void aLuks1KeyslotWithAnUnknownStateDoesNotMakeTheHeaderUnusable() throws Exception {
    Path img = image(3 << 20);
    Cryptsetup.run(
            PASS,
            "luksFormat",
            "--batch-mode",
            "--type",
            "luks1",
            "--pbkdf-force-iterations",
            "1000",
            "--key-file=-",
            img.toString())
        .ok();
    try (FileBlockDevice dev = FileBlockDevice.open(img)) {
      LuksImages.write(dev, 208 + 48 * 5, new byte[] {0x12, 0x34, 0x56, 0x78});
    }
    assertThat(Cryptsetup.testPassphrase(img, PASS)).isTrue();
    try (FileBlockDevice dev = FileBlockDevice.builder(img).readOnly(true).open();
        LuksVolume v = Luks.open(dev, PASS)) {
      assertThat(v.keyslot()).isZero();
    }
  }
}
