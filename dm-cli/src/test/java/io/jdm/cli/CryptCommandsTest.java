package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jdm.testkit.ExternalTools;
import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * cryptsetup's verbs in jdmsetup against cryptsetup 2.6.1 itself: each command runs on the same
 * image (restored in between) through both tools, and exit code, stdout and stderr must be equal;
 * headers jdm changed are then used by cryptsetup and the other way round. {@code open}, {@code
 * status} and {@code close} need a kernel device mapper for cryptsetup, so they are checked against
 * cryptsetup's source texts.
 */
class CryptCommandsTest {
  /**
   * Both LUKS versions run each parameterized test with {@code -Djdm.fullTests=true}; by default
   * one version each (cryptsetup processes cost), the other version's dump being {@code
   * LuksDumpTest}'s.
   */
  private static final boolean FULL = Boolean.getBoolean("jdm.fullTests");

  /** Cheap key derivation for both tools. */
  private static final String[] FAST = {"--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"};

  @TempDir Path tmp;

  private Daemon daemon;
  private Cli cli;

  @BeforeEach
  void start() throws IOException {
    ExternalTools.require("cryptsetup", "cryptsetup-bin");
    RuntimeDir dir = new RuntimeDir(tmp.resolve("run"));
    daemon = Daemon.start(dir);
    cli = new Cli(dir);
  }

  @AfterEach
  void stop() {
    if (daemon != null) {
      daemon.close();
    }
  }

  /** What a tool printed and its exit code. */
  record Run(int exit, String out, String err) {}

  private static Run cryptsetup(String stdin, String... args)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add("cryptsetup");
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).start();
    try (OutputStream o = p.getOutputStream()) {
      o.write(stdin.getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      // it did not read all of it
    }
    byte[] out = p.getInputStream().readAllBytes();
    byte[] err = p.getErrorStream().readAllBytes();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("cryptsetup " + String.join(" ", args) + ": no end in 60 s");
    }
    return new Run(
        p.exitValue(),
        new String(out, StandardCharsets.UTF_8),
        new String(err, StandardCharsets.UTF_8));
  }

  private Run jdm(String stdin, String... args) {
    Cli.Result r = cli.runWithInput(stdin, args);
    return new Run(r.exit(), r.out(), r.err());
  }

  /**
   * Runs {@code args} through cryptsetup, puts {@code image} back as it was, runs them through
   * jdmsetup, and asserts both said the same; the image is left as jdmsetup left it.
   */
  private Run same(Path image, String stdin, String... args) throws Exception {
    byte[] before = Files.exists(image) ? Files.readAllBytes(image) : null;
    Run theirs = cryptsetup(stdin, args);
    if (before != null) {
      Files.write(image, before);
    }
    Run ours = jdm(stdin, args);
    assertThat(ours).as("jdmsetup %s", String.join(" ", args)).isEqualTo(theirs);
    return ours;
  }

  /** {@code verb}, the cheap PBKDF options, then {@code rest}. */
  private static String[] fast(String verb, String... rest) {
    List<String> a = new ArrayList<>();
    a.add(verb);
    a.addAll(List.of(FAST));
    a.addAll(List.of(rest));
    return a.toArray(String[]::new);
  }

  private Path image(String name, long bytes) throws IOException {
    Path p = tmp.resolve(name);
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(bytes);
    }
    return p;
  }

  /** A 4 MiB container cryptsetup formats with "pass", data at 2 MiB. */
  private Path container(String type) throws Exception {
    Path img = image(type + ".img", 4 << 20);
    List<String> a = new ArrayList<>(List.of("luksFormat", "-q", "--type", type, "--key-file=-"));
    a.addAll(List.of(FAST));
    if (type.equals("luks2")) {
      a.addAll(List.of("--offset", "4096"));
    }
    a.add(img.toString());
    assertThat(cryptsetup("pass", a.toArray(String[]::new)).exit()).isZero();
    return img;
  }

  private static boolean cryptsetupAccepts(Path img, String pass) throws Exception {
    return cryptsetup(pass, "open", "--test-passphrase", "--key-file=-", img.toString()).exit()
        == 0;
  }

  @ParameterizedTest
  @ValueSource(strings = {"luks1", "luks2"})
  void readingVerbsSayWhatCryptsetupSays(String type) throws Exception {
    assumeTrue(FULL || type.equals("luks1"), "luks2 with -Djdm.fullTests=true");
    Path img = container(type);
    String i = img.toString();
    Path plainFile = image("zeros.img", 1 << 20);
    String missing = tmp.resolve("missing.img").toString();
    same(img, "", "luksDump", i);
    same(img, "", "luksDump", plainFile.toString());
    same(img, "", "luksDump", missing);
    same(img, "", "isLuks", i);
    same(img, "", "isLuks", "-v", i);
    same(img, "", "isLuks", "--type", type.equals("luks1") ? "luks2" : "luks1", i);
    same(img, "", "isLuks", "-v", plainFile.toString());
    same(img, "", "isLuks", missing);
    same(img, "", "luksUUID", i);
    same(img, "", "luksUUID", plainFile.toString());
    same(img, "", "luksUUID", "--uuid", "not-a-uuid", i);
    same(img, "", "luksUUID", "-q", "--uuid", "12345678-9abc-def0-1234-56789ABCDEF0", i);
    assertThat(cryptsetup("", "luksUUID", i).out())
        .isEqualTo("12345678-9abc-def0-1234-56789abcdef0\n");
    same(img, "pass", "open", "--test-passphrase", "-v", "--key-file=-", i);
    same(img, "bad", "open", "--test-passphrase", "--key-file=-", i);
    same(img, "pass\n", "open", "--test-passphrase", "--key-slot", "1", i);
    same(img, "", "open", "--test-passphrase", i);
    assertThat(jdm("pass", "open", "--test-passphrase", "--type", "plain", "--key-file=-", i))
        .isEqualTo(
            new Run(
                1,
                "",
                "jdmsetup: Option --test-passphrase is allowed only for open of LUKS, TCRYPT, BITLK"
                    + " and FVAULT2 devices.\n"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"luks1", "luks2"})
  void keyslotVerbsSayWhatCryptsetupSaysAndTheHeadersGoBothWays(String type) throws Exception {
    assumeTrue(FULL || type.equals("luks2"), "luks1 with -Djdm.fullTests=true");
    Path img = container(type);
    String i = img.toString();
    same(img, "bad\nnew\n", fast("luksAddKey", i));
    same(img, "pass\nnew\n", fast("luksAddKey", "-v", i));
    assertThat(cryptsetupAccepts(img, "new")).isTrue(); // jdm's keyslot 1, cryptsetup opens it
    same(img, "pass\nnew2\n", fast("luksAddKey", "-S", "1", i));
    same(img, "pass\nnew3\n", fast("luksAddKey", "-q", "-v", "--key-slot", "5", i));
    assertThat(cryptsetupAccepts(img, "new3")).isTrue();
    Path newKey = tmp.resolve("new.key");
    Files.write(newKey, new byte[] {0, 10, (byte) 0xff, 'k'});
    same(img, "new3\n", fast("luksAddKey", "-v", "--new-key-slot", "3", i, newKey.toString()));
    assertThat(
            cryptsetup("", "open", "--test-passphrase", "--key-file", newKey.toString(), i).exit())
        .isZero();
    // cryptsetup's keyslot, jdm opens it
    assertThat(cryptsetup("pass\nbycs\n", fast("luksAddKey", i)).exit()).isZero();
    same(img, "bycs", "open", "--test-passphrase", "-v", "--key-file=-", i);

    same(img, "new\nnewer\n", fast("luksChangeKey", "-v", i));
    same(img, "nope\nnewer\n", fast("luksChangeKey", i));
    same(img, "new3\nchanged\n", fast("luksChangeKey", "-S", "1", i));
    assertThat(cryptsetupAccepts(img, "newer")).isTrue();
    assertThat(cryptsetupAccepts(img, "new")).isFalse();

    same(img, "newer\n", "luksRemoveKey", "-v", i);
    same(img, "newer\n", "luksRemoveKey", i);
    assertThat(cryptsetupAccepts(img, "newer")).isFalse();
    same(img, "", "luksKillSlot", "-q", i, "7");
    same(img, "", "luksKillSlot", "-q", i, "40");
    same(img, "wrong\n", "luksKillSlot", i, "5");
    same(img, "pass\n", "luksKillSlot", "-v", i, "5");
    same(img, "", "luksKillSlot", "-q", "-v", i, "3");
    assertThat(cryptsetupAccepts(img, "new3")).isFalse();
    assertThat(cryptsetupAccepts(img, "pass")).isTrue();
    same(img, "", "luksDump", i);
  }

  @Test
  void headerBackupAndRestoreGoBothWays() throws Exception {
    Path img = container("luks2");
    String i = img.toString();
    same(img, "", "luksHeaderBackup", i);
    Path ours = tmp.resolve("ours.hdr");
    Path theirs = tmp.resolve("theirs.hdr");
    cli.run("luksHeaderBackup", i, "--header-backup-file", ours.toString()).ok();
    assertThat(cryptsetup("", "luksHeaderBackup", i, "--header-backup-file", theirs.toString()))
        .isEqualTo(new Run(0, "", ""));
    assertThat(Files.readAllBytes(ours)).isEqualTo(Files.readAllBytes(theirs));
    same(img, "", "luksHeaderBackup", i, "--header-backup-file", ours.toString());

    assertThat(cryptsetup("pass\nother\n", fast("luksChangeKey", i)).exit()).isZero();
    same(img, "", "luksHeaderRestore", i, "--header-backup-file", theirs.toString());
    assertThat(cryptsetupAccepts(img, "pass")).isTrue();
    Path junk = image("junk.hdr", 8192);
    same(img, "", "luksHeaderRestore", "-q", i, "--header-backup-file", junk.toString());
    Path luks1 = container("luks1");
    same(
        luks1,
        "",
        "luksHeaderRestore",
        "-q",
        luks1.toString(),
        "--header-backup-file",
        ours.toString());
    assertThat(cryptsetupAccepts(luks1, "pass")).isTrue(); // a LUKS2 header now
  }

  @Test
  void openStatusAndCloseOverTheDaemon() throws Exception {
    Path img = image("s.img", 4 << 20);
    String i = img.toString();
    assertThat(
            cryptsetup(
                    "pass",
                    fast(
                        "luksFormat",
                        "-q",
                        "--type",
                        "luks2",
                        "--offset",
                        "4096",
                        "--sector-size",
                        "4096",
                        "--key-file=-",
                        i))
                .exit())
        .isZero();
    Run r = jdm("pass\n", "open", "--type", "luks1", i, "v");
    assertThat(r).isEqualTo(new Run(1, "", "Device " + i + " is not a valid LUKS device.\n"));
    r = jdm("bad\n", "open", i, "v");
    assertThat(r).isEqualTo(new Run(2, "", "No key available with this passphrase.\n"));
    r = jdm("pass\n", "open", "--offset", "8", i, "v");
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err())
        .isEqualTo(
            "jdmsetup: Option --offset with open action is only supported for plain and loopaes"
                + " devices.\n");
    r = jdm("pass\n", "open", "--sector-size", "4096", i, "v");
    assertThat(r.err())
        .isEqualTo(
            "jdmsetup: Sector size option with open action is supported only for plain devices.\n");
    assertThat(jdm("pass\n", "open", i).err())
        .isEqualTo("Command requires device and mapped name as arguments.\n");

    cli.runWithInput(
            "pass\n",
            "open",
            "--type",
            "luks2",
            "--readonly",
            "--allow-discards",
            "--key-slot",
            "0",
            i,
            "v")
        .ok();
    assertThat(cli.run("table", "v").ok().out())
        .matches(
            "0 4096 crypt aes-xts-plain64 0{128} 0 7:\\d+ 4096 2 allow_discards sector_size:4096\n");
    assertThat(cli.run("info", "v").ok().out()).contains("READ-ONLY").contains("CRYPT-LUKS2-");
    // action_status's lines
    assertThat(cli.run("crypt", "status", "v").ok().out())
        .isEqualTo(
            "/dev/mapper/v is active.\n"
                + "  type:    LUKS2\n"
                + "  cipher:  aes-xts-plain64\n"
                + "  keysize: 512 bits\n"
                + "  key location: dm-crypt\n"
                + "  device:  "
                + i
                + "\n"
                + "  sector size:  4096\n"
                + "  offset:  4096 sectors\n"
                + "  size:    4096 sectors\n"
                + "  mode:    readonly\n"
                + "  flags:   discards \n");
    assertThat(jdm("pass\n", "open", i, "v"))
        .isEqualTo(new Run(5, "", "Device v already exists.\n"));
    assertThat(jdm("", "crypt", "status", "nope"))
        .isEqualTo(new Run(4, "/dev/mapper/nope is inactive.\n", ""));
    assertThat(jdm("", "close", "nope")).isEqualTo(new Run(4, "", "Device nope is not active.\n"));
    assertThat(jdm("", "close", "-v", "v")).isEqualTo(new Run(0, "Command successful.\n", ""));
    assertThat(jdm("pass\n", "open", tmp.resolve("missing").toString(), "w"))
        .isEqualTo(
            new Run(
                4, "", "Device " + tmp.resolve("missing") + " does not exist or access denied.\n"));
  }

  @Test
  void plainMappingsAreCryptsetups() throws Exception {
    Path img = image("p.img", 1 << 20);
    String i = img.toString();
    Path key = tmp.resolve("plain.key");
    byte[] k = new byte[40];
    for (int j = 0; j < k.length; j++) {
      k[j] = (byte) (j * 7);
    }
    Files.write(key, k);
    // a key file is used as it is: its first 32 bytes
    cli.run(
            "open",
            "--type",
            "plain",
            "--key-file",
            key.toString(),
            "--cipher",
            "aes-xts-plain64",
            "--key-size",
            "256",
            "--offset",
            "8",
            "--skip",
            "16",
            "--sector-size",
            "4096",
            "--allow-discards",
            i,
            "p")
        .ok();
    assertThat(cli.run("table", "--showkeys", "p").ok().out())
        .matches(
            "0 2040 crypt aes-xts-plain64 "
                + HexFormat.of().formatHex(k, 0, 32)
                + " 16 7:\\d+ 8 2 allow_discards sector_size:4096\n");
    assertThat(cli.run("info", "p").ok().out()).contains("UUID: CRYPT-PLAIN-p");
    assertThat(cli.run("crypt", "status", "p").ok().out())
        .contains("  type:    PLAIN\n  cipher:  aes-xts-plain64\n  keysize: 256 bits\n")
        .contains("  sector size:  4096\n  offset:  8 sectors\n  size:    2040 sectors\n")
        .contains("  skipped: 16 sectors\n  mode:    read/write\n  flags:   discards \n");
    cli.run("close", "p").ok();
    // a passphrase is hashed: ripemd160 of "abc", then of "Aabc" (crypt_plain_hash)
    cli.runWithInput("abc\n", "open", "--type", "plain", i, "p2").ok();
    assertThat(cli.run("table", "--showkeys", "p2").ok().out())
        .startsWith("0 2048 crypt aes-cbc-essiv:sha256 8eb208f7e05d987a9b044a8e98c6b087f15a0bfc")
        .endsWith(" 0 7:" + cli.run("table", "p2").ok().out().split(" 7:")[1]);
    cli.run("close", "p2").ok();
  }

  @Test
  void helpListsTheVerbsByFamily() {
    String help = cli.run("--help").ok().out();
    assertThat(help)
        .contains("  dmsetup verbs")
        .contains("  cryptsetup verbs")
        .contains("  veritysetup verbs")
        .contains("  daemon and NBD verbs")
        .doesNotContain("  more:");
    assertThat(help.indexOf("  luksDump ")).isGreaterThan(help.indexOf("  cryptsetup verbs"));
    assertThat(help.indexOf("  create ")).isLessThan(help.indexOf("  cryptsetup verbs"));
    // every visible command is in exactly one family
    picocli.CommandLine root =
        Jdmsetup.commandLine(
            java.util.Map.of(),
            java.io.InputStream.nullInputStream(),
            new java.io.PrintWriter(java.io.Writer.nullWriter()),
            new java.io.PrintWriter(java.io.Writer.nullWriter()));
    List<String> families = new ArrayList<>();
    HelpFamilies.FAMILIES.values().forEach(families::addAll);
    root.getSubcommands().values().stream()
        .filter(c -> !c.getCommandSpec().usageMessage().hidden())
        .map(picocli.CommandLine::getCommandName)
        .distinct()
        .forEach(n -> assertThat(families).as("family of %s", n).containsOnlyOnce(n));
    assertThat(cli.run("crypt", "--help").ok().out()).contains("luksDump").contains("status");
  }

  @Test
  void requestsShowNoKeyMaterialInLogs() {
    Protocol.Request r =
        Protocol.Request.of("luks_open").arg("name", "v").arg("passphrase", "70617373").build();
    assertThat(r.toString()).isEqualTo("luks_open name=v passphrase=<hidden>");
    Protocol.Request c =
        Protocol.Request.of("create")
            .arg("name", "v")
            .arg("table", "0 8 crypt aes-xts-plain64 00112233 0 /d 0")
            .build();
    assertThat(c.toString()).doesNotContain("00112233").contains("00000000");
    assertThat(c.encode()).contains("00112233");
  }
}
