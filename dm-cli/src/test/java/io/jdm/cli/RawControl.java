package io.jdm.cli;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

/** A control-socket client that sends any bytes and reads answers as text, for bad-input tests. */
final class RawControl implements Closeable {
  final SocketChannel ch;

  RawControl(RuntimeDir dir) throws IOException {
    ch = SocketChannel.open(UnixDomainSocketAddress.of(dir.controlSocket()));
  }

  RawControl send(String text) throws IOException {
    return send(text.getBytes(StandardCharsets.UTF_8));
  }

  RawControl send(byte[] b) throws IOException {
    ByteBuffer buf = ByteBuffer.wrap(b);
    while (buf.hasRemaining()) {
      ch.write(buf);
    }
    return this;
  }

  /** One answer: the status line, body lines and the lone {@code .}; or what came before EOF. */
  String answer() throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteBuffer one = ByteBuffer.allocate(1);
    while (true) {
      one.clear();
      if (ch.read(one) < 0) {
        return out.toString(StandardCharsets.UTF_8);
      }
      out.write(one.get(0));
      if (one.get(0) == '\n' && endsAnswer(out.toByteArray())) {
        return out.toString(StandardCharsets.UTF_8);
      }
    }
  }

  private static boolean endsAnswer(byte[] b) {
    int n = b.length;
    return (n == 2 && b[0] == '.') || (n > 2 && b[n - 2] == '.' && b[n - 3] == '\n');
  }

  /** Whether the daemon has closed the connection (reads until EOF, dropping what comes). */
  boolean closedByDaemon() throws IOException {
    ByteBuffer b = ByteBuffer.allocate(4096);
    while (true) {
      b.clear();
      if (ch.read(b) < 0) {
        return true;
      }
    }
  }

  @Override
  public void close() throws IOException {
    ch.close();
  }
}
