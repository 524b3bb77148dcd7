package io.jdm.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The real tools interop tests call (cryptsetup, qemu-io, nbdinfo, openssl...): a test that needs
 * one is skipped where it is missing, and fails under {@code CI=true}, where {@code .ci/run} must
 * have installed it.
 */
public final class ExternalTools {
  private ExternalTools() {}

  /** What a command printed (stdout and stderr together) and its exit code. */
  public record Result(int exit, String output) {}

  /** Skips (or, under {@code CI=true}, fails) unless {@code tool} is on the PATH. */
  public static void require(String tool, String debianPackage) {
    String path = System.getenv("PATH");
    if (path != null) {
      for (String dir : path.split(File.pathSeparator)) {
        if (Files.isExecutable(Path.of(dir, tool))) {
          return;
        }
      }
    }
    String why = tool + " is not installed (Debian package " + debianPackage + ")";
    if ("true".equals(System.getenv("CI"))) {
      throw new AssertionError(why);
    }
    assumeTrue(false, why);
  }

  /** Runs a command to completion (at most 60 s), standard input empty. */
  public static Result run(String... cmd) throws IOException, InterruptedException {
    Process p =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .start();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(String.join(" ", cmd) + ": did not finish in 60 s");
    }
    return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
  }

  /** Runs a command and asserts it succeeded; returns its output. */
  public static String ok(String... cmd) throws IOException, InterruptedException {
    Result r = run(cmd);
    assertThat(r.exit()).as("%s\n%s", String.join(" ", cmd), r.output()).isZero();
    return r.output();
  }
}
