package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Two local users: root (this JVM) and {@code nobody}, another user's processes run through {@code
 * runuser}. A runtime folder in a shared temporary folder can be made first by anyone, so a
 * squatter's fake daemon must get nothing (no passphrase) and a stranger's client must get no
 * service. Needs root (skipped elsewhere, failed under {@code CI=true}).
 */
class DaemonTrustTest {
  private static final String STRANGER = "nobody";
  private Path base;
  private final List<Process> processes = new ArrayList<>();

  @BeforeEach
  void needRoot() throws IOException {
    boolean root = "root".equals(System.getProperty("user.name"));
    if ("true".equals(System.getenv("CI")) && !root) {
      throw new AssertionError("the trust tests run as root in CI (they switch users)");
    }
    assumeTrue(root, "needs root to act as two users");
    Cli.require("runuser", "util-linux");
    base = Files.createTempDirectory("jdm-trust");
    Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  @AfterEach
  void cleanUp() throws IOException, InterruptedException {
    for (Process p : processes) {
      p.destroyForcibly().waitFor();
    }
    if (base != null) {
      Cli.exec(Map.of(), "rm", "-rf", base.toString());
    }
  }

  private static UserPrincipal user(String name) throws IOException {
    return base().getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(name);
  }

  private static Path base() {
    return Path.of("/");
  }

  private Path keyFile() throws IOException {
    Path k = base.resolve("key");
    Files.writeString(k, "correct horse battery staple");
    return k;
  }

  @Test
  void aFolderAnotherUserMadeGetsNoPassphrase() throws Exception {
    // the squatter made /tmp/jdm-root first and listens in it
    RuntimeDir dir = new RuntimeDir(base.resolve("jdm-root"));
    Files.createDirectory(dir.path());
    try (ServerSocketChannel fake = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      fake.bind(UnixDomainSocketAddress.of(dir.controlSocket()));
      fake.configureBlocking(false);
      Files.setOwner(dir.path(), user(STRANGER));
      Files.setOwner(dir.controlSocket(), user(STRANGER));
      Cli.Result r =
          new Cli(dir).run("luksOpen", "--key-file", keyFile().toString(), "/tmp/x", "secret");
      assertThat(r.exit()).isEqualTo(1);
      assertThat(r.err())
          .isEqualTo(
              "jdmsetup: refusing to talk to the daemon: the folder "
                  + dir
                  + " belongs to nobody, not to root: another user may have made it to receive"
                  + " what jdmsetup sends; remove it or choose another --runtime-dir\n");
      assertThat(fake.accept()).as("the client connected to the fake daemon").isNull();
    }
  }

  @Test
  void aSocketAnotherUserCouldReplaceIsRefused() throws Exception {
    RuntimeDir dir = new RuntimeDir(base.resolve("run"));
    try (Daemon d = Daemon.start(dir)) {
      assertThat(d.runtimeDir()).isEqualTo(dir);
      Files.setPosixFilePermissions(dir.path(), PosixFilePermissions.fromString("rwxrwxrwx"));
      assertThat(new Cli(dir).run("ls").failed().err())
          .isEqualTo(
              "jdmsetup: refusing to talk to the daemon: the folder "
                  + dir
                  + " is writable by every user (mode rwxrwxrwx): another user could replace the"
                  + " daemon's socket; make it writable by its owner only (chmod go-w)\n");
      Files.setPosixFilePermissions(dir.path(), PosixFilePermissions.fromString("rwx------"));
      Files.setOwner(dir.controlSocket(), user(STRANGER));
      assertThat(new Cli(dir).run("ls").failed().err())
          .contains("the socket " + dir.controlSocket() + " belongs to nobody, not to root");
      Files.setOwner(dir.controlSocket(), user("root"));
      assertThat(new Cli(dir).run("ls").ok().out()).isEqualTo("No devices found\n");
    }
  }

  @Test
  void aDaemonOfAnotherUserGetsNothingEvenFromATrustedLookingSocket() throws Exception {
    // the stranger listens; its socket is then moved into root's own folder and given to root,
    // so only the peer's credentials can tell
    Path hers = base.resolve("hers");
    Files.createDirectory(hers);
    Files.setOwner(hers, user(STRANGER));
    Path socket = hers.resolve("control");
    Process p = probe("serve", socket.toString());
    BufferedReader out =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    assertThat(out.readLine()).isEqualTo("ready");
    RuntimeDir dir = new RuntimeDir(base.resolve("mine"));
    Files.createDirectory(
        dir.path(),
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    Files.move(socket, dir.controlSocket(), StandardCopyOption.ATOMIC_MOVE);
    Files.setOwner(dir.controlSocket(), user("root"));
    Cli.Result r =
        new Cli(dir).run("luksOpen", "--key-file", keyFile().toString(), "/tmp/x", "secret");
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err())
        .isEqualTo(
            "jdmsetup: refusing to talk to the daemon: the daemon at the other end runs as nobody,"
                + " not as root\n");
    assertThat(out.readLine()).isEqualTo("received 0");
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void theDaemonServesNoOtherUsersProcess() throws Exception {
    RuntimeDir dir = new RuntimeDir(base.resolve("run"));
    try (Daemon d = Daemon.start(dir)) {
      d.deviceMapper().create("v", "0 8 zero");
      // what a careless chmod would allow: the folder and socket open to everyone
      Files.setPosixFilePermissions(dir.path(), PosixFilePermissions.fromString("rwxr-xr-x"));
      Files.setPosixFilePermissions(
          dir.controlSocket(), PosixFilePermissions.fromString("rw-rw-rw-"));
      Process p = probe("call", dir.controlSocket().toString(), "remove name=v");
      String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(said).isEqualTo("ERR - EACCES the daemon serves processes of root only\n.\n");
      assertThat(d.deviceMapper().list()).hasSize(1);
      assertThat(Files.readString(dir.logFile()))
          .contains("refused: its process runs as nobody, not as root");
    }
  }

  /** Runs {@link PeerProbe} as the stranger, from a copy of its class nobody can read. */
  private Process probe(String... args) throws IOException, InterruptedException {
    Path cp = base.resolve("probe-cp");
    Path pkg = cp.resolve("io/jdm/cli");
    Files.createDirectories(pkg);
    try (InputStream in = PeerProbe.class.getResourceAsStream("PeerProbe.class")) {
      Files.copy(in, pkg.resolve("PeerProbe.class"), StandardCopyOption.REPLACE_EXISTING);
    }
    Cli.exec(Map.of(), "chmod", "-R", "a+rX", cp.toString());
    String java = ProcessHandle.current().info().command().orElseThrow();
    List<String> cmd =
        new ArrayList<>(
            List.of(
                "runuser",
                "-u",
                STRANGER,
                "--",
                java,
                "-XX:-UsePerfData",
                "-cp",
                cp.toString(),
                PeerProbe.class.getName()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    processes.add(p);
    return p;
  }
}
