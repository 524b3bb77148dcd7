package io.jdm.cli;

import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * The state folder of a {@code jdmsetup} daemon, and how every command finds it: {@code
 * --runtime-dir DIR}, else {@code $JDM_RUNTIME_DIR}, else {@code $XDG_RUNTIME_DIR/jdm}, else {@code
 * <java.io.tmpdir>/jdm-<user>}.
 *
 * <p>It holds:
 *
 * <ul>
 *   <li>{@code control}: the control socket (a Unix domain socket; {@code PROTOCOL.md});
 *   <li>{@code nbd.sock}: the NBD server, every mapped device exported under its name;
 *   <li>{@code jdmsetup.pid}: the daemon's pid, locked while the daemon runs (so a second daemon on
 *       the same folder is refused, and a pid file left by a killed daemon is known stale);
 *   <li>{@code daemon.log}: the daemon's log, where target log lines appear (jdm's {@code dmesg}).
 * </ul>
 *
 * @param path the folder, absolute
 */
public record RuntimeDir(Path path) {

  /** The environment variable naming the folder. */
  public static final String ENV = "JDM_RUNTIME_DIR";

  /** The folder is made absolute. */
  public RuntimeDir {
    path = Objects.requireNonNull(path, "path").toAbsolutePath().normalize();
  }

  /**
   * The folder to use.
   *
   * @param option {@code --runtime-dir}, or {@code null}
   * @param env the environment ({@code System.getenv()})
   */
  public static RuntimeDir resolve(String option, Map<String, String> env) {
    if (option != null && !option.isEmpty()) {
      return new RuntimeDir(Path.of(option));
    }
    String dir = env.get(ENV);
    if (dir != null && !dir.isEmpty()) {
      return new RuntimeDir(Path.of(dir));
    }
    String xdg = env.get("XDG_RUNTIME_DIR");
    if (xdg != null && !xdg.isEmpty()) {
      return new RuntimeDir(Path.of(xdg, "jdm"));
    }
    return new RuntimeDir(
        Path.of(System.getProperty("java.io.tmpdir"), "jdm-" + System.getProperty("user.name")));
  }

  /** The control socket. */
  public Path controlSocket() {
    return path.resolve("control");
  }

  /** The NBD server's socket. */
  public Path nbdSocket() {
    return path.resolve("nbd.sock");
  }

  /** The pid file, locked by the running daemon. */
  public Path pidFile() {
    return path.resolve("jdmsetup.pid");
  }

  /** The daemon's log. */
  public Path logFile() {
    return path.resolve("daemon.log");
  }

  /** The libnbd URI of the export of mapped device {@code name}. */
  public String nbdUri(String name) {
    return "nbd+unix:///" + name + "?socket=" + nbdSocket();
  }

  @Override
  public String toString() {
    return path.toString();
  }
}
