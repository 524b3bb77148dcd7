package io.jdm.cli;

import java.io.BufferedReader;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;

/** A connection to a daemon's control socket. Not thread-safe. */
final class ControlClient implements Closeable {
  private final SocketChannel ch;
  private final BufferedReader in;
  private final Writer out;

  /** No daemon answers on the folder's control socket. */
  static final class NoDaemonException extends IOException {
    private static final long serialVersionUID = 1L;

    NoDaemonException(RuntimeDir dir) {
      super("jdmsetup: no daemon at " + dir + " (start one with `jdmsetup daemon`)");
    }
  }

  private ControlClient(SocketChannel ch) {
    this.ch = ch;
    this.in =
        new BufferedReader(
            new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
    this.out = new OutputStreamWriter(Channels.newOutputStream(ch), StandardCharsets.UTF_8);
  }

  /**
   * Connects to the daemon of {@code dir}, trusting the invoking user and root.
   *
   * @throws NoDaemonException if there is no socket or nothing listens on it (a stale socket)
   * @throws PeerTrust.UntrustedException if the folder, the socket or the daemon belongs to someone
   *     else ({@link PeerTrust}); nothing has been sent
   */
  static ControlClient connect(RuntimeDir dir) throws IOException {
    return connect(dir, PeerTrust.currentUser());
  }

  /** As {@link #connect(RuntimeDir)}, trusting {@code trust}'s user and root. */
  static ControlClient connect(RuntimeDir dir, PeerTrust trust) throws IOException {
    if (!Files.exists(dir.controlSocket(), LinkOption.NOFOLLOW_LINKS)) {
      throw new NoDaemonException(dir);
    }
    trust.checkFolder(dir.path());
    trust.checkSocket(dir.controlSocket());
    SocketChannel ch = null;
    try {
      ch = SocketChannel.open(StandardProtocolFamily.UNIX);
      ch.connect(UnixDomainSocketAddress.of(dir.controlSocket()));
    } catch (IOException e) {
      if (ch != null) {
        try {
          ch.close();
        } catch (IOException suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      NoDaemonException nd = new NoDaemonException(dir);
      nd.initCause(e);
      throw nd;
    }
    try {
      trust.checkPeer(ch, "daemon");
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
    return new ControlClient(ch);
  }

  /** Sends {@code r} and reads the answer. */
  Protocol.Response call(Protocol.Request r) throws IOException {
    out.write(r.encode());
    out.write('\n');
    out.flush();
    return Protocol.Response.read(in);
  }

  @Override
  public void close() throws IOException {
    ch.close();
  }
}
