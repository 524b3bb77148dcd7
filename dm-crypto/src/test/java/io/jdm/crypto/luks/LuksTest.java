package io.jdm.crypto.luks;

import static io.jdm.crypto.luks.LuksImages.PASS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Format, open, activate and keyslot management without cryptsetup, on memory devices. */
class LuksTest {
  private static final byte[] OTHER = "other".getBytes(StandardCharsets.UTF_8);

  private static LuksFormatOptions.Builder small() {
    return LuksImages.small();
  }

  @Test
  void formatThenOpenGivesTheKeyAndCryptsetupsTableLine() throws Exception {
    byte[] vk = new byte[64];
    new Random(42).nextBytes(vk);
    MemoryBlockDevice dev = MemoryBlockDevice.create("mem", 4096 + 7);
    // as cryptsetup, format refuses 4 KiB sectors over a device not a multiple of them ...
    assertThatThrownBy(() -> Luks.format(dev, PASS, small().sectorSize(4096).build()))
        .isInstanceOf(LuksException.class)
        .hasMessageContaining("not a multiple of the sector size 4096");
    try (LuksVolume f = Luks.format(dev, PASS, small().volumeKey(vk).build())) {
      assertThat(f.volumeKey()).isEqualTo(vk);
      assertThat(f.keyslot()).isZero();
    }
    // ... but a container whose device is (e.g. after a resize) is opened
    LuksImages.editJson(
        dev, j -> ((ObjectNode) j.get("segments").get("0")).put("sector_size", 4096));
    try (LuksVolume v = Luks.open(dev, PASS)) {
      assertThat(v.volumeKey()).isEqualTo(vk);
      assertThat(v.version()).isEqualTo(2);
      assertThat(v.sectorSize()).isEqualTo(4096);
      // dynamic size: device minus offset, down to whole 4 KiB sectors
      assertThat(v.table("mem"))
          .isEqualTo(
              "0 2048 crypt aes-xts-plain64 "
                  + HexFormat.of().formatHex(vk)
                  + " 0 mem 2048 1 sector_size:4096");
      assertThat(v.dmUuid("c")).isEqualTo("CRYPT-LUKS2-" + v.uuid().replace("-", "") + "-c");
    }
  }

  @Test
  void closeWipesTheKey() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    LuksVolume v = Luks.open(dev, PASS);
    v.close();
    v.close();
    assertThatThrownBy(v::volumeKey).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> v.table("x")).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void configFlagsBecomeTableOptions() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    LuksImages.editJson(
        dev,
        j ->
            ((ObjectNode) j.get("config"))
                .putArray("flags")
                .add("no-read-workqueue")
                .add("allow-discards")
                .add("no-journal"));
    try (LuksVolume v = Luks.open(dev, PASS)) {
      assertThat(v.table("d")).endsWith(" 0 d 2048 2 allow_discards no_read_workqueue");
    }
  }

  @Test
  void activateOverARegisteredDeviceReadsBackThroughTheMapping() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    byte[] data = new byte[8192];
    new Random(1).nextBytes(data);
    try (DeviceMapper dm = DeviceMapper.create()) {
      dm.registerDevice("backing", dev);
      MappedDevice m = Luks.activate(dm, "secret", dev, "backing", PASS);
      assertThat(m.sectors()).isEqualTo(2048);
      m.write(ByteBuffer.wrap(data), 4096);
      ByteBuffer back = ByteBuffer.allocate(data.length);
      m.read(back, 4096);
      assertThat(back.array()).isEqualTo(data);
      // the disk holds ciphertext
      assertThat(LuksImages.read(dev, (1 << 20) + 4096, 8192)).isNotEqualTo(data);
      // a second mapping over the mapped device's name opens the same way
      dm.remove("secret");
      MappedDevice again = Luks.activate(dm, "again", dev, "backing", PASS);
      ByteBuffer b2 = ByteBuffer.allocate(data.length);
      again.read(b2, 4096);
      assertThat(b2.array()).isEqualTo(data);
      assertThatThrownBy(() -> Luks.activate(dm, "bad", dev, "backing", OTHER))
          .isInstanceOf(LuksPassphraseException.class);
      assertThat(dm.find("bad")).isEmpty();
    }
  }

  @Test
  void luks2KeyslotLifecycle() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    byte[] key;
    try (LuksVolume v = Luks.open(dev, PASS)) {
      key = v.volumeKey();
    }
    assertThat(Luks.addKeyslot(dev, PASS, OTHER)).isEqualTo(1);
    assertThat(
            Luks.addKeyslot(
                dev, OTHER, "3".getBytes(StandardCharsets.UTF_8), Pbkdf.argon2id(4, 32, 1)))
        .isEqualTo(2);
    Luks2 h = Luks2.read(dev);
    assertThat(h.keyslots.get(1).areaOffset()).isEqualTo(32768 + 258048);
    assertThat(h.keyslots.get(2).kdf()).isEqualTo(Pbkdf.argon2id(4, 32, 1));
    assertThat(h.digests.get(0).keyslots()).containsExactly(0, 1, 2);
    try (LuksVolume v = Luks.open(dev, "3".getBytes(StandardCharsets.UTF_8))) {
      assertThat(v.keyslot()).isEqualTo(2);
      assertThat(v.volumeKey()).isEqualTo(key);
    }
    // the keyslots area (1 MiB - 32 KiB) holds three areas of 258048 bytes
    assertThatThrownBy(() -> Luks.addKeyslot(dev, PASS, "4".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(LuksException.class)
        .hasMessage("No space for new keyslot.");
    // no free area: the change is made in place, and the slot number stays
    assertThat(Luks.changePassphrase(dev, OTHER, "new".getBytes(StandardCharsets.UTF_8)))
        .isEqualTo(1);
    assertThat(Luks2.read(dev).keyslots.get(1).areaOffset()).isEqualTo(32768 + 258048);
    assertThatThrownBy(() -> Luks.open(dev, OTHER)).isInstanceOf(LuksPassphraseException.class);
    assertThat(Luks.removeKeyslot(dev, "new".getBytes(StandardCharsets.UTF_8))).isEqualTo(1);
    assertThat(Luks2.read(dev).digests.get(0).keyslots()).containsExactly(0, 2);
    // the removed area was wiped, and a change now moves keyslot 0 to the free area
    assertThat(Luks.changePassphrase(dev, PASS, OTHER)).isZero();
    assertThat(Luks2.read(dev).keyslots.get(0).areaOffset()).isEqualTo(32768 + 258048);
    try (LuksVolume v = Luks.open(dev, OTHER)) {
      assertThat(v.keyslot()).isZero();
      assertThat(v.volumeKey()).isEqualTo(key);
    }
    assertThatThrownBy(() -> Luks.removeKeyslot(dev, 5))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("LUKS2 keyslot 5 is not in use");
  }

  @Test
  void priorityZeroKeyslotsOpenOnlyWhenNamed() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    LuksImages.editJson(dev, j -> ((ObjectNode) j.at("/keyslots/0")).put("priority", 0));
    assertThatThrownBy(() -> Luks.open(dev, PASS)).isInstanceOf(LuksPassphraseException.class);
    try (LuksVolume v = Luks.open(dev, PASS, 0)) {
      assertThat(v.keyslot()).isZero();
    }
  }

  @Test
  void luks1KeyslotLifecycle() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks1();
    byte[] key;
    try (LuksVolume v = Luks.open(dev, PASS)) {
      key = v.volumeKey();
      assertThat(v.version()).isEqualTo(1);
      assertThat(v.offsetSectors()).isEqualTo(4096);
      assertThat(v.table("d"))
          .isEqualTo("0 2048 crypt aes-xts-plain64 " + HexFormat.of().formatHex(key) + " 0 d 4096");
    }
    for (int i = 1; i < 8; i++) {
      assertThat(Luks.addKeyslot(dev, PASS, ("p" + i).getBytes(StandardCharsets.UTF_8)))
          .isEqualTo(i);
    }
    assertThatThrownBy(() -> Luks.addKeyslot(dev, PASS, OTHER))
        .isInstanceOf(LuksException.class)
        .hasMessage("All key slots full.");
    assertThat(Luks.changePassphrase(dev, "p5".getBytes(StandardCharsets.UTF_8), OTHER))
        .isEqualTo(5);
    Luks.removeKeyslot(dev, 0);
    assertThatThrownBy(() -> Luks.open(dev, PASS)).isInstanceOf(LuksPassphraseException.class);
    try (LuksVolume v = Luks.open(dev, OTHER)) {
      assertThat(v.keyslot()).isEqualTo(5);
      assertThat(v.volumeKey()).isEqualTo(key);
    }
    assertThatThrownBy(() -> Luks.removeKeyslot(dev, 0))
        .hasMessage("LUKS1 keyslot 0 is not active");
    Luks1 h = Luks1.read(dev);
    assertThat(h.slots[0].iterations).isZero();
    assertThat(LuksImages.read(dev, 8 * 512, 512)).isNotEqualTo(new byte[512]);
  }

  @Test
  void badOptionsAreRefusedBeforeAnythingIsWritten() throws Exception {
    assertThatThrownBy(() -> LuksFormatOptions.builder().version(3).build())
        .hasMessage("LUKS version 3 (expected: 1 or 2)");
    assertThatThrownBy(
            () -> LuksFormatOptions.builder().version(1).pbkdf(Pbkdf.argon2id(4, 32, 1)).build())
        .hasMessage("LUKS1 keyslots use pbkdf2 only, not argon2id");
    assertThatThrownBy(
            () ->
                LuksFormatOptions.builder()
                    .version(1)
                    .pbkdf(Pbkdf.pbkdf2("sha256", 1000))
                    .sectorSize(4096)
                    .build())
        .hasMessageContaining("LUKS1 has no sector size");
    assertThatThrownBy(() -> small().sectorSize(1000).build())
        .hasMessageContaining("sector size 1000");
    assertThatThrownBy(() -> small().cipher("aes-xts-plain64").keySizeBits(200).build())
        .hasMessageStartingWith("cipher aes-xts-plain64 with a 200-bit key");
    assertThatThrownBy(() -> small().cipher("rot13-ecb").build())
        .hasMessageStartingWith("cipher rot13-ecb");
    assertThatThrownBy(() -> small().uuid("nope").build()).hasMessageContaining("uuid nope");
    assertThatThrownBy(() -> small().label("x".repeat(48)).build())
        .hasMessageContaining("longer than 47 bytes");
    assertThatThrownBy(() -> small().metadataSize(20000).build())
        .hasMessageContaining("metadata size 20000");
    MemoryBlockDevice dev = MemoryBlockDevice.create("mem", 2048);
    assertThatThrownBy(() -> Luks.format(dev, PASS, small().build()))
        .isInstanceOf(LuksException.class)
        .hasMessage(
            "device mem (1048576 bytes) is too small for a LUKS2 header with data at 1048576");
    assertThatThrownBy(() -> Luks.format(dev, PASS, small().dataOffset(65536).build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("leaves a keyslots area of 32768 bytes");
    assertThat(LuksImages.read(dev, 0, 4096)).isEqualTo(new byte[4096]);
  }

  @Test
  void layoutOptionsFollowLuksFormat() throws Exception {
    MemoryBlockDevice dev = MemoryBlockDevice.create("mem", 8192);
    Luks.format(
            dev,
            PASS,
            LuksFormatOptions.builder()
                .pbkdf(Pbkdf.pbkdf2("sha256", 1000))
                .keyslotsSize(262144)
                .metadataSize(32768)
                .label("L")
                .subsystem("S")
                .uuid("12345678-1234-1234-1234-123456789ABC")
                .build())
        .close();
    Luks2 h = Luks2.read(dev);
    assertThat(h.hdrSize).isEqualTo(32768);
    assertThat(h.keyslotsSize).isEqualTo(262144);
    assertThat(h.segments.get(0).offset()).isEqualTo(1 << 20); // next 1 MiB boundary
    assertThat(h.keyslots.get(0).areaOffset()).isEqualTo(65536);
    assertThat(h.label).isEqualTo("L");
    assertThat(h.subsystem).isEqualTo("S");
    assertThat(h.uuid).isEqualTo("12345678-1234-1234-1234-123456789abc");
  }

  @Test
  void passphraseCharsAreUtf8() {
    assertThat(Luks.passphrase("pä€".toCharArray()))
        .isEqualTo("pä€".getBytes(StandardCharsets.UTF_8));
  }
}
