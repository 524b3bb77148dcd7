package io.jdm.crypto.luks;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The {@code cryptsetup} binary as an independent implementation to check jdm against, on regular
 * files (no root needed). Missing, it skips the test, or fails it under {@code CI=true}.
 */
final class Cryptsetup {
  private static Path exe;

  private Cryptsetup() {}

  /** The result of one run. */
  record Result(int exit, String out, String err) {
    Result ok() {
      if (exit != 0) {
        throw new AssertionError("cryptsetup failed (" + exit + "): " + err + out);
      }
      return this;
    }
  }

  static synchronized Path exe() {
    if (exe == null) {
      for (String dir : List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin")) {
        Path p = Path.of(dir, "cryptsetup");
        if (Files.isExecutable(p)) {
          exe = p;
          break;
        }
      }
      if (exe == null) {
        String msg = "cryptsetup is not installed (Debian: cryptsetup-bin)";
        if ("true".equals(System.getenv("CI"))) {
          throw new AssertionError(msg);
        }
        assumeTrue(false, msg);
      }
    }
    return exe;
  }

  /** Runs {@code cryptsetup args...} with {@code stdin} (may be {@code null}). */
  static Result run(byte[] stdin, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(exe().toString());
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).start();
    try (OutputStream o = p.getOutputStream()) {
      if (stdin != null) {
        o.write(stdin);
      }
    } catch (IOException e) {
      // cryptsetup did not read its input: its exit code says why
    }
    byte[] out = p.getInputStream().readAllBytes();
    byte[] err = p.getErrorStream().readAllBytes();
    if (!p.waitFor(2, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new IOException("cryptsetup " + args[0] + " timed out");
    }
    return new Result(p.exitValue(), new String(out), new String(err));
  }

  /** {@code luksDump --dump-volume-key} with the passphrase in a key file. */
  static byte[] dumpVolumeKey(Path image, byte[] passphrase, Path dir)
      throws IOException, InterruptedException {
    Path keyFile = Files.createTempFile(dir, "pass", ".key");
    Files.write(keyFile, passphrase);
    String out =
        run(
                null,
                "luksDump",
                "--dump-volume-key",
                "--batch-mode",
                "--key-file=" + keyFile,
                image.toString())
            .ok()
            .out();
    int i = out.indexOf("MK dump:");
    if (i < 0) {
      throw new AssertionError("no MK dump in: " + out);
    }
    StringBuilder hex = new StringBuilder();
    for (String line : out.substring(i + "MK dump:".length()).split("\n")) {
      String t = line.trim();
      if (!t.matches("([0-9a-f]{2} ?)+")) {
        break;
      }
      hex.append(t.replace(" ", ""));
    }
    return HexFormat.of().parseHex(hex.toString());
  }

  /** Whether {@code cryptsetup open --test-passphrase} accepts {@code passphrase}. */
  static boolean testPassphrase(Path image, byte[] passphrase)
      throws IOException, InterruptedException {
    Result r = run(passphrase, "open", "--test-passphrase", "--key-file=-", image.toString());
    if (r.exit != 0 && r.exit != 2) {
      throw new AssertionError("cryptsetup open --test-passphrase: " + r.exit + " " + r.err);
    }
    return r.exit == 0;
  }
}
