package io.jdm.crypto.luks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.DeviceMapper;
import io.jdm.core.FileBlockDevice;
import io.jdm.core.MappedDevice;
import io.jdm.crypto.OpenSslXts;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * jdm against cryptsetup 2.6 on regular files: containers cryptsetup formats open in jdm with the
 * same volume key; containers jdm formats (and changes) pass {@code luksDump} and {@code open
 * --test-passphrase} and give cryptsetup the same key; data written through jdm's crypt mapping is
 * what OpenSSL's AES-XTS makes of it with that key.
 */
class LuksInteropTest {
  private static final byte[] PASS = "testpass".getBytes(StandardCharsets.UTF_8);
  private static final byte[] PASS2 = "zweites Passwort \u00e4".getBytes(StandardCharsets.UTF_8);

  @TempDir Path dir;

  private Path image(long bytes) throws Exception {
    return LuksImages.image(dir, bytes);
  }

  private static byte[] key(int n, int seed) {
    byte[] k = new byte[n];
    new Random(seed).nextBytes(k);
    return k;
  }

  /** cryptsetup luksFormat with cheap costs and a known volume key; returns the key. */
  private byte[] cryptsetupFormat(Path img, String config) throws Exception {
    byte[] vk = key(64, config.hashCode());
    Path vkFile = dir.resolve("vk-" + Math.abs(config.hashCode()) + ".bin");
    Files.write(vkFile, vk);
    List<String> args = new ArrayList<>();
    args.addAll(List.of("luksFormat", "--batch-mode", "--key-file=-"));
    args.add("--volume-key-file=" + vkFile);
    args.addAll(List.of(config.split(" ")));
    args.add(img.toString());
    Cryptsetup.run(PASS, args.toArray(String[]::new)).ok();
    return vk;
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "--type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --sector-size 512",
        "--type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --hash sha512 --sector-size 4096",
        "--type luks2 --pbkdf argon2id --pbkdf-memory 32 --pbkdf-parallel 1"
            + " --pbkdf-force-iterations 4 --sector-size 4096",
        "--type luks2 --pbkdf argon2i --pbkdf-memory 64 --pbkdf-parallel 2"
            + " --pbkdf-force-iterations 4 --sector-size 512 --offset 4096",
        "--type luks1 --pbkdf-force-iterations 1000",
        "--type luks1 --pbkdf-force-iterations 1000 --hash sha1 --key-size 256"
      })
  void opensWhatCryptsetupFormats(String config) throws Exception {
    Path img = image(20 << 20);
    byte[] vk = cryptsetupFormat(img, config);
    if (config.contains("--key-size 256")) {
      vk = Arrays.copyOf(vk, 32);
    }
    assertThat(Cryptsetup.dumpVolumeKey(img, PASS, dir)).isEqualTo(vk);
    try (FileBlockDevice dev = FileBlockDevice.builder(img).readOnly(true).open();
        LuksVolume v = Luks.open(dev, PASS)) {
      assertThat(v.volumeKey()).isEqualTo(vk);
      assertThat(v.keyslot()).isZero();
      int version = config.contains("luks1") ? 1 : 2;
      assertThat(v.version()).isEqualTo(version);
      assertThat(v.uuid())
          .isEqualTo(Cryptsetup.run(null, "luksUUID", img.toString()).ok().out().trim());
      int sectorSize = config.contains("--sector-size 4096") ? 4096 : 512;
      long offset = version == 1 ? 4096 : config.contains("--offset 4096") ? 4096 : 32768;
      String opts = sectorSize == 4096 ? " 1 sector_size:4096" : "";
      assertThat(v.table("/dev/x"))
          .isEqualTo(
              "0 "
                  + (40960 - offset)
                  + " crypt aes-xts-plain64 "
                  + java.util.HexFormat.of().formatHex(vk)
                  + " 0 /dev/x "
                  + offset
                  + opts);
      assertThatThrownBy(() -> Luks.open(dev, "wrong".getBytes(StandardCharsets.UTF_8)))
          .isInstanceOf(LuksPassphraseException.class)
          .hasMessage("No key available with this passphrase.");
    }
    checkMappedData(img, config.contains("--sector-size 4096") ? 4096 : 512);
  }

  /**
   * Writes through jdm's mapping of the container and checks the file's ciphertext with OpenSSL
   * (cryptsetup itself cannot map a file without root).
   */
  private void checkMappedData(Path img, int sectorSize) throws Exception {
    byte[] plain = key(3 * 4096, 7);
    byte[] vk;
    long offset;
    try (DeviceMapper dm = DeviceMapper.create()) {
      MappedDevice m = Luks.activate(dm, "luks", img.toString(), PASS);
      try (FileBlockDevice dev = FileBlockDevice.builder(img).readOnly(true).open();
          LuksVolume v = Luks.open(dev, PASS)) {
        vk = v.volumeKey();
        offset = v.offsetSectors() * 512;
        assertThat(m.uuid()).contains(v.dmUuid("luks"));
        assertThat(m.sectors()).isEqualTo(v.sizeSectors());
      }
      m.write(ByteBuffer.wrap(plain), 8192);
      m.flush();
      ByteBuffer back = ByteBuffer.allocate(plain.length);
      m.read(back, 8192);
      assertThat(back.array()).isEqualTo(plain);
    }
    byte[] disk = new byte[plain.length];
    try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "r")) {
      f.seek(offset + 8192);
      f.readFully(disk);
    }
    // no iv_large_sectors for LUKS: a 4 KiB sector's IV counts 512-byte sectors
    byte[] expected = OpenSslXts.run(true, vk, sectorSize, 8192 / 512, sectorSize / 512, plain);
    assertThat(disk).isEqualTo(expected);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "luks2-pbkdf2-512",
        "luks2-argon2id-4096",
        "luks2-argon2i-512-small",
        "luks1-pbkdf2-512",
        "luks1-sha512-512-small"
      })
  void cryptsetupAcceptsWhatJdmFormats(String config) throws Exception {
    String[] c = config.split("-");
    int version = c[0].equals("luks1") ? 1 : 2;
    int sectorSize = Integer.parseInt(c[2]);
    boolean small = config.endsWith("small");
    Path img = image(small ? 3 << 20 : 18 << 20);
    LuksFormatOptions.Builder b =
        LuksFormatOptions.builder().version(version).sectorSize(sectorSize);
    switch (c[1]) {
      case "pbkdf2" -> b.pbkdf(Pbkdf.pbkdf2("sha256", 1000));
      case "sha512" -> b.hash("sha512").pbkdf(Pbkdf.pbkdf2("sha512", 1000));
      case "argon2id" -> b.pbkdf(Pbkdf.argon2id(4, 32, 1));
      default -> b.pbkdf(Pbkdf.argon2i(4, 64, 2));
    }
    if (version == 2) {
      b.label("jdm test");
    }
    if (small) {
      b.dataOffset(version == 1 ? 2 << 20 : 1 << 20);
    }
    byte[] vk;
    try (FileBlockDevice dev = FileBlockDevice.open(img);
        LuksVolume v = Luks.format(dev, PASS, b.build())) {
      vk = v.volumeKey();
    }
    String dump = Cryptsetup.run(null, "luksDump", img.toString()).ok().out();
    assertThat(dump).contains("Version:       \t" + version);
    if (version == 2) {
      assertThat(dump).contains("jdm test").contains("sector: " + sectorSize);
    }
    assertThat(Cryptsetup.testPassphrase(img, PASS)).isTrue();
    assertThat(Cryptsetup.testPassphrase(img, PASS2)).isFalse();
    assertThat(Cryptsetup.dumpVolumeKey(img, PASS, dir)).isEqualTo(vk);

    // keyslots: add, change, remove; cryptsetup follows each step
    byte[] pass3 = "third".getBytes(StandardCharsets.UTF_8);
    try (FileBlockDevice dev = FileBlockDevice.open(img)) {
      assertThat(Luks.addKeyslot(dev, PASS, PASS2)).isEqualTo(1);
    }
    assertThat(Cryptsetup.run(null, "luksDump", img.toString()).ok().out())
        .contains(version == 2 ? "1: luks2" : "Key Slot 1: ENABLED");
    assertThat(Cryptsetup.testPassphrase(img, PASS2)).isTrue();
    assertThat(Cryptsetup.dumpVolumeKey(img, PASS2, dir)).isEqualTo(vk);
    try (FileBlockDevice dev = FileBlockDevice.open(img)) {
      // cryptsetup's way: LUKS1 moves to the first free keyslot, LUKS2 keeps the number
      assertThat(Luks.changePassphrase(dev, PASS2, pass3)).isEqualTo(version == 1 ? 2 : 1);
    }
    assertThat(Cryptsetup.testPassphrase(img, PASS2)).isFalse();
    assertThat(Cryptsetup.testPassphrase(img, pass3)).isTrue();
    try (FileBlockDevice dev = FileBlockDevice.open(img)) {
      Luks.removeKeyslot(dev, 0);
    }
    assertThat(Cryptsetup.testPassphrase(img, PASS)).isFalse();
    assertThat(Cryptsetup.testPassphrase(img, pass3)).isTrue();
    assertThat(Cryptsetup.dumpVolumeKey(img, pass3, dir)).isEqualTo(vk);

    // and jdm follows cryptsetup's changes
    Path oldKey = dir.resolve("old.key");
    Path newKey = dir.resolve("new.key");
    Files.write(oldKey, pass3);
    Files.write(newKey, PASS);
    List<String> add = new ArrayList<>(List.of("luksAddKey", "--batch-mode"));
    // explicit costs: LUKS2's default for a new keyslot is Argon2id with up to 1 GiB
    add.addAll(
        version == 2 && c[1].startsWith("argon")
            ? List.of(
                "--pbkdf",
                "argon2id",
                "--pbkdf-memory",
                "32",
                "--pbkdf-force-iterations",
                "4",
                "--pbkdf-parallel",
                "1")
            : List.of("--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"));
    add.addAll(List.of("--key-file=" + oldKey, img.toString(), newKey.toString()));
    Cryptsetup.run(null, add.toArray(String[]::new)).ok();
    try (FileBlockDevice dev = FileBlockDevice.builder(img).readOnly(true).open();
        LuksVolume v = Luks.open(dev, PASS)) {
      assertThat(v.keyslot()).isZero();
      assertThat(v.volumeKey()).isEqualTo(vk);
    }
    checkMappedData(img, sectorSize);
  }

  @Test
  void cryptsetupRemovesAKeyslotJdmAdded() throws Exception {
    Path img = LuksImages.twoKeyslots(dir, PASS2);
    Cryptsetup.run(null, "luksKillSlot", "--batch-mode", img.toString(), "0").ok();
    try (FileBlockDevice dev = FileBlockDevice.builder(img).readOnly(true).open()) {
      assertThatThrownBy(() -> Luks.open(dev, PASS)).isInstanceOf(LuksPassphraseException.class);
      try (LuksVolume v = Luks.open(dev, PASS2)) {
        assertThat(v.keyslot()).isEqualTo(1);
      }
    }
  }

  /** A truncated container: jdm refuses it with cryptsetup's own first line, word for word. */
  @Test
  void truncatedContainersAreRefusedWithCryptsetupsText() throws Exception {
    for (String type : List.of("luks1", "luks2")) {
      Path img = image(20 << 20);
      Cryptsetup.run(
              PASS,
              "luksFormat",
              "--batch-mode",
              "--type",
              type,
              "--pbkdf",
              "pbkdf2",
              "--pbkdf-force-iterations",
              "1000",
              "--key-file=-",
              img.toString())
          .ok();
      try (java.nio.channels.FileChannel ch =
          java.nio.channels.FileChannel.open(img, java.nio.file.StandardOpenOption.WRITE)) {
        ch.truncate(type.equals("luks1") ? 8192 : 65536);
      }
      Cryptsetup.Result r =
          Cryptsetup.run(PASS, "open", "--test-passphrase", "--key-file=-", img.toString());
      assertThat(r.exit()).isNotZero();
      String first = r.err().lines().findFirst().orElse("");
      try (FileBlockDevice dev = FileBlockDevice.builder(img).readOnly(true).open()) {
        assertThatThrownBy(() -> Luks.open(dev, PASS))
            .as(type)
            .isInstanceOf(LuksException.class)
            .hasMessage(first.replace(img.toString(), dev.name()));
      }
    }
  }
}
