package io.jdm.crypto;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;

/**
 * OpenSSL's EVP AES-XTS as an independent implementation to check jdm against ({@code openssl enc}
 * refuses XTS, so a ten-line C program is built with gcc against libcrypto, once per run, in {@code
 * target/}). Under {@code CI=true} a missing compiler or libssl-dev fails the test; elsewhere it is
 * skipped.
 */
public final class OpenSslXts {
  private static Path binary;

  private OpenSslXts() {}

  private static synchronized Path binary() throws IOException, InterruptedException {
    if (binary != null) {
      return binary;
    }
    Path dir = Path.of("target", "openssl-xts").toAbsolutePath();
    Files.createDirectories(dir);
    Path src = dir.resolve("xts.c");
    try (InputStream in = OpenSslXts.class.getResourceAsStream("/openssl/xts.c")) {
      Files.write(src, in.readAllBytes());
    }
    Path exe = dir.resolve("xts");
    Process p;
    try {
      p =
          new ProcessBuilder("gcc", "-O2", "-o", exe.toString(), src.toString(), "-lcrypto")
              .redirectErrorStream(true)
              .start();
    } catch (IOException e) {
      missing("gcc (" + e.getMessage() + ")");
      return null;
    }
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(2, TimeUnit.MINUTES) || p.exitValue() != 0) {
      missing("a C compiler with OpenSSL's headers (gcc, libssl-dev): " + out);
    }
    binary = exe;
    return exe;
  }

  private static void missing(String what) {
    if ("true".equals(System.getenv("CI"))) {
      throw new AssertionError("cannot build the OpenSSL XTS helper, install " + what);
    }
    assumeTrue(false, "cannot build the OpenSSL XTS helper: " + what);
  }

  /**
   * Encrypts ({@code encrypt}) or decrypts whole sectors of {@code data} with OpenSSL's aes-xts:
   * sector {@code i} uses the plain64 IV of {@code firstIv + i * ivStep}.
   */
  public static byte[] run(
      boolean encrypt, byte[] key, int sectorSize, long firstIv, long ivStep, byte[] data)
      throws IOException, InterruptedException {
    Path exe = binary();
    Process p =
        new ProcessBuilder(
                exe.toString(),
                encrypt ? "enc" : "dec",
                HexFormat.of().formatHex(key),
                Integer.toString(sectorSize),
                Long.toUnsignedString(firstIv),
                Long.toUnsignedString(ivStep))
            .start();
    Thread feeder =
        new Thread(
            () -> {
              try (OutputStream o = p.getOutputStream()) {
                o.write(data);
              } catch (IOException e) {
                // the process died: its exit code says why
              }
            });
    feeder.start();
    byte[] out = p.getInputStream().readAllBytes();
    String err = new String(p.getErrorStream().readAllBytes());
    feeder.join();
    if (!p.waitFor(1, TimeUnit.MINUTES) || p.exitValue() != 0) {
      throw new IOException("OpenSSL XTS helper failed: " + err);
    }
    return out;
  }
}
