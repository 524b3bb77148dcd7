package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code luksFormat}, {@code luksOpen} and {@code luksClose}, as cryptsetup's, with a daemon. */
class LuksCommandsTest {
  private static final String[] FAST = {"--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"};

  @TempDir Path tmp;

  private Daemon daemon;
  private Cli cli;
  private Path disk;

  @BeforeEach
  void startDaemon() throws IOException {
    RuntimeDir dir = new RuntimeDir(tmp.resolve("run"));
    daemon = Daemon.start(dir);
    cli = new Cli(dir);
    disk = tmp.resolve("disk.img");
    try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
      f.setLength(20L << 20);
    }
  }

  @AfterEach
  void stopDaemon() {
    daemon.close();
  }

  private Cli.Result format(String stdin, String... extra) {
    String[] args = new String[4 + FAST.length + extra.length];
    args[0] = "luksFormat";
    args[1] = "-q";
    System.arraycopy(FAST, 0, args, 2, FAST.length);
    System.arraycopy(extra, 0, args, 2 + FAST.length, extra.length);
    args[args.length - 2] = "--type=luks2";
    args[args.length - 1] = disk.toString();
    return cli.runWithInput(stdin, args);
  }

  @Test
  void formatOpenShowClose() {
    format("correct horse\n").ok();
    cli.runWithInput("correct horse\n", "luksOpen", disk.toString(), "secret").ok();
    String hidden = cli.run("table", "secret").ok().out();
    assertThat(hidden).matches("0 8192 crypt aes-xts-plain64 0{128} 0 7:\\d+ 32768\n");
    String shown = cli.run("table", "--showkeys", "secret").ok().out();
    assertThat(shown).matches("0 8192 crypt aes-xts-plain64 [0-9a-f]{128} 0 7:\\d+ 32768\n");
    assertThat(shown).isNotEqualTo(hidden);
    assertThat(cli.run("info", "secret").ok().out()).contains("UUID: CRYPT-LUKS2-");
    cli.run("luksClose", "secret").ok();
    assertThat(cli.run("ls").ok().out()).isEqualTo("No devices found\n");
  }

  @Test
  void iterTimeBenchmarksThePbkdf() {
    // PBKDF2 benchmarked for a 20 ms unlock: the costs are this machine's, the container opens
    cli.runWithInput(
            "correct horse\n",
            "luksFormat",
            "-q",
            "--type=luks1",
            "--pbkdf",
            "pbkdf2",
            "--iter-time",
            "20",
            disk.toString())
        .ok();
    cli.runWithInput("correct horse\n", "open", disk.toString(), "timed").ok();
    cli.run("close", "timed").ok();
  }

  @Test
  void aWrongPassphraseExitsTwoWithCryptsetupsText() {
    format("correct horse\n").ok();
    Cli.Result r = cli.runWithInput("battery staple\n", "open", disk.toString(), "secret");
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.err()).isEqualTo("No key available with this passphrase.\n");
    assertThat(cli.run("ls").ok().out()).isEqualTo("No devices found\n");
  }

  @Test
  void keyFilesMayHoldAnyBytes() throws IOException {
    Path key = tmp.resolve("key.bin");
    byte[] bytes = new byte[64];
    for (int i = 0; i < bytes.length; i++) {
      bytes[i] = (byte) (i * 37); // 0x00, 0x0a (newline) and bytes above 0x7f among them
    }
    Files.write(key, bytes);
    format("", "--key-file", key.toString(), "--sector-size", "4096").ok();
    cli.run("luksOpen", "--key-file", key.toString(), disk.toString(), "k").ok();
    assertThat(cli.run("table", "k").ok().out()).endsWith(" 32768 1 sector_size:4096\n");
    // the first line of the same bytes is another passphrase
    Cli.Result r =
        cli.runWithInput(
            new String(bytes, 0, 10, java.nio.charset.StandardCharsets.ISO_8859_1),
            "luksOpen",
            disk.toString(),
            "k2");
    assertThat(r.exit()).isEqualTo(2);
  }

  @Test
  void formatNeedsConfirmationAndRefusesBadOptions() {
    Cli.Result r = cli.runWithInput("x\n", "luksFormat", disk.toString());
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err()).contains("give --batch-mode (-q) to confirm");
    r = cli.runWithInput("x\n", "luksFormat", "-q", "--type", "luks3", disk.toString());
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err()).contains("unknown --type luks3");
    r = cli.runWithInput("x\n", "luksFormat", "-q", "--pbkdf", "scrypt", disk.toString());
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err()).contains("unknown --pbkdf scrypt");
  }

  @Test
  void openingSomethingThatIsNotLuksFails() throws IOException {
    Cli.Result r = cli.runWithInput("x\n", "luksOpen", disk.toString(), "secret");
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err()).isEqualTo("Device " + disk + " is not a valid LUKS device.\n");
    assertThat(cli.run("ls").ok().out()).isEqualTo("No devices found\n");
  }
}
