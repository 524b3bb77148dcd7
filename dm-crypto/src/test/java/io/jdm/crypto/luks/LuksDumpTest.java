package io.jdm.crypto.luks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.FileBlockDevice;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link LuksDump}, {@link Luks#uuid}/{@link Luks#setUuid}, {@link Luks#keyslotState}, header
 * backup and restore, and {@link PlainMode}'s key, against cryptsetup 2.6 on the same files.
 */
class LuksDumpTest {
  private static final byte[] PASS = "testpass".getBytes(StandardCharsets.UTF_8);
  private static final byte[] PASS2 = "second".getBytes(StandardCharsets.UTF_8);

  @TempDir Path dir;

  private Path cryptsetupFormat(String config) throws Exception {
    Path img = LuksImages.image(dir, 20 << 20);
    List<String> args = new ArrayList<>(List.of("luksFormat", "--batch-mode", "--key-file=-"));
    args.addAll(List.of(config.split(" ")));
    args.add(img.toString());
    Cryptsetup.run(PASS, args.toArray(String[]::new)).ok();
    return img;
  }

  private static String jdmDump(Path img) throws Exception {
    try (FileBlockDevice dev = FileBlockDevice.builder(img).readOnly(true).open()) {
      return LuksDump.dump(dev, img.toString());
    }
  }

  private static String cryptsetupDump(Path img) throws Exception {
    return Cryptsetup.run(null, "luksDump", img.toString()).ok().out();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "--type luks1 --pbkdf-force-iterations 1000",
        "--type luks1 --pbkdf-force-iterations 1000 --hash sha1 --key-size 256",
        "--type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --sector-size 4096",
        "--type luks2 --pbkdf argon2id --pbkdf-memory 32 --pbkdf-parallel 1"
            + " --pbkdf-force-iterations 4 --label lbl --subsystem sub --sector-size 512",
      })
  void dumpsAsCryptsetupDoes(String config) throws Exception {
    Path img = cryptsetupFormat(config);
    // a second keyslot (a LUKS2 one at priority "preferred" and unbound ones are below)
    Path key2 = dir.resolve("key2");
    Files.write(key2, PASS2);
    Cryptsetup.run(
            PASS,
            "luksAddKey",
            "--key-file=-",
            "--pbkdf",
            config.contains("argon2") ? "argon2id" : "pbkdf2",
            "--pbkdf-memory",
            "32",
            "--pbkdf-parallel",
            "1",
            "--pbkdf-force-iterations",
            config.contains("argon2") ? "4" : "1000",
            img.toString(),
            key2.toString())
        .ok();
    assertThat(jdmDump(img)).isEqualTo(cryptsetupDump(img));
  }

  @Test
  void dumpsFlagsPrioritiesTokensAndUnboundKeyslotsAsCryptsetupDoes() throws Exception {
    Path img = cryptsetupFormat("--type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000");
    Cryptsetup.run(
            PASS,
            "config",
            "--key-file=-",
            "--priority",
            "prefer",
            "--key-slot",
            "0",
            img.toString())
        .ok();
    Cryptsetup.run(null, "config", "--label", "x y", img.toString()).ok();
    Cryptsetup.run(
            PASS2,
            "luksAddKey",
            "--unbound",
            "--key-size",
            "256",
            "--pbkdf",
            "pbkdf2",
            "--pbkdf-force-iterations",
            "1000",
            "--new-keyfile=-",
            img.toString())
        .ok();
    Cryptsetup.run(
            null,
            "token",
            "add",
            "--key-description",
            "jdm:test",
            "--key-slot",
            "0",
            img.toString())
        .ok();
    String expected = cryptsetupDump(img);
    assertThat(expected).contains("(unbound)").contains("preferred").contains("Key description");
    assertThat(jdmDump(img)).isEqualTo(expected);
  }

  @Test
  void dumpsWhatJdmWritesAsCryptsetupDoes() throws Exception {
    for (int version : new int[] {1, 2}) {
      Path img = LuksImages.image(dir, 20 << 20);
      try (FileBlockDevice dev = FileBlockDevice.open(img)) {
        Luks.format(
                dev,
                PASS,
                LuksFormatOptions.builder()
                    .version(version)
                    .pbkdf(Pbkdf.pbkdf2("sha256", 1000))
                    .keyslotsSize(version == 2 ? 1 << 20 : -1)
                    .build())
            .close();
        Luks.addKeyslot(dev, PASS, -1, PASS2, 5, null);
        assertThat(Luks.keyslotState(dev, 5)).isEqualTo(Luks.KeyslotState.ACTIVE);
        assertThat(Luks.keyslotState(dev, 1)).isEqualTo(Luks.KeyslotState.INACTIVE);
        assertThat(Luks.keyslotState(dev, 40)).isEqualTo(Luks.KeyslotState.INVALID);
        assertThatThrownBy(() -> Luks.addKeyslot(dev, PASS, -1, PASS2, 5, null))
            .hasMessage("Key slot 5 is full, please select another one.");
        Luks.removeKeyslot(dev, 0);
        assertThat(Luks.keyslotState(dev, 5)).isEqualTo(Luks.KeyslotState.ACTIVE_LAST);
      }
      assertThat(jdmDump(img)).isEqualTo(cryptsetupDump(img));
      assertThat(Cryptsetup.testPassphrase(img, PASS2)).isTrue();
    }
  }

  @Test
  void uuidReadAndSetBothWays() throws Exception {
    for (String type : new String[] {"luks1", "luks2"}) {
      Path img =
          cryptsetupFormat("--type " + type + " --pbkdf pbkdf2 --pbkdf-force-iterations 1000");
      String cs = Cryptsetup.run(null, "luksUUID", img.toString()).ok().out();
      try (FileBlockDevice dev = FileBlockDevice.open(img)) {
        assertThat(Luks.uuid(dev) + "\n").isEqualTo(cs);
        Luks.setUuid(dev, "0BADCAFE-1234-4321-8765-0123456789AB");
        assertThatThrownBy(() -> Luks.setUuid(dev, "not-a-uuid"))
            .hasMessage("Wrong LUKS UUID format provided.");
      }
      assertThat(Cryptsetup.run(null, "luksUUID", img.toString()).ok().out())
          .isEqualTo("0badcafe-1234-4321-8765-0123456789ab\n");
      Cryptsetup.run(
              null,
              "luksUUID",
              "-q",
              "--uuid",
              "11111111-2222-3333-4444-555555555555",
              img.toString())
          .ok();
      try (FileBlockDevice dev = FileBlockDevice.open(img)) {
        assertThat(Luks.uuid(dev)).isEqualTo("11111111-2222-3333-4444-555555555555");
      }
      assertThat(Cryptsetup.testPassphrase(img, PASS)).isTrue();
    }
  }

  @Test
  void headerBackupIsCryptsetupsAndRestoresBothWays() throws Exception {
    for (String type : new String[] {"luks1", "luks2"}) {
      Path img =
          cryptsetupFormat("--type " + type + " --pbkdf pbkdf2 --pbkdf-force-iterations 1000");
      Path ours = dir.resolve(type + "-jdm.hdr");
      Path theirs = dir.resolve(type + "-cs.hdr");
      try (FileBlockDevice dev = FileBlockDevice.open(img)) {
        Luks.backupHeader(dev, ours);
        assertThatThrownBy(() -> Luks.backupHeader(dev, ours))
            .hasMessage("Requested header backup file " + ours + " already exists.");
      }
      Cryptsetup.run(
              null, "luksHeaderBackup", img.toString(), "--header-backup-file", theirs.toString())
          .ok();
      assertThat(Files.readAllBytes(ours)).isEqualTo(Files.readAllBytes(theirs));
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(ours)))
          .isEqualTo("r--------");

      // jdm restores cryptsetup's backup over a changed header: the old passphrase is back
      Cryptsetup.run(
              PASS,
              "luksChangeKey",
              "--key-file=-",
              "--pbkdf",
              "pbkdf2",
              "--pbkdf-force-iterations",
              "1000",
              img.toString(),
              keyFile(PASS2).toString())
          .ok();
      assertThat(Cryptsetup.testPassphrase(img, PASS)).isFalse();
      List<String> asked = new ArrayList<>();
      try (FileBlockDevice dev = FileBlockDevice.open(img)) {
        assertThat(Luks.restoreHeader(dev, img.toString(), theirs, m -> asked.add(m))).isTrue();
      }
      assertThat(asked)
          .containsExactly(
              "Device "
                  + img
                  + " already contains "
                  + (type.equals("luks1") ? "LUKS" : "LUKS2")
                  + " header. Replacing header will destroy existing keyslots.");
      assertThat(Cryptsetup.testPassphrase(img, PASS)).isTrue();

      // cryptsetup restores jdm's backup
      Cryptsetup.run(
              PASS,
              "luksChangeKey",
              "--key-file=-",
              "--pbkdf",
              "pbkdf2",
              "--pbkdf-force-iterations",
              "1000",
              img.toString(),
              keyFile(PASS2).toString())
          .ok();
      Cryptsetup.run(
              null,
              "luksHeaderRestore",
              "-q",
              img.toString(),
              "--header-backup-file",
              ours.toString())
          .ok();
      assertThat(Cryptsetup.testPassphrase(img, PASS)).isTrue();

      // a declined question writes nothing
      try (FileBlockDevice dev = FileBlockDevice.open(img)) {
        assertThat(Luks.restoreHeader(dev, img.toString(), ours, m -> false)).isFalse();
      }
    }
  }

  @Test
  void restoreRefusesWhatCryptsetupRefuses() throws Exception {
    Path img = cryptsetupFormat("--type luks2 --pbkdf-force-iterations 1000 --pbkdf pbkdf2");
    Path other = LuksImages.image(dir, 20 << 20);
    Cryptsetup.run(
            PASS,
            "luksFormat",
            "-q",
            "--key-file=-",
            "--type",
            "luks2",
            "--pbkdf",
            "pbkdf2",
            "--pbkdf-force-iterations",
            "1000",
            "--offset",
            "65536",
            other.toString())
        .ok();
    Path bk = dir.resolve("other.hdr");
    try (FileBlockDevice dev = FileBlockDevice.open(other)) {
      Luks.backupHeader(dev, bk);
    }
    Cryptsetup.Result cs =
        Cryptsetup.run(
            null, "luksHeaderRestore", "-q", img.toString(), "--header-backup-file", bk.toString());
    assertThat(cs.exit()).isEqualTo(1);
    try (FileBlockDevice dev = FileBlockDevice.open(img)) {
      assertThatThrownBy(() -> Luks.restoreHeader(dev, img.toString(), bk, m -> true))
          .hasMessage(cs.err().strip());
    }
    Path junk = dir.resolve("junk");
    Files.write(junk, new byte[8192]);
    cs =
        Cryptsetup.run(
            null,
            "luksHeaderRestore",
            "-q",
            img.toString(),
            "--header-backup-file",
            junk.toString());
    try (FileBlockDevice dev = FileBlockDevice.open(img)) {
      assertThatThrownBy(() -> Luks.restoreHeader(dev, img.toString(), junk, m -> true))
          .hasMessage(cs.err().strip());
    }
  }

  private Path keyFile(byte[] b) throws Exception {
    Path p = Files.createTempFile(dir, "key", ".bin");
    Files.write(p, b);
    return p;
  }

  @Test
  void plainKeysAreCryptPlainHash() {
    // RIPEMD-160("abc") = 8eb208f7e05d987a9b044a8e98c6b087f15a0bfc, then of "Aabc"
    byte[] k = PlainMode.key("ripemd160", "abc".getBytes(StandardCharsets.US_ASCII), 32);
    assertThat(HexFormat.of().formatHex(k)).startsWith("8eb208f7e05d987a9b044a8e98c6b087f15a0bfc");
    byte[] a = Hashes.digest("ripemd160", "Aabc".getBytes(StandardCharsets.US_ASCII));
    assertThat(java.util.Arrays.copyOfRange(k, 20, 32)).isEqualTo(java.util.Arrays.copyOf(a, 12));
    assertThat(PlainMode.key("sha256:16", "abc".getBytes(StandardCharsets.US_ASCII), 32))
        .startsWith(
            java.util.Arrays.copyOf(
                Hashes.digest("sha256", "abc".getBytes(StandardCharsets.US_ASCII)), 16))
        .endsWith(new byte[16]);
    assertThat(
            PlainMode.key(
                "plain", "0123456789abcdef-extra".getBytes(StandardCharsets.US_ASCII), 16))
        .isEqualTo("0123456789abcdef".getBytes(StandardCharsets.US_ASCII));
    assertThatThrownBy(() -> PlainMode.key("plain", new byte[3], 16))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(
            PlainMode.table(
                new byte[2],
                "/d",
                104,
                new PlainMode.Options("aes-xts-plain64", 16, "plain", 8, 3, 0, 4096, false, true)))
        .isEqualTo("0 96 crypt aes-xts-plain64 0000 3 /d 8 2 allow_discards sector_size:4096");
    assertThatThrownBy(
            () ->
                PlainMode.table(
                    new byte[2],
                    "/d",
                    100,
                    new PlainMode.Options(
                        "aes-xts-plain64", 16, "plain", 7, 0, 0, 4096, false, false)))
        .hasMessage("Device size is not aligned to requested sector size.");
  }
}
