package io.jdm.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.EOFException;
import java.io.IOException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

/**
 * A byte-level NBD client for tests that must send what a well-behaved client never would. Reads
 * block; the tests using it carry a {@code @Timeout} as the safety net.
 */
final class RawNbdClient implements AutoCloseable {
  final SocketChannel ch;
  private java.io.DataInputStream in;
  private java.io.OutputStream tlsOut; // null until startTls

  /** Simple reply, or the last chunk of a structured one. */
  record Reply(int error, long cookie, int type, byte[] data, String message) {}

  /** An option reply. */
  record OptReply(int option, int type, byte[] data) {}

  RawNbdClient(SocketAddress address) throws IOException {
    ch = SocketChannel.open(address);
    var s = java.nio.channels.Channels.newInputStream(ch);
    in = new java.io.DataInputStream(new java.io.BufferedInputStream(s));
  }

  /** Reads the greeting and answers with {@code clientFlags}. */
  RawNbdClient hello(int clientFlags) throws IOException {
    assertThat(in.readLong()).isEqualTo(Nbd.INIT_PASSWD);
    assertThat(in.readLong()).isEqualTo(Nbd.IHAVEOPT);
    assertThat(in.readUnsignedShort()).isEqualTo(Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES);
    send(ByteBuffer.allocate(4).putInt(clientFlags).flip());
    return this;
  }

  void send(ByteBuffer b) throws IOException {
    if (tlsOut != null) {
      byte[] a = new byte[b.remaining()];
      b.get(a);
      tlsOut.write(a);
      tlsOut.flush();
      return;
    }
    while (b.hasRemaining()) {
      ch.write(b);
    }
  }

  /**
   * Sends {@code NBD_OPT_STARTTLS}, expects {@code NBD_REP_ACK}, and runs the TLS handshake with
   * the JDK's {@code SSLSocket} (not jdm's engine code), checking that the server's certificate
   * names {@code localhost}. TCP only.
   */
  void startTls(javax.net.ssl.SSLContext context) throws IOException {
    option(Nbd.OPT_STARTTLS, new byte[0]);
    OptReply r = optReply();
    assertThat(r.type())
        .as("reply to NBD_OPT_STARTTLS: %s", new String(r.data(), StandardCharsets.UTF_8))
        .isEqualTo(Nbd.REP_ACK);
    var port = ((java.net.InetSocketAddress) ch.getRemoteAddress()).getPort();
    var s =
        (javax.net.ssl.SSLSocket)
            context.getSocketFactory().createSocket(ch.socket(), "localhost", port, false);
    var p = s.getSSLParameters();
    p.setEndpointIdentificationAlgorithm("HTTPS");
    s.setSSLParameters(p);
    s.startHandshake();
    in = new java.io.DataInputStream(new java.io.BufferedInputStream(s.getInputStream()));
    tlsOut = s.getOutputStream();
  }

  void send(byte[] b) throws IOException {
    send(ByteBuffer.wrap(b));
  }

  void option(int option, byte[] data) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(16 + data.length);
    b.putLong(Nbd.IHAVEOPT).putInt(option).putInt(data.length).put(data).flip();
    send(b);
  }

  OptReply optReply() throws IOException {
    assertThat(in.readLong()).isEqualTo(Nbd.REPLY_MAGIC);
    int option = in.readInt();
    int type = in.readInt();
    byte[] data = new byte[in.readInt()];
    in.readFully(data);
    return new OptReply(option, type, data);
  }

  static byte[] goData(String export, int... infos) {
    byte[] name = export.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(4 + name.length + 2 + 2 * infos.length);
    b.putInt(name.length).put(name).putShort((short) infos.length);
    for (int i : infos) {
      b.putShort((short) i);
    }
    return b.array();
  }

  /** Negotiates {@code export} with NBD_OPT_GO; returns the transmission flags. */
  int go(String export, boolean structured) throws IOException {
    if (structured) {
      option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]);
      assertThat(optReply().type()).isEqualTo(Nbd.REP_ACK);
    }
    option(Nbd.OPT_GO, goData(export, Nbd.INFO_BLOCK_SIZE));
    int flags = -1;
    while (true) {
      OptReply r = optReply();
      if (r.type() == Nbd.REP_ACK) {
        return flags;
      }
      assertThat(r.type()).as("reply to NBD_OPT_GO").isEqualTo(Nbd.REP_INFO);
      ByteBuffer d = ByteBuffer.wrap(r.data());
      if (d.getShort() == Nbd.INFO_EXPORT) {
        d.getLong();
        flags = d.getShort() & 0xffff;
      }
    }
  }

  void request(int flags, int type, long cookie, long offset, int length, byte[] payload)
      throws IOException {
    ByteBuffer b = ByteBuffer.allocate(28 + (payload == null ? 0 : payload.length));
    b.putInt(Nbd.REQUEST_MAGIC).putShort((short) flags).putShort((short) type);
    b.putLong(cookie).putLong(offset).putInt(length);
    if (payload != null) {
      b.put(payload);
    }
    send(b.flip());
  }

  /** Reads a simple reply; {@code readLength} payload bytes follow a successful read. */
  Reply simpleReply(int readLength) throws IOException {
    assertThat(in.readInt()).as("reply magic").isEqualTo(Nbd.SIMPLE_REPLY_MAGIC);
    int error = in.readInt();
    long cookie = in.readLong();
    byte[] data = new byte[error == 0 ? readLength : 0];
    in.readFully(data);
    return new Reply(error, cookie, -1, data, null);
  }

  /** Reads one structured reply chunk. */
  Reply chunk() throws IOException {
    int magic = in.readInt();
    if (magic == Nbd.SIMPLE_REPLY_MAGIC) {
      int error = in.readInt();
      return new Reply(error, in.readLong(), -1, new byte[0], null);
    }
    assertThat(magic).as("structured reply magic").isEqualTo(Nbd.STRUCTURED_REPLY_MAGIC);
    int flags = in.readUnsignedShort();
    int type = in.readUnsignedShort();
    long cookie = in.readLong();
    byte[] payload = new byte[in.readInt()];
    in.readFully(payload);
    assertThat(flags & Nbd.REPLY_FLAG_DONE).as("one chunk per reply, marked done").isNotZero();
    ByteBuffer p = ByteBuffer.wrap(payload);
    if (type == Nbd.REPLY_TYPE_ERROR) {
      int error = p.getInt();
      byte[] msg = new byte[p.getShort()];
      p.get(msg);
      return new Reply(error, cookie, type, new byte[0], new String(msg, StandardCharsets.UTF_8));
    }
    if (type == Nbd.REPLY_TYPE_OFFSET_DATA) {
      p.getLong();
      byte[] data = new byte[p.remaining()];
      p.get(data);
      return new Reply(0, cookie, type, data, null);
    }
    return new Reply(0, cookie, type, payload, null); // the whole payload (block status)
  }

  /** Asserts the server closed the connection (reads hit the end of the stream). */
  void assertClosedByServer() throws IOException {
    try {
      while (true) {
        in.readByte();
      }
    } catch (EOFException e) {
      return;
    } catch (IOException e) {
      // connection reset: closed just the same
    }
  }

  @Override
  public void close() throws IOException {
    ch.close();
  }
}
