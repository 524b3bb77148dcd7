package io.jdm.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.testkit.ExternalTools;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The real NBD tools the interop tests drive. A missing tool skips the test, except under {@code
 * CI=true}, where it fails it: CI installs them ({@code .ci/run}).
 */
final class Tools {
  private Tools() {}

  /** Skips (or, under CI, fails) unless {@code tool} is on the PATH. */
  static void require(String tool, String debianPackage) {
    ExternalTools.require(tool, debianPackage);
  }

  /** What a command printed (stdout and stderr together) and its exit code. */
  record Result(int exit, String output) {}

  /** Runs a command to completion (at most 60 s). */
  static Result run(String... cmd) throws IOException, InterruptedException {
    ExternalTools.Result r = ExternalTools.run(cmd);
    return new Result(r.exit(), r.output());
  }

  /** Runs a command and asserts it succeeded; returns its output. */
  static String ok(String... cmd) throws IOException, InterruptedException {
    return ExternalTools.ok(cmd);
  }

  /** {@code ok(cmd)} with the arguments of a list. */
  static String ok(List<String> cmd) throws IOException, InterruptedException {
    return ok(cmd.toArray(new String[0]));
  }

  /** A short directory under /tmp (Unix socket paths are limited to 107 bytes). */
  static Path tempDir() throws IOException {
    return Files.createTempDirectory(Path.of("/tmp"), "jdm-nbd");
  }

  /** Deletes a directory tree made by {@link #tempDir()}. */
  static void deleteTree(Path dir) throws IOException {
    if (dir == null || !Files.exists(dir)) {
      return;
    }
    try (var s = Files.walk(dir)) {
      for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  /**
   * An nbdkit serving on a Unix socket, as a child process. nbdkit's {@code --run} command tells us
   * when the socket is ready (it prints a line) and keeps nbdkit alive until its stdin closes, so
   * there is no polling and no pid file.
   */
  static final class Nbdkit implements AutoCloseable {
    private final Process process;

    private Nbdkit(Process process) {
      this.process = process;
    }

    static Nbdkit start(Path socket, String... pluginAndArgs) throws IOException {
      List<String> cmd = new java.util.ArrayList<>();
      cmd.addAll(
          List.of(
              "nbdkit",
              "--exit-with-parent",
              "-U",
              socket.toString(),
              "--run",
              "echo ready; exec cat >/dev/null"));
      cmd.addAll(List.of(pluginAndArgs));
      Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
      var out =
          new java.io.BufferedReader(
              new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
      String line = out.readLine();
      if (!"ready".equals(line)) {
        p.destroyForcibly();
        throw new AssertionError(String.join(" ", cmd) + ": did not start (" + line + ")");
      }
      return new Nbdkit(p);
    }

    @Override
    public void close() throws IOException {
      process.getOutputStream().close(); // cat ends, and with it --run and nbdkit
      try {
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
          process.destroyForcibly();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        process.destroyForcibly();
      }
    }
  }

  /**
   * A daemon (qemu-nbd --fork) that forked into the background once it was ready to serve and wrote
   * its pid; {@link #close()} kills exactly that pid.
   */
  static final class Daemon implements AutoCloseable {
    // qemu-nbd writes the pid file before its parent exits, so the file is there on return
    private final Path pidFile;

    Daemon(Path pidFile) {
      this.pidFile = pidFile;
    }

    /** Starts a forking server whose parent exits when the socket is ready. */
    static Daemon start(Path pidFile, String... cmd) throws IOException, InterruptedException {
      ok(cmd);
      assertThat(pidFile).as("pid file of %s", cmd[0]).exists();
      return new Daemon(pidFile);
    }

    @Override
    public void close() throws IOException {
      if (!Files.exists(pidFile)) {
        return;
      }
      long pid = Long.parseLong(Files.readString(pidFile).trim());
      var h = ProcessHandle.of(pid);
      if (h.isPresent()) {
        h.get().destroy();
        try {
          h.get().onExit().get(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException
            | java.util.concurrent.TimeoutException e) {
          throw new IOException("daemon " + pid + " did not exit", e);
        }
      }
    }
  }
}
