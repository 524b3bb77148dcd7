package io.jdm.cli;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

/**
 * Who may talk to whom over the control socket. Whoever answers on it receives what the client
 * sends, LUKS passphrases included; whoever connects to it owns the device mapper. So both ends
 * check the other before anything is sent:
 *
 * <ul>
 *   <li>the client, before connecting: the runtime folder is a folder (not a link), and it and the
 *       socket belong to the invoking user or to root and are writable by nobody else (so nobody
 *       else can have made them, or replace them);
 *   <li>the client, after connecting: the process that listens is the invoking user's or root's
 *       ({@code SO_PEERCRED});
 *   <li>the daemon, on every connection: the peer is the daemon's user or root.
 * </ul>
 *
 * <p>A shared temporary folder ({@code /tmp/jdm-<user>}) can be made first by any local user; these
 * checks are what make that harmless. Users are compared by name, as the JDK reports them ({@code
 * getpwuid}; a uid without a name is its number).
 */
final class PeerTrust {
  private static final List<PosixFilePermission> WRITABLE_BY_OTHERS =
      List.of(PosixFilePermission.OTHERS_WRITE, PosixFilePermission.GROUP_WRITE);

  /** The superuser is trusted by everyone, as it can read any process's memory anyway. */
  static final String ROOT = "root";

  private final String self;

  /** Trusts {@code self} and root. */
  PeerTrust(String self) {
    this.self = Objects.requireNonNull(self, "self");
  }

  /** Trusts the user this JVM runs as, and root. */
  static PeerTrust currentUser() {
    return new PeerTrust(System.getProperty("user.name"));
  }

  /** The user trusted besides root. */
  String self() {
    return self;
  }

  /** {@code "alice or root"}, or {@code "root"}. */
  String describe() {
    return self.equals(ROOT) ? ROOT : self + " or root";
  }

  /** Whether {@code user} is this trust's user or root. */
  boolean trusts(String user) {
    return user.equals(self) || user.equals(ROOT);
  }

  /**
   * Checks that {@code dir} is a folder, not a link, owned by a trusted user, and writable by its
   * owner only.
   *
   * @throws UntrustedException naming the folder, its owner or mode, and what to do
   */
  void checkFolder(Path dir) throws IOException {
    PosixFileAttributes a =
        Files.readAttributes(dir, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    if (!a.isDirectory()) {
      throw new UntrustedException(
          dir + " is not a folder" + (a.isSymbolicLink() ? " but a symbolic link" : ""));
    }
    checkOwnerAndMode(dir, a, "folder");
  }

  /** As {@link #checkFolder}, for the control socket (a socket file, not a link). */
  void checkSocket(Path socket) throws IOException {
    PosixFileAttributes a =
        Files.readAttributes(socket, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    if (!a.isOther()) {
      throw new UntrustedException(socket + " is not a socket");
    }
    checkOwnerAndMode(socket, a, "socket");
  }

  private void checkOwnerAndMode(Path p, PosixFileAttributes a, String what)
      throws UntrustedException {
    String owner = a.owner().getName();
    if (!trusts(owner)) {
      throw new UntrustedException(
          "the "
              + what
              + " "
              + p
              + " belongs to "
              + owner
              + ", not to "
              + describe()
              + ": another user may have made it to receive what jdmsetup sends; remove it or"
              + " choose another --runtime-dir");
    }
    Set<PosixFilePermission> perms = a.permissions();
    for (PosixFilePermission w : WRITABLE_BY_OTHERS) {
      if (perms.contains(w)) {
        throw new UntrustedException(
            "the "
                + what
                + " "
                + p
                + " is writable by "
                + (w == PosixFilePermission.GROUP_WRITE ? "its group" : "every user")
                + " (mode "
                + java.nio.file.attribute.PosixFilePermissions.toString(perms)
                + "): another user could replace the daemon's socket; make it writable by its"
                + " owner only (chmod go-w)");
      }
    }
  }

  /** The user of the process at the other end of a connected Unix-domain socket. */
  static String peerUser(SocketChannel ch) throws IOException {
    UnixDomainPrincipal p = ch.getOption(ExtendedSocketOptions.SO_PEERCRED);
    return p.user().getName();
  }

  /**
   * Checks the process at the other end of {@code ch}.
   *
   * @param role what the peer is ({@code daemon}), for the message
   */
  void checkPeer(SocketChannel ch, String role) throws IOException {
    String user = peerUser(ch);
    if (!trusts(user)) {
      throw new UntrustedException(
          "the " + role + " at the other end runs as " + user + ", not as " + describe());
    }
  }

  /** A folder, socket or peer that another user controls. */
  static final class UntrustedException extends IOException {
    private static final long serialVersionUID = 1L;

    UntrustedException(String message) {
      super("refusing to talk to the daemon: " + message);
    }
  }
}
