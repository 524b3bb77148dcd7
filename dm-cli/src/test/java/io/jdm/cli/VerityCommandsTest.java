package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.nbd.NbdBlockDevice;
import io.jdm.testkit.ExternalTools;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jdmsetup verity ...} beside the real {@code veritysetup} (2.6) on the same small images:
 * the same stdout, stderr, exit code and files for {@code format}, {@code dump} and {@code verify},
 * good and bad inputs alike; then {@code open} and {@code close} through the daemon, the device
 * read back over NBD.
 */
class VerityCommandsTest {
  private static final String UUID_TEXT = "0badcafe-1234-4321-8765-0123456789ab";
  private static final int BLOCKS = 50;

  @TempDir Path tmp;

  private Daemon daemon;
  private RuntimeDir run;
  private Cli cli;
  private Path data;
  private byte[] dataBytes;

  @BeforeEach
  void setUp() throws IOException {
    ExternalTools.require("veritysetup", "cryptsetup-bin");
    run = new RuntimeDir(tmp.resolve("run"));
    daemon = Daemon.start(run);
    cli = new Cli(run);
    Files.createDirectories(tmp.resolve("vs"));
    Files.createDirectories(tmp.resolve("jdm"));
    dataBytes = new byte[BLOCKS * 4096];
    new Random(Long.getLong("jdm.seed", 14L)).nextBytes(dataBytes); // contents are part of the test
    Arrays.fill(dataBytes, 9 * 4096, 10 * 4096, (byte) 0); // a zero block for ignore_zero_blocks
    data = tmp.resolve("data.img");
    Files.write(data, dataBytes);
  }

  @AfterEach
  void tearDown() {
    if (daemon != null) {
      daemon.close();
    }
  }

  /** veritysetup's exit code, stdout and stderr. */
  private Cli.Result veritysetup(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("veritysetup"));
    cmd.addAll(List.of(args));
    File out = Files.createTempFile(tmp, "veritysetup", ".out").toFile();
    File err = Files.createTempFile(tmp, "veritysetup", ".err").toFile();
    try {
      Process p =
          new ProcessBuilder(cmd)
              .redirectOutput(out)
              .redirectError(err)
              .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
              .start();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError(cmd + ": did not finish in 60 s");
      }
      return new Cli.Result(
          p.exitValue(),
          Files.readString(out.toPath(), StandardCharsets.UTF_8),
          Files.readString(err.toPath(), StandardCharsets.UTF_8));
    } finally {
      Files.delete(out.toPath());
      Files.delete(err.toPath());
    }
  }

  private Cli.Result jdm(String... args) {
    String[] a = new String[args.length + 1];
    a[0] = "verity";
    System.arraycopy(args, 0, a, 1, args.length);
    return cli.run(a);
  }

  /** Both tools, same arguments ({@code @} in an argument stands for vs/ or jdm/): same results. */
  private Cli.Result same(String... args) throws Exception {
    String[] vs = new String[args.length];
    String[] jd = new String[args.length];
    for (int i = 0; i < args.length; i++) {
      vs[i] = args[i].replace("@", tmp.resolve("vs") + "/");
      jd[i] = args[i].replace("@", tmp.resolve("jdm") + "/");
    }
    Cli.Result v = veritysetup(vs);
    Cli.Result j = jdm(jd);
    String vsDir = tmp.resolve("vs") + "/";
    String jdmDir = tmp.resolve("jdm") + "/";
    String what = String.join(" ", args);
    assertThat(j.out().replace(jdmDir, "@"))
        .as("stdout of %s", what)
        .isEqualTo(v.out().replace(vsDir, "@"));
    assertThat(j.err().replace(jdmDir, "@"))
        .as("stderr of %s", what)
        .isEqualTo(v.err().replace(vsDir, "@"));
    assertThat(j.exit()).as("exit of %s; stderr %s", what, v.err()).isEqualTo(v.exit());
    return v;
  }

  private void sameFile(String name) throws IOException {
    assertThat(Files.mismatch(tmp.resolve("vs").resolve(name), tmp.resolve("jdm").resolve(name)))
        .as("first byte of %s that differs", name)
        .isEqualTo(-1);
  }

  private static String rootOf(String out) {
    Matcher m = Pattern.compile("Root hash:\\s+([0-9a-f]+)").matcher(out);
    assertThat(m.find()).as(out).isTrue();
    return m.group(1);
  }

  private void corrupt(Path p, long at, int len) throws IOException {
    byte[] b = Files.readAllBytes(p);
    for (int i = 0; i < len; i++) {
      b[(int) at + i] ^= (byte) (0x5a + i);
    }
    Files.write(p, b);
  }

  @Test
  void formatPrintsAndWritesWhatVeritysetupDoes() throws Exception {
    String[][] cases = {
      {"--salt=abcd"},
      {
        "--format=0", "--hash=sha1", "--data-block-size=512", "--hash-block-size=1024", "-s", "fe01"
      },
      {"--no-superblock", "--salt=-", "--hash=sha512"},
      {"--salt=00", "--fec-device=@fec.img", "--fec-roots=4"},
      {"--salt=01", "--hash-offset=8192", "--data-blocks=10"},
      {"--salt=02", "--hash=SHA256", "-v"},
    };
    for (String[] c : cases) {
      for (String f : new String[] {"hash.img", "fec.img", "rh.txt"}) {
        Files.deleteIfExists(tmp.resolve("vs").resolve(f));
        Files.deleteIfExists(tmp.resolve("jdm").resolve(f));
      }
      List<String> args = new ArrayList<>(List.of("format", "--uuid=" + UUID_TEXT));
      args.addAll(List.of(c));
      args.add("--root-hash-file=@rh.txt");
      args.add(data.toString());
      args.add("@hash.img");
      Cli.Result v = same(args.toArray(new String[0]));
      assertThat(v.exit()).isZero();
      sameFile("hash.img");
      sameFile("rh.txt");
      if (args.contains("--fec-device=@fec.img")) {
        sameFile("fec.img");
      }
    }
  }

  @Test
  void formatRefusesBadOptionsWithVeritysetupsWords() throws Exception {
    String[][] cases = {
      {"--data-block-size=1000"},
      {"--hash-block-size=256"},
      {"--hash=md77"},
      {"--salt=zz"},
      {"--salt=abc"},
      {"--format=3"},
      {"--hash-offset=100"},
      {"--fec-roots=30", "--fec-device=@fec.img"},
      {"--uuid=bad"},
      {"--data-blocks=100"},
      {"--data-block-size=4096", "--hash-block-size=512", "--fec-device=@fec.img"},
      {"-v", "--format=3"},
    };
    for (String[] c : cases) {
      List<String> args = new ArrayList<>(List.of("format"));
      args.addAll(List.of(c));
      args.add(data.toString());
      args.add("@hash.img");
      assertThat(same(args.toArray(new String[0])).exit()).as(Arrays.toString(c)).isNotZero();
    }
    Cli.Result r = same("format", tmp.resolve("none.img").toString(), "@hash.img");
    assertThat(r.exit()).isEqualTo(4);
    r = same("format", data.toString(), tmp.resolve("no/such/dir/hash.img").toString());
    assertThat(r.err()).contains("Cannot create hash image");
  }

  @Test
  void dumpPrintsWhatVeritysetupDoes() throws Exception {
    same(
        "format",
        "--uuid=" + UUID_TEXT,
        "--salt=abcd",
        "--fec-device=@fec.img",
        data.toString(),
        "@hash.img");
    same("dump", "@hash.img");
    same("dump", "--no-superblock", "@hash.img"); // ignored: dump reads the superblock
    same("dump", "--fec-device=@fec.img", "@hash.img");
    same("dump", "--fec-device=@fec.img", "--fec-roots=4", "@hash.img");
    same("dump", data.toString()); // not a verity device: exit 1
    same("dump", "@none.img"); // exit 4
    same(
        "format",
        "--uuid=" + UUID_TEXT,
        "--salt=ab",
        "--hash-offset=8192",
        data.toString(),
        "@h2.img");
    same("dump", "--hash-offset=8192", "@h2.img");
    same("dump", "--hash-offset=100", "@h2.img");
  }

  @Test
  void verifyAgreesWithVeritysetupOnGoodAndBadImages() throws Exception {
    Cli.Result f =
        same(
            "format",
            "--uuid=" + UUID_TEXT,
            "--salt=abcd",
            "--fec-device=@fec.img",
            "--fec-roots=4",
            data.toString(),
            "@hash.img");
    String root = rootOf(f.out());
    String zeros = "0".repeat(64);
    Path hash = tmp.resolve("vs/hash.img");
    Files.copy(
        hash, tmp.resolve("jdm/hash.img"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    Files.copy(
        tmp.resolve("vs/fec.img"),
        tmp.resolve("jdm/fec.img"),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    String d = data.toString();
    assertThat(same("verify", d, "@hash.img", root).exit()).isZero();
    same("verify", "-v", d, "@hash.img", root);
    same("verify", d, "@hash.img", zeros); // root hash failed: 1
    same("verify", "--fec-device=@fec.img", "--fec-roots=4", d, "@hash.img", zeros); // 2
    same("verify", d, "@hash.img", "00"); // invalid root hash string
    same("verify", d, "@hash.img", root + "zz");
    same("verify", d, "@hash.img"); // requires a root hash
    same("verify", tmp.resolve("none.img").toString(), "@hash.img", root); // 4
    same("verify", "--fec-device=@none.img", d, "@hash.img", root);
    same("verify", "--hash-offset=100", d, "@hash.img", root);
    Files.writeString(tmp.resolve("jdm/rh.txt"), root);
    Files.writeString(tmp.resolve("vs/rh.txt"), root);
    same("verify", "--root-hash-file=@rh.txt", d, "@hash.img");

    // data corrupt: exit 2 at its position; FEC repairs one byte, not three whole blocks
    Path bad = tmp.resolve("bad.img");
    Files.copy(data, bad);
    corrupt(bad, 7 * 4096 + 5, 1);
    String b = bad.toString();
    assertThat(same("verify", b, "@hash.img", root).exit()).isEqualTo(2);
    same("verify", "-v", b, "@hash.img", root);
    assertThat(same("verify", "--fec-device=@fec.img", "--fec-roots=4", b, "@hash.img", root).err())
        .contains("Found 1 repairable errors with FEC device.");
    for (int blk : new int[] {1, 14, 27}) {
      corrupt(bad, blk * 4096L, 4096);
    }
    assertThat(same("verify", "--fec-device=@fec.img", "--fec-roots=4", b, "@hash.img", root).err())
        .contains("Errors cannot be repaired with FEC device.");

    // a short data device: I/O error, exit 1
    Path shortData = tmp.resolve("short.img");
    Files.write(shortData, Arrays.copyOf(dataBytes, 40 * 4096));
    same("verify", shortData.toString(), "@hash.img", root);

    // a digest, a padding byte and the superblock corrupt, on both tools' copies
    for (long[] at : new long[][] {{4096 + 100, 1}, {4096 + BLOCKS * 32 + 3, 1}, {0, 1}, {8, 1}}) {
      for (String side : new String[] {"vs", "jdm"}) {
        Path h = tmp.resolve(side).resolve("hash.img");
        Files.copy(
            hash,
            tmp.resolve(side).resolve("h.img"),
            java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        corrupt(tmp.resolve(side).resolve("h.img"), at[0], (int) at[1]);
        assertThat(h).exists();
      }
      assertThat(same("verify", d, "@h.img", root).exit()).isNotZero();
    }
  }

  @Test
  void verifyWithoutSuperblockTakesTheOptions() throws Exception {
    Cli.Result f = same("format", "--no-superblock", "--salt=-", data.toString(), "@hash.img");
    String root = rootOf(f.out());
    same("verify", "--no-superblock", "--salt=-", data.toString(), "@hash.img", root);
    same(
        "verify",
        "--no-superblock",
        "--salt=-",
        "--data-blocks=20",
        data.toString(),
        "@hash.img",
        root);
    same("verify", data.toString(), "@hash.img", root); // no superblock to read: exit 1
  }

  @Test
  void openReadsCloseThroughTheDaemon() throws Exception {
    Cli.Result f =
        jdm(
            "format",
            "--uuid=" + UUID_TEXT,
            "--salt=abcd",
            "--fec-device=" + tmp.resolve("fec"),
            data.toString(),
            tmp.resolve("hash").toString());
    f.ok();
    String root = rootOf(f.out());
    String h = tmp.resolve("hash").toString();
    jdm("open", data.toString(), "v", h, root).ok();
    String table = cli.run("table", "v").ok().out();
    assertThat(table)
        .matches("0 400 verity 1 7:\\d+ 7:\\d+ 4096 4096 50 1 sha256 " + root + " abcd\n");
    assertThat(cli.run("status", "v").ok().out()).isEqualTo("0 400 verity V\n");
    assertThat(cli.run("info", "v").ok().out())
        .contains("UUID: CRYPT-VERITY-0badcafe123443218765" + "0123456789ab-v")
        .contains("READ-ONLY");
    try (NbdBlockDevice dev = NbdBlockDevice.open(run.nbdUri("v"))) {
      ByteBuffer all = ByteBuffer.allocate(dataBytes.length);
      dev.read(all, 0);
      assertThat(all.array()).isEqualTo(dataBytes);
    }
    Cli.Result again = jdm("open", data.toString(), "v", h, root);
    assertThat(again.exit()).isEqualTo(5);
    assertThat(again.err()).isEqualTo("Device v already exists.\n");
    jdm("close", "v").ok();
    Cli.Result closed = jdm("close", "-v", "v");
    assertThat(closed.exit()).isEqualTo(4);
    assertThat(closed.err()).isEqualTo("Device v is not active.\n");
    assertThat(closed.out())
        .isEqualTo("Command failed with code -4 (wrong device or file specified).\n");

    // every option veritysetup turns into a table feature
    jdm(
            "open",
            "--ignore-corruption",
            "--ignore-zero-blocks",
            "--check-at-most-once",
            "--fec-device=" + tmp.resolve("fec"),
            data.toString(),
            "w",
            h,
            root)
        .ok();
    assertThat(cli.run("table", "w").ok().out())
        .matches(
            "0 400 verity 1 7:\\d+ 7:\\d+ 4096 4096 50 1 sha256 "
                + root
                + " abcd 11 ignore_corruption ignore_zero_blocks check_at_most_once"
                + " use_fec_from_device 7:\\d+ fec_blocks 51 fec_start 0 fec_roots 2\n");
    jdm("close", "w").ok();

    // refused before anything is created
    Cli.Result r =
        jdm(
            "open",
            "--ignore-corruption",
            "--restart-on-corruption",
            data.toString(),
            "x",
            h,
            root);
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err()).contains("cannot be used together");
    r = jdm("open", "--root-hash-signature=" + h, data.toString(), "x", h, root);
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err()).contains("signature");
    r = jdm("open", data.toString(), "x", h, "0".repeat(63));
    assertThat(r.err()).isEqualTo("Invalid root hash string specified.\n");
    assertThat(cli.run("ls").ok().out()).isEqualTo("No devices found\n");
  }

  @Test
  void aWrongRootHashOpensButFailsReads() throws Exception {
    Cli.Result f = jdm("format", "--salt=-", data.toString(), tmp.resolve("hash").toString()).ok();
    String wrong = "1" + rootOf(f.out()).substring(1);
    jdm("open", data.toString(), "v", tmp.resolve("hash").toString(), wrong).ok();
    try (NbdBlockDevice dev = NbdBlockDevice.open(run.nbdUri("v"))) {
      ByteBuffer one = ByteBuffer.allocate(4096);
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> dev.read(one, 0))
          .isInstanceOf(IOException.class);
    }
    assertThat(cli.run("status", "v").ok().out()).isEqualTo("0 400 verity C\n");
    jdm("close", "v").ok();
  }
}
