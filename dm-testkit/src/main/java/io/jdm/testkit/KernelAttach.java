package io.jdm.testkit;

import java.io.Closeable;
import java.io.File;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.TimeUnit;

/**
 * An NBD export (a jdm device served by {@code NbdServer} or {@code jdmsetup daemon}) attached to
 * the kernel as a block device: {@code nbdfuse} turns the export into a file on a FUSE mount, and
 * {@code losetup} makes that file a loop device ({@code /dev/loopN}) that {@code mkfs} and {@code
 * mount} take. Needs root, {@code /dev/fuse} and loop devices. A flush or FUA write the kernel
 * sends to the loop device becomes an {@code fsync} of the file, which {@code nbdfuse} sends to the
 * server as {@code NBD_CMD_FLUSH}: a file system's {@code fsync} reaches jdm as a flush.
 *
 * <pre>{@code
 * try (KernelAttach disk = KernelAttach.attach("nbd+unix:///vol?socket=/run/nbd.sock", workDir)) {
 *   ExternalTools.ok("mkfs.ext4", "-q", disk.device().toString());
 *   Path mnt = disk.mount("ext4");
 *   ...
 * } // unmounts, detaches the loop device, unmounts the FUSE file (nbdfuse exits)
 * }</pre>
 *
 * <p>{@link #close()} undoes everything in reverse order and keeps going past failures, so a
 * failing test leaves no mount, loop device or {@code nbdfuse} process behind; a JVM shutdown hook
 * does the same if the JVM exits first.
 */
public final class KernelAttach implements Closeable {
  private static final long WAIT_MILLIS = 20_000;

  private final Path dir;
  private final Path fuseDir;
  private final Path file;
  private final Process nbdfuse;
  private final Path device;
  private final Deque<Path> mounts = new ArrayDeque<>();
  private final Thread hook;
  private boolean closed;

  private KernelAttach(Path dir, Path fuseDir, Path file, Process nbdfuse, Path device) {
    this.dir = dir;
    this.fuseDir = fuseDir;
    this.file = file;
    this.nbdfuse = nbdfuse;
    this.device = device;
    this.hook = new Thread(this::closeQuietly, "KernelAttach-" + device.getFileName());
    Runtime.getRuntime().addShutdownHook(hook);
  }

  /**
   * Skips the calling test (fails it under {@code CI=true}) unless this machine can attach: {@code
   * nbdfuse}, {@code losetup}, {@code mount}, root, {@code /dev/fuse} and {@code
   * /dev/loop-control}.
   */
  public static void require() {
    ExternalTools.require("nbdfuse", "libnbd-bin");
    ExternalTools.require("losetup", "mount");
    ExternalTools.require("mount", "mount");
    String why = null;
    if (!Files.exists(Path.of("/dev/fuse"))) {
      why = "/dev/fuse is missing (no FUSE in this kernel or container)";
    } else if (!Files.exists(Path.of("/dev/loop-control"))) {
      why = "/dev/loop-control is missing (no loop devices)";
    } else if (!"root".equals(System.getProperty("user.name"))) {
      why = "attaching a loop device needs root";
    }
    if (why != null) {
      if ("true".equals(System.getenv("CI"))) {
        throw new AssertionError(why);
      }
      org.junit.jupiter.api.Assumptions.assumeTrue(false, why);
    }
  }

  /**
   * Attaches the export at {@code nbdUri} ({@code nbd+unix:///NAME?socket=PATH} or {@code
   * nbd://HOST:PORT/NAME}); {@code workDir} (created if missing) holds the FUSE mount and the mount
   * points of {@link #mount}.
   */
  public static KernelAttach attach(String nbdUri, Path workDir) throws IOException {
    Files.createDirectories(workDir);
    Path dir = Files.createTempDirectory(workDir, "attach");
    Path fuseDir = Files.createDirectory(dir.resolve("fuse"));
    Path file = fuseDir.resolve("disk");
    Path pidFile = dir.resolve("nbdfuse.pid");
    Process p =
        new ProcessBuilder("nbdfuse", "-P", pidFile.toString(), file.toString(), nbdUri)
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("nbdfuse.log").toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .start();
    try {
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MILLIS);
      // nbdfuse writes its pid file when it serves the file
      while (!(Files.exists(pidFile) && Files.size(pidFile) > 0)) {
        if (!p.isAlive() || System.nanoTime() > deadline) {
          throw new IOException(
              "nbdfuse did not start (exit "
                  + (p.isAlive() ? "none" : p.exitValue())
                  + "): "
                  + Files.readString(dir.resolve("nbdfuse.log"), StandardCharsets.UTF_8));
        }
        p.waitFor(20, TimeUnit.MILLISECONDS);
      }
      ExternalTools.Result r = ExternalTools.run("losetup", "-f", "--show", file.toString());
      if (r.exit() != 0) {
        throw new IOException("losetup " + file + ": " + r.output());
      }
      return new KernelAttach(dir, fuseDir, file, p, Path.of(r.output().trim()));
    } catch (IOException | RuntimeException | Error e) {
      stopFuse(fuseDir, p, e);
      throw e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      stopFuse(fuseDir, p, null);
      throw new InterruptedIOException("interrupted while attaching " + nbdUri);
    }
  }

  /** The block device: {@code /dev/loopN}. */
  public Path device() {
    return device;
  }

  /** The FUSE file that backs the loop device (reads and writes go to the export). */
  public Path file() {
    return file;
  }

  /**
   * Mounts the device ({@code mount -t TYPE [-o OPTIONS] DEVICE DIR}) on a new directory and
   * returns it; {@link #unmount} or {@link #close} unmount it.
   */
  public Path mount(String type, String... options) throws IOException {
    Path mnt = Files.createTempDirectory(dir, "mnt");
    String[] cmd =
        options.length == 0
            ? new String[] {"mount", "-t", type, device.toString(), mnt.toString()}
            : new String[] {
              "mount",
              "-t",
              type,
              "-o",
              String.join(",", options),
              device.toString(),
              mnt.toString()
            };
    ExternalTools.Result r = run(cmd);
    if (r.exit() != 0) {
      throw new IOException(String.join(" ", cmd) + ": " + r.output());
    }
    mounts.push(mnt);
    return mnt;
  }

  /** Unmounts the last {@link #mount} (which flushes the file system to the device). */
  public void unmount() throws IOException {
    Path mnt = mounts.peek();
    if (mnt == null) {
      throw new IllegalStateException("nothing mounted");
    }
    ExternalTools.Result r = run("umount", mnt.toString());
    if (r.exit() != 0) {
      throw new IOException("umount " + mnt + ": " + r.output());
    }
    mounts.pop();
  }

  /**
   * Detaches: unmounts what {@link #mount} mounted, {@code losetup -d}, unmounts the FUSE file and
   * waits for {@code nbdfuse} to exit (killing it if it does not). Every step runs even if one
   * before it failed; the first failure is thrown at the end.
   */
  @Override
  public synchronized void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // the JVM is shutting down: this is the hook
    }
    IOException first = null;
    while (!mounts.isEmpty()) {
      Path mnt = mounts.pop();
      ExternalTools.Result r = run("umount", mnt.toString());
      if (r.exit() != 0) {
        first = keep(first, "umount " + mnt + ": " + r.output());
        run("umount", "-l", mnt.toString()); // lazily: the loop device goes when it is free
      }
    }
    ExternalTools.Result r = run("losetup", "-d", device.toString());
    if (r.exit() != 0) {
      first = keep(first, "losetup -d " + device + ": " + r.output());
    }
    try {
      stopFuse(fuseDir, nbdfuse, null);
    } catch (IOException e) {
      first = first == null ? e : first;
    }
    if (first != null) {
      throw first;
    }
  }

  private void closeQuietly() {
    try {
      close();
    } catch (IOException | RuntimeException e) {
      System.err.println("KernelAttach " + device + ": " + e.getMessage());
    }
  }

  private static IOException keep(IOException first, String message) {
    return first != null ? first : new IOException(message);
  }

  /**
   * Unmounts the FUSE folder (nbdfuse then exits by itself). The loop device lets go of the file
   * asynchronously after {@code losetup -d}, so a busy unmount is retried for a while before a lazy
   * one.
   */
  private static void stopFuse(Path fuseDir, Process p, Throwable cause) throws IOException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MILLIS);
    String why = null;
    try {
      while (p.isAlive()) {
        ExternalTools.Result r = run("umount", fuseDir.toString());
        if (r.exit() == 0 || p.waitFor(50, TimeUnit.MILLISECONDS)) {
          if (p.waitFor(WAIT_MILLIS, TimeUnit.MILLISECONDS)) {
            break;
          }
        }
        if (System.nanoTime() > deadline) {
          why = "umount " + fuseDir + ": " + r.output();
          run("umount", "-l", fuseDir.toString());
          if (!p.waitFor(WAIT_MILLIS, TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
            p.waitFor(WAIT_MILLIS, TimeUnit.MILLISECONDS);
          }
          break;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
      why = "interrupted while stopping nbdfuse";
    }
    if (why != null && cause == null) {
      throw new IOException(why);
    }
  }

  private static ExternalTools.Result run(String... cmd) throws IOException {
    try {
      return ExternalTools.run(cmd);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException(String.join(" ", cmd) + ": interrupted");
    }
  }
}
