package io.jdm.cli;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A process of another user in the trust tests, run by {@code runuser} with nothing but the JDK on
 * its class path: {@code serve SOCKET} plays a squatter's fake daemon (prints {@code ready}, then
 * {@code received N} with the bytes its one client sent), {@code call SOCKET LINE} plays a
 * stranger's client (prints what the daemon answers).
 */
public final class PeerProbe {
  private PeerProbe() {}

  public static void main(String[] args) throws IOException {
    Path socket = Path.of(args[1]);
    if (args[0].equals("serve")) {
      try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
        s.bind(UnixDomainSocketAddress.of(socket));
        System.out.println("ready");
        System.out.flush();
        try (SocketChannel c = s.accept()) {
          System.out.println("received " + drain(c).length());
        }
      }
      return;
    }
    try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
      try {
        c.write(ByteBuffer.wrap((args[2] + "\n").getBytes(StandardCharsets.UTF_8)));
      } catch (IOException e) {
        // the daemon may have answered and closed before the request went out
      }
      System.out.print(drain(c));
    }
  }

  private static String drain(SocketChannel c) throws IOException {
    StringBuilder sb = new StringBuilder();
    ByteBuffer b = ByteBuffer.allocate(4096);
    while (c.read(b) >= 0) {
      b.flip();
      sb.append(StandardCharsets.UTF_8.decode(b));
      b.clear();
    }
    return sb.toString();
  }
}
