package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.testkit.ExternalTools;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs {@code jdmsetup} command lines through the real entry point, and external tools. */
final class Cli {
  private final RuntimeDir dir;

  Cli(RuntimeDir dir) {
    this.dir = dir;
  }

  /** What a command printed and its exit code. */
  record Result(int exit, String out, String err) {
    Result ok() {
      assertThat(exit).as("exit of a command that should succeed; stderr:\n%s", err).isZero();
      assertThat(err).isEmpty();
      return this;
    }

    Result failed() {
      assertThat(exit).as("exit; stdout:\n%s", out).isEqualTo(1);
      return this;
    }
  }

  /** {@code jdmsetup --runtime-dir DIR args...} with no stdin. */
  Result run(String... args) {
    return runWithInput("", args);
  }

  /** As {@link #run}, with {@code stdin} as standard input. */
  Result runWithInput(String stdin, String... args) {
    List<String> a = new ArrayList<>(Arrays.asList(args));
    a.add(0, "--runtime-dir=" + dir);
    return runIn(Map.of(), stdin, a.toArray(new String[0]));
  }

  /** {@code jdmsetup args...} with exactly the environment {@code env}. */
  static Result runIn(Map<String, String> env, String stdin, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int exit =
        Jdmsetup.execute(
            args,
            env,
            new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Result(
        exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  /** Skips (or, under {@code CI=true}, fails) unless {@code tool} is on the PATH. */
  /**
   * What demo.sh must print for sector 10: the tutorial's {@code dd} of zeros where it could attach
   * the device to the kernel (a page-cache write of sector 10's 4 KiB page), else qemu-io's (or
   * jdm's NBD client's) 512-byte write of 0x5a.
   */
  static void assertDemoWroteSectorTen(String out) {
    if (out.contains("$ dd if=/dev/zero of=/dev/loop")) {
      org.assertj.core.api.Assertions.assertThat(out)
          .containsPattern("INFO basic_target_map: write of (512|4096) bytes at sector (10|8)\n")
          .contains("0005120 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00\n");
    } else {
      org.assertj.core.api.Assertions.assertThat(out)
          .contains("INFO basic_target_map: write of 512 bytes at sector 10\n")
          .contains("0005120 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a\n");
    }
  }

  static void require(String tool, String debianPackage) {
    ExternalTools.require(tool, debianPackage);
  }

  /** Runs a process to completion (at most 60 s); stdout and stderr together. */
  static Result exec(Map<String, String> env, String... cmd)
      throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().putAll(env);
    pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    Process p = pb.start();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(String.join(" ", cmd) + ": did not finish in 60 s");
    }
    return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8), "");
  }

  /** The command that starts this JVM's {@code jdmsetup} main class in a new process. */
  static List<String> javaCommand() {
    return List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC",
        "-cp",
        System.getProperty("java.class.path"),
        Jdmsetup.class.getName());
  }
}
