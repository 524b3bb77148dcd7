package io.jdm.targets.verity;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.BlockIOException;
import io.jdm.core.DeviceMapper;
import io.jdm.core.FileBlockDevice;
import io.jdm.core.MappedDevice;
import io.jdm.core.TableSpec;
import io.jdm.testkit.ExternalTools;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code verity} against cryptsetup's {@code veritysetup} 2.6, both ways, on small image files:
 * jdm's formatter writes the same bytes (superblock, tree, FEC parity) and root hash as {@code
 * veritysetup format}; {@code veritysetup verify} and {@code dump} accept what jdm wrote; jdm maps
 * and reads what veritysetup wrote; and with FEC, corruption that veritysetup's verify calls
 * repairable reads back correct through jdm, and worse corruption fails with EIO.
 */
class VerityInteropTest {
  private static final String UUID_TEXT = "0badcafe-1234-4321-8765-0123456789ab";

  @TempDir Path dir;
  private long seed;

  @BeforeEach
  void requireTool() {
    ExternalTools.require("veritysetup", "cryptsetup-bin");
    seed = Long.getLong("jdm.seed", 20261203L); // fixed: image contents are part of the test
  }

  private Path dataImage(String name, int blocks, int bs) throws IOException {
    byte[] b = new byte[blocks * bs];
    new Random(seed).nextBytes(b);
    // a few zero blocks, for ignore_zero_blocks and for FEC's zero-block skip
    for (int i = 3; i < blocks; i += 17) {
      java.util.Arrays.fill(b, i * bs, (i + 1) * bs, (byte) 0);
    }
    Path p = dir.resolve(name);
    Files.write(p, b);
    return p;
  }

  private static String veritysetup(String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add("veritysetup");
    cmd.addAll(List.of(args));
    return ExternalTools.ok(cmd.toArray(new String[0]));
  }

  private static String rootOf(String out) {
    Matcher m = Pattern.compile("Root hash:\\s+([0-9a-f]+)").matcher(out);
    assertThat(m.find()).as(out).isTrue();
    return m.group(1);
  }

  private static FileBlockDevice create(Path p, long bytes) throws IOException {
    return FileBlockDevice.builder(p).create(bytes).open();
  }

  /** Formats with jdm and with veritysetup, same parameters; both must agree byte for byte. */
  private void sameAsVeritysetup(VerityFormat.Builder jdm, int blocks, int bs, String... vsArgs)
      throws Exception {
    Path data = dataImage("data.img", blocks, bs);
    Path vsHash = dir.resolve("vs-hash.img");
    List<String> args = new ArrayList<>(List.of("format", "--uuid=" + UUID_TEXT));
    args.addAll(List.of(vsArgs));
    args.add(data.toString());
    args.add(vsHash.toString());
    String out = veritysetup(args.toArray(new String[0]));
    Path jdmHash = dir.resolve("jdm-hash.img");
    VerityFormat fmt = jdm.uuid(UUID.fromString(UUID_TEXT)).build();
    VerityFormat.Result r;
    try (FileBlockDevice d = FileBlockDevice.builder(data).readOnly(true).open();
        FileBlockDevice h = create(jdmHash, Files.size(vsHash))) {
      r = fmt.format(d, h);
    }
    assertThat(r.rootHashHex()).isEqualTo(rootOf(out));
    assertThat(Files.mismatch(jdmHash, vsHash)).as("first differing byte").isEqualTo(-1);
    // and veritysetup accepts jdm's tree
    List<String> verify = new ArrayList<>(List.of("verify"));
    verify.addAll(List.of(vsArgs));
    if (verify.contains("--no-superblock")) {
      verify.add("--data-blocks=" + blocks);
    }
    verify.addAll(List.of(data.toString(), jdmHash.toString(), r.rootHashHex()));
    veritysetup(verify.toArray(new String[0]));
  }

  @Test
  void formatMatchesVeritysetupWithDefaults() throws Exception {
    byte[] salt = HexFormat.of().parseHex("00112233445566778899aabbccddeeff");
    sameAsVeritysetup(
        VerityFormat.builder().salt(salt), 200, 4096, "--salt=00112233445566778899aabbccddeeff");
  }

  @Test
  void formatMatchesVeritysetupInChromeOsFormatWithSmallBlocks() throws Exception {
    sameAsVeritysetup(
        VerityFormat.builder()
            .hashType(0)
            .algorithm("sha1")
            .dataBlockSize(512)
            .hashBlockSize(1024)
            .salt(new byte[] {(byte) 0xfe, 0x01}),
        700,
        512,
        "--format=0",
        "--hash=sha1",
        "--data-block-size=512",
        "--hash-block-size=1024",
        "--salt=fe01");
  }

  @Test
  void formatMatchesVeritysetupWithoutSaltOrSuperblock() throws Exception {
    sameAsVeritysetup(
        VerityFormat.builder().salt(new byte[0]).superblock(false).algorithm("sha512"),
        130,
        4096,
        "--salt=-",
        "--no-superblock",
        "--hash=sha512");
  }

  @Test
  void knownRootHashesFromTheReference() throws Exception {
    // kernel-dm.md §19 vectors 10 and 11
    Path zeros = dir.resolve("zeros.img");
    Files.write(zeros, new byte[2 * 4096]);
    byte[] salt = new byte[32];
    for (int i = 0; i < 32; i++) {
      salt[i] = (byte) i;
    }
    try (FileBlockDevice d = FileBlockDevice.open(zeros);
        FileBlockDevice h = create(dir.resolve("h1.img"), 8192)) {
      assertThat(VerityFormat.builder().salt(salt).build().format(d, h).rootHashHex())
          .isEqualTo("a14511ce3b66ac548ab3efb1eff05e0aa6e9145985f0dc6c4699a9c983ff4b2b");
    }
    byte[] b = new byte[200 * 4096];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) (7 * i + 3);
    }
    Path seq = dir.resolve("seq.img");
    Files.write(seq, b);
    try (FileBlockDevice d = FileBlockDevice.open(seq);
        FileBlockDevice h = create(dir.resolve("h2.img"), 4 * 4096)) {
      VerityFormat.Result r = VerityFormat.builder().salt(new byte[0]).build().format(d, h);
      assertThat(r.rootHashHex())
          .isEqualTo("47bbf9c09c7b7022fa8d32c4262f64934851ff8760ebe4fbabc8918a9d35202c");
      assertThat(r.geometry().levels()).isEqualTo(2);
    }
  }

  @Test
  void fecParityMatchesVeritysetupAndVerifies() throws Exception {
    for (int roots : new int[] {2, 7, 24}) {
      Path data = dataImage("data.img", 300, 4096);
      Path vsHash = dir.resolve("vs-hash.img");
      Path vsFec = dir.resolve("vs-fec.img");
      Files.deleteIfExists(vsFec);
      String out =
          veritysetup(
              "format",
              "--uuid=" + UUID_TEXT,
              "--salt=abcd",
              "--fec-device=" + vsFec,
              "--fec-roots=" + roots,
              data.toString(),
              vsHash.toString());
      Path jdmHash = dir.resolve("jdm-hash.img");
      Path jdmFec = dir.resolve("jdm-fec.img");
      Files.deleteIfExists(jdmFec);
      VerityFormat fmt =
          VerityFormat.builder()
              .uuid(UUID.fromString(UUID_TEXT))
              .salt(new byte[] {(byte) 0xab, (byte) 0xcd})
              .fecRoots(roots)
              .build();
      VerityFormat.Result r;
      try (FileBlockDevice d = FileBlockDevice.builder(data).readOnly(true).open();
          FileBlockDevice h = create(jdmHash, Files.size(vsHash));
          FileBlockDevice f = create(jdmFec, Files.size(vsFec))) {
        r = fmt.format(d, h, f);
      }
      assertThat(r.rootHashHex()).isEqualTo(rootOf(out));
      assertThat(Files.mismatch(jdmHash, vsHash)).isEqualTo(-1);
      assertThat(Files.mismatch(jdmFec, vsFec)).as("roots %d: FEC parity", roots).isEqualTo(-1);
      assertThat(fmt.fecBytes(r.fecBlocks())).isEqualTo(Files.size(vsFec));
      veritysetup(
          "verify",
          "--fec-device=" + jdmFec,
          "--fec-roots=" + roots,
          data.toString(),
          jdmHash.toString(),
          r.rootHashHex());
    }
  }

  @Test
  void dumpShowsWhatJdmWrote() throws Exception {
    Path data = dataImage("data.img", 64, 4096);
    Path hash = dir.resolve("hash.img");
    VerityFormat fmt =
        VerityFormat.builder().uuid(UUID.fromString(UUID_TEXT)).salt(new byte[] {1, 2}).build();
    try (FileBlockDevice d = FileBlockDevice.open(data);
        FileBlockDevice h = create(hash, fmt.hashDeviceBytes(64))) {
      fmt.format(d, h);
      VeritySuperblock sb = VerityFormat.readSuperblock(h, 0);
      assertThat(sb.dataBlocks()).isEqualTo(64);
      assertThat(sb.uuid()).isEqualTo(UUID.fromString(UUID_TEXT));
    }
    String dump = veritysetup("dump", hash.toString());
    assertThat(dump)
        .contains("UUID:            \t" + UUID_TEXT)
        .contains("Hash type:       \t1")
        .contains("Data blocks:     \t64")
        .contains("Data block size: \t4096")
        .contains("Hash algorithm:  \tsha256")
        .contains("Salt:            \t0102");
  }

  /** veritysetup formats; jdm maps the files and reads everything back, verified. */
  @Test
  void jdmVerifiesVeritysetupsTree() throws Exception {
    Path data = dataImage("data.img", 300, 4096);
    Path hash = dir.resolve("hash.img");
    String root = rootOf(veritysetup("format", data.toString(), hash.toString()));
    String dump = veritysetup("dump", hash.toString());
    Matcher salt = Pattern.compile("Salt:\\s+([0-9a-f]+)").matcher(dump);
    assertThat(salt.find()).isTrue();
    try (DeviceMapper dm = DeviceMapper.create()) {
      String table =
          "0 2400 verity 1 "
              + data
              + " "
              + hash
              + " 4096 4096 300 1 sha256 "
              + root
              + " "
              + salt.group(1);
      MappedDevice v = dm.create("v", null, TableSpec.parse(table), true);
      ByteBuffer got = ByteBuffer.allocate(300 * 4096);
      v.read(got, 0);
      assertThat(got.array()).isEqualTo(Files.readAllBytes(data));
      assertThat(v.status()).isEqualTo("0 2400 verity V\n");
      dm.remove("v");
    }
  }

  /**
   * FEC from veritysetup: one corrupt block per codeword is corrected without erasures, two in the
   * same codewords with erasures (both found by their digests), three are beyond RS(255, 253) and
   * fail; a corrupt hash block is rebuilt too. veritysetup's verify agrees on what is repairable.
   */
  @Test
  void fecCorrectsWhatItCanAndFailsTheRest() throws Exception {
    Path data = dataImage("data.img", 300, 4096);
    Path hash = dir.resolve("hash.img");
    Path fec = dir.resolve("fec.img");
    String root =
        rootOf(
            veritysetup(
                "format",
                "--salt=-",
                "--fec-device=" + fec,
                "--fec-roots=2",
                data.toString(),
                hash.toString()));
    byte[] good = Files.readAllBytes(data);
    // 300 data + 4 hash blocks over rsn 253: 2 rounds, so blocks of equal parity share codewords
    corrupt(data, 10 * 4096 + 100, 16);
    String vs =
        ExternalTools.run(
                "veritysetup",
                "verify",
                "--fec-device=" + fec,
                "--fec-roots=2",
                data.toString(),
                hash.toString(),
                root)
            .output();
    assertThat(vs).contains("repairable errors with FEC device");
    corrupt(data, 12 * 4096 + 7, 300); // same codewords as block 10: two erasures
    String table =
        "0 2400 verity 1 "
            + data
            + " "
            + hash
            + " 4096 4096 300 1 sha256 "
            + root
            + " - 8 use_fec_from_device "
            + fec
            + " fec_roots 2 fec_blocks 304 fec_start 0";
    try (DeviceMapper dm = DeviceMapper.create()) {
      MappedDevice v = dm.create("v", null, TableSpec.parse(table), true);
      ByteBuffer got = ByteBuffer.allocate(300 * 4096);
      v.read(got, 0);
      assertThat(got.array()).isEqualTo(good);
      assertThat(v.status()).as("corrected, so nothing to report").isEqualTo("0 2400 verity V\n");
      assertThat(v.table())
          .isEqualTo(
              "0 2400 verity 1 "
                  + dev(v, 0)
                  + " "
                  + dev(v, 1)
                  + " 4096 4096 300 1 sha256 "
                  + root
                  + " - 8 use_fec_from_device "
                  + dev(v, 2)
                  + " fec_blocks 304 fec_start 0 fec_roots 2\n");
      dm.remove("v");
    }
    // a level-0 hash block (data blocks 0-127): rebuilt from parity; its companions' lookups meet
    // it still corrupt, unverifiable inside FEC, and report it, as the kernel's would
    corrupt(hash, 2 * 4096 + 64, 8);
    try (DeviceMapper dm = DeviceMapper.create()) {
      MappedDevice v = dm.create("v", null, TableSpec.parse(table), true);
      ByteBuffer got = ByteBuffer.allocate(300 * 4096);
      v.read(got, 0);
      assertThat(got.array()).isEqualTo(good);
      VerityTarget t = (VerityTarget) v.liveTable().orElseThrow().target(0);
      assertThat(t.corruptionReports()).contains("DM_VERITY_ERR_BLOCK_NR=1,2");
      dm.remove("v");
    }
    corrupt(data, 14 * 4096, 4096); // a third block in the same codewords: too many
    try (DeviceMapper dm = DeviceMapper.create()) {
      MappedDevice v = dm.create("v", null, TableSpec.parse(table), true);
      ByteBuffer one = ByteBuffer.allocate(4096);
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> v.read(one, 14L * 4096))
          .isInstanceOf(BlockIOException.class);
      assertThat(v.status()).isEqualTo("0 2400 verity C\n");
      one.clear();
      v.read(one, 11L * 4096); // other blocks still read
      assertThat(one.array()).isEqualTo(java.util.Arrays.copyOfRange(good, 11 * 4096, 12 * 4096));
      dm.remove("v");
    }
  }

  private static String dev(MappedDevice v, int i) {
    return v.liveTable().orElseThrow().devices().get(i).name();
  }

  private void corrupt(Path p, long at, int len) throws IOException {
    byte[] b = Files.readAllBytes(p);
    Random r = new Random(seed + at);
    for (int i = 0; i < len; i++) {
      b[(int) at + i] ^= (byte) (1 + r.nextInt(255));
    }
    Files.write(p, b);
  }
}
