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
   * Connects to the daemon of {@code dir}.
   *
   * @throws NoDaemonException if there is no socket or nothing listens on it (a stale socket)
   */
  static ControlClient connect(RuntimeDir dir) throws NoDaemonException {
    SocketChannel ch = null;
    try {
      ch = SocketChannel.open(StandardProtocolFamily.UNIX);
      ch.connect(UnixDomainSocketAddress.of(dir.controlSocket()));
      return new ControlClient(ch);
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
