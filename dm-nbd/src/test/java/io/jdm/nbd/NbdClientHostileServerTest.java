package io.jdm.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import java.io.DataInputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link NbdBlockDevice} against a byte-level fake server that misbehaves in transmission. */
@Timeout(60)
class NbdClientHostileServerTest {
  private static final long SIZE = 1 << 20;

  private Path dir;
  private ServerSocketChannel listener;
  private UnixDomainSocketAddress address;

  @BeforeEach
  void start() throws Exception {
    dir = Tools.tempDir();
    address = UnixDomainSocketAddress.of(dir.resolve("s"));
    listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    listener.bind(address);
  }

  @AfterEach
  void stop() throws Exception {
    listener.close();
    Tools.deleteTree(dir);
  }

  /** Accepts one client and negotiates NBD_OPT_GO (simple replies only). */
  private static SocketChannel acceptAndNegotiate(ServerSocketChannel l, long size, int flags)
      throws Exception {
    SocketChannel c = l.accept();
    DataInputStream in = new DataInputStream(Channels.newInputStream(c));
    ByteBuffer hello = ByteBuffer.allocate(18).putLong(Nbd.INIT_PASSWD).putLong(Nbd.IHAVEOPT);
    write(c, hello.putShort((short) (Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES)).flip());
    in.readInt(); // client flags
    assertThat(in.readLong()).isEqualTo(Nbd.IHAVEOPT);
    assertThat(in.readInt()).isEqualTo(Nbd.OPT_GO);
    in.readFully(new byte[in.readInt()]);
    ByteBuffer r = ByteBuffer.allocate(20 + 12 + 20);
    r.putLong(Nbd.REPLY_MAGIC).putInt(Nbd.OPT_GO).putInt(Nbd.REP_INFO).putInt(12);
    r.putShort((short) Nbd.INFO_EXPORT).putLong(size).putShort((short) flags);
    r.putLong(Nbd.REPLY_MAGIC).putInt(Nbd.OPT_GO).putInt(Nbd.REP_ACK).putInt(0);
    write(c, r.flip());
    return c;
  }

  /** Accepts and negotiates on another thread, so the client under test can connect. */
  private CompletableFuture<SocketChannel> acceptLater(long size, int flags) {
    return CompletableFuture.supplyAsync(
        () -> {
          try {
            return acceptAndNegotiate(listener, size, flags);
          } catch (Exception e) {
            throw new RuntimeException(e);
          }
        });
  }

  private CompletableFuture<SocketChannel> acceptLater() {
    return acceptLater(SIZE, Nbd.FLAG_HAS_FLAGS);
  }

  private static void write(SocketChannel c, ByteBuffer b) throws Exception {
    while (b.hasRemaining()) {
      c.write(b);
    }
  }

  @Test
  void serverClosingInTheMiddleOfAReadReplyFailsTheBioWithTransport() throws Exception {
    CompletableFuture<SocketChannel> server = acceptLater();
    NbdBlockDevice d = NbdBlockDevice.connect(address, "x", false);
    SocketChannel c = server.get(10, TimeUnit.SECONDS);
    CompletableFuture<BlockStatus> read = new CompletableFuture<>();
    d.submit(Bio.read(0, ByteBuffer.allocate(4096), b -> read.complete(b.status())));
    DataInputStream in = new DataInputStream(Channels.newInputStream(c));
    assertThat(in.readInt()).isEqualTo(Nbd.REQUEST_MAGIC);
    in.readShort();
    assertThat(in.readShort()).isEqualTo((short) Nbd.CMD_READ);
    long cookie = in.readLong();
    in.readLong();
    assertThat(in.readInt()).isEqualTo(4096);
    // the reply header and half of the data, then the server is gone
    ByteBuffer r = ByteBuffer.allocate(16 + 2048);
    r.putInt(Nbd.SIMPLE_REPLY_MAGIC).putInt(0).putLong(cookie).position(r.limit()).flip();
    write(c, r);
    c.close();
    assertThat(read.get(10, TimeUnit.SECONDS)).isEqualTo(BlockStatus.TRANSPORT);
    assertThat(d.isBroken()).isTrue();
    d.close();
  }

  /**
   * The write that follows a PREFLUSH's flush is sent from the thread reading replies. If that
   * thread wrote it itself, a server that stops reading until its replies are read (as qemu-nbd
   * does with 16 requests in flight) would deadlock with the client: here the server answers the
   * flush, then a read, and reads nothing more until the client has taken the read's reply.
   */
  @Test
  void aSendFromTheReplyReaderDoesNotBlockReplies() throws Exception {
    int big = 16 << 20; // far more than the socket buffers hold
    CompletableFuture<SocketChannel> server =
        acceptLater(64L << 20, Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH);
    NbdBlockDevice d = NbdBlockDevice.connect(address, "x", false);
    SocketChannel c = server.get(10, TimeUnit.SECONDS);
    CompletableFuture<BlockStatus> read = new CompletableFuture<>();
    CompletableFuture<BlockStatus> write = new CompletableFuture<>();
    d.submit(Bio.read(0, ByteBuffer.allocate(4096), b -> read.complete(b.status())));
    d.submit(Bio.write(0, ByteBuffer.allocate(big), Bio.PREFLUSH, b -> write.complete(b.status())));
    DataInputStream in = new DataInputStream(Channels.newInputStream(c));
    long[] cookies = new long[2];
    int[] types = new int[2];
    for (int i = 0; i < 2; i++) { // the read and the flush
      assertThat(in.readInt()).isEqualTo(Nbd.REQUEST_MAGIC);
      in.readShort();
      types[i] = in.readShort();
      cookies[i] = in.readLong();
      in.readLong();
      in.readInt();
    }
    int flush = types[0] == Nbd.CMD_FLUSH ? 0 : 1;
    assertThat(types[flush]).isEqualTo((short) Nbd.CMD_FLUSH);
    // answer the flush: the client now sends the 16 MiB write, which cannot all go out
    write(c, simpleReply(cookies[flush], 0));
    // answer the read; the client must take it although its write is stuck
    ByteBuffer r = ByteBuffer.allocate(16 + 4096);
    r.putInt(Nbd.SIMPLE_REPLY_MAGIC).putInt(0).putLong(cookies[1 - flush]);
    write(c, r.position(r.limit()).flip());
    assertThat(read.get(30, TimeUnit.SECONDS)).isEqualTo(BlockStatus.OK);
    assertThat(write).isNotDone();
    // now take the write and answer it
    assertThat(in.readInt()).isEqualTo(Nbd.REQUEST_MAGIC);
    in.readShort();
    assertThat(in.readShort()).isEqualTo((short) Nbd.CMD_WRITE);
    long cookie = in.readLong();
    in.readLong();
    int length = in.readInt();
    int got = 0;
    byte[] sink = new byte[1 << 16];
    while (got < length) {
      got += in.read(sink, 0, Math.min(sink.length, length - got));
    }
    write(c, simpleReply(cookie, 0));
    // a write bigger than the client's maximum payload comes in parts of that size: answer each
    for (int left = big - length; left > 0; left -= length) {
      assertThat(in.readInt()).isEqualTo(Nbd.REQUEST_MAGIC);
      in.readShort();
      assertThat(in.readShort()).isEqualTo((short) Nbd.CMD_WRITE);
      cookie = in.readLong();
      in.readLong();
      int part = in.readInt();
      for (got = 0; got < part; ) {
        got += in.read(sink, 0, Math.min(sink.length, part - got));
      }
      write(c, simpleReply(cookie, 0));
    }
    assertThat(write.get(30, TimeUnit.SECONDS)).isEqualTo(BlockStatus.OK);
    c.close();
    d.close();
  }

  private static ByteBuffer simpleReply(long cookie, int error) {
    return ByteBuffer.allocate(16)
        .putInt(Nbd.SIMPLE_REPLY_MAGIC)
        .putInt(error)
        .putLong(cookie)
        .flip();
  }

  /** NBD_ESHUTDOWN fails that request and later ones; the others keep the server's answers. */
  @Test
  void eshutdownFailsNewIoButKeepsTheAnswersStillComing() throws Exception {
    CompletableFuture<SocketChannel> server = acceptLater();
    NbdBlockDevice d = NbdBlockDevice.connect(address, "x", false);
    SocketChannel c = server.get(10, TimeUnit.SECONDS);
    CompletableFuture<BlockStatus> first = new CompletableFuture<>();
    CompletableFuture<BlockStatus> second = new CompletableFuture<>();
    d.submit(Bio.write(0, ByteBuffer.allocate(512), b -> first.complete(b.status())));
    d.submit(Bio.write(8, ByteBuffer.allocate(512), b -> second.complete(b.status())));
    DataInputStream in = new DataInputStream(Channels.newInputStream(c));
    long[] cookies = new long[2];
    for (int i = 0; i < 2; i++) {
      assertThat(in.readInt()).isEqualTo(Nbd.REQUEST_MAGIC);
      in.readShort();
      assertThat(in.readShort()).isEqualTo((short) Nbd.CMD_WRITE);
      cookies[i] = in.readLong();
      in.readLong();
      in.readFully(new byte[in.readInt()]);
    }
    write(c, simpleReply(cookies[0], Nbd.ESHUTDOWN));
    assertThat(first.get(10, TimeUnit.SECONDS)).isEqualTo(BlockStatus.TRANSPORT);
    CompletableFuture<BlockStatus> later = new CompletableFuture<>();
    d.submit(Bio.read(0, ByteBuffer.allocate(512), b -> later.complete(b.status())));
    assertThat(later.get(10, TimeUnit.SECONDS)).isEqualTo(BlockStatus.TRANSPORT);
    assertThat(second).isNotDone(); // its answer is still to come
    write(c, simpleReply(cookies[1], 0));
    assertThat(second.get(10, TimeUnit.SECONDS)).isEqualTo(BlockStatus.OK);
    c.close();
    d.close();
  }
}
