package io.jdm.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.ReentrantLock;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;

/**
 * A blocking {@link SocketChannel} seen through an {@link SSLEngine}: what NBD speaks after {@code
 * NBD_OPT_STARTTLS}. {@link ChannelInput} reads from it and {@link Outbox} writes to it as they do
 * to the bare socket, so connections without TLS never pass through this class.
 *
 * <p>Thread model: one thread reads ({@link #handshake} and {@link #read}); any thread may write,
 * one at a time under a lock that also covers the messages the reader must send in the middle of
 * the session (a TLS 1.3 {@code KeyUpdate} answer, a {@code close_notify} answer). {@code
 * SSLEngine} allows {@code wrap} and {@code unwrap} to run at once.
 *
 * <p>Writes gather: the buffers of one {@link #write(ByteBuffer[], int, int)} become as many TLS
 * records as they need, and up to {@value #RECORDS_PER_WRITE} records leave in one socket write.
 */
final class TlsChannel implements ByteChannel, GatheringByteChannel {
  private static final int RECORDS_PER_WRITE = 8;
  private static final ByteBuffer[] NOTHING = {ByteBuffer.allocate(0)};

  private final SocketChannel ch;
  private final SSLEngine engine;
  private final String where;

  /** Ciphertext read and not yet unwrapped, in read mode; the reader's. */
  private final ByteBuffer netIn;

  /** Plaintext unwrapped and not yet returned, in read mode; the reader's. */
  private final ByteBuffer appIn;

  /** Ciphertext on its way out; only under {@link #writeLock}. */
  private final ByteBuffer netOut;

  private final ReentrantLock writeLock = new ReentrantLock();
  private final int packetSize;

  /**
   * The first handshake is over on a TLS 1.2 session: later handshake messages may only be
   * answered, not started (TLS 1.3 has no renegotiation; its post-handshake messages are fine).
   */
  private boolean refuseRenegotiation;

  private TlsChannel(SocketChannel ch, SSLEngine engine, String where) {
    this.ch = ch;
    this.engine = engine;
    this.where = where;
    this.packetSize = engine.getSession().getPacketBufferSize();
    // heap, not direct: with records in arrays the JDK 17 engine's AES-GCM wrapped 5-15 % and
    // unwrapped 20-30 % faster in an in-memory engine pair (a direct payload either way); the
    // socket's copy between heap and direct costs far less than that
    this.netIn = ByteBuffer.allocate(packetSize);
    netIn.limit(0);
    this.appIn = ByteBuffer.allocate(engine.getSession().getApplicationBufferSize());
    appIn.limit(0);
    this.netOut = ByteBuffer.allocate(packetSize * RECORDS_PER_WRITE);
  }

  /**
   * Runs the TLS handshake on {@code ch} (the peer speaks first or second, as its side of {@code
   * engine} says) and returns the channel that carries the session.
   *
   * @throws SSLException if the handshake fails (the alert, if the engine has one, is sent first)
   * @throws EOFException if the peer closes the connection during the handshake
   */
  static TlsChannel handshake(SocketChannel ch, SSLEngine engine, String where) throws IOException {
    TlsChannel t = new TlsChannel(ch, engine, where);
    try {
      engine.beginHandshake();
      t.runHandshake();
      t.refuseRenegotiation = !"TLSv1.3".equals(engine.getSession().getProtocol());
    } catch (SSLException e) {
      t.sendAlert(e);
      throw e;
    }
    return t;
  }

  private void runHandshake() throws IOException {
    while (true) {
      switch (engine.getHandshakeStatus()) {
        case NEED_TASK:
          runTasks();
          break;
        case NEED_WRAP:
          wrapAndSend(NOTHING, 0, 0);
          break;
        case NEED_UNWRAP:
        case NEED_UNWRAP_AGAIN:
          int n;
          appIn.compact(); // application data after the peer's last handshake message stays
          try {
            n = unwrap(appIn);
          } finally {
            appIn.flip();
          }
          if (n < 0) {
            throw new EOFException(where + ": connection closed during the TLS handshake");
          }
          break;
        default: // FINISHED, NOT_HANDSHAKING
          return;
      }
    }
  }

  /** The session's protocol and cipher suite, for the log. */
  String describe() {
    var s = engine.getSession();
    return s.getProtocol() + " " + s.getCipherSuite();
  }

  @Override
  public int read(ByteBuffer dst) throws IOException {
    if (!dst.hasRemaining()) {
      return 0;
    }
    if (!appIn.hasRemaining()) {
      if (dst.remaining() >= appIn.capacity()) {
        return unwrapSome(dst); // a large payload: no copy through appIn
      }
      appIn.clear();
      int n;
      try {
        n = unwrapSome(appIn);
      } finally {
        appIn.flip();
      }
      if (n < 0) {
        return -1;
      }
    }
    int n = Math.min(appIn.remaining(), dst.remaining());
    int limit = appIn.limit();
    appIn.limit(appIn.position() + n);
    dst.put(appIn);
    appIn.limit(limit);
    return n;
  }

  /** Unwraps into {@code dst} (write mode) until it holds plaintext; -1 at the end. */
  private int unwrapSome(ByteBuffer dst) throws IOException {
    while (true) {
      int n = unwrap(dst);
      if (n != 0) {
        return n;
      }
    }
  }

  /**
   * Unwraps one record into {@code dst} (write mode), reading from the socket first when no whole
   * record is buffered, and does what the engine then needs. Returns the plaintext bytes produced
   * (0 for a handshake record), or -1 when the peer has ended the session or the connection.
   */
  private int unwrap(ByteBuffer dst) throws IOException {
    while (true) {
      SSLEngineResult r = engine.unwrap(netIn, dst);
      switch (r.getStatus()) {
        case OK:
          afterEngine(r.getHandshakeStatus());
          return r.bytesProduced();
        case BUFFER_UNDERFLOW:
          if (netIn.limit() == netIn.capacity() && netIn.position() == 0) {
            throw new SSLException(
                where + ": TLS record larger than " + netIn.capacity() + " bytes");
          }
          netIn.compact();
          int n;
          try {
            n = ch.read(netIn);
          } finally {
            netIn.flip();
          }
          if (n < 0) {
            return -1;
          }
          break;
        case CLOSED: // the peer's close_notify
          afterEngine(r.getHandshakeStatus());
          return -1;
        default: // BUFFER_OVERFLOW: dst is never smaller than the session's application buffer
          throw new IllegalStateException(
              where
                  + ": TLS record larger than the application buffer ("
                  + dst.remaining()
                  + " bytes free)");
      }
    }
  }

  /**
   * Runs the tasks and sends the handshake messages the engine asks for after a record (a TLS 1.3
   * {@code KeyUpdate} answer, say). A TLS 1.2 renegotiation, which no NBD client starts, ends the
   * connection: a writer could not send until it is over.
   */
  private void afterEngine(SSLEngineResult.HandshakeStatus hs) throws IOException {
    if (refuseRenegotiation
        && hs != SSLEngineResult.HandshakeStatus.NEED_WRAP
        && hs != SSLEngineResult.HandshakeStatus.NOT_HANDSHAKING
        && hs != SSLEngineResult.HandshakeStatus.FINISHED) {
      throw new SSLException(where + ": the peer started a TLS renegotiation (not supported)");
    }
    while (true) {
      if (hs == SSLEngineResult.HandshakeStatus.NEED_TASK) {
        runTasks();
      } else if (hs == SSLEngineResult.HandshakeStatus.NEED_WRAP) {
        wrapAndSend(NOTHING, 0, 0);
      } else {
        return;
      }
      hs = engine.getHandshakeStatus();
    }
  }

  private void runTasks() {
    Runnable task;
    while ((task = engine.getDelegatedTask()) != null) {
      task.run();
    }
  }

  @Override
  public int write(ByteBuffer src) throws IOException {
    return (int) write(new ByteBuffer[] {src}, 0, 1);
  }

  @Override
  public long write(ByteBuffer[] srcs) throws IOException {
    return write(srcs, 0, srcs.length);
  }

  /** Writes every remaining byte of {@code srcs} (blocking), as TLS records. */
  @Override
  public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
    return wrapAndSend(srcs, offset, length);
  }

  /**
   * Wraps everything {@code srcs} holds (with none, what the handshake asks for) and sends it. The
   * reader may wait here for a writer blocked on a client that does not read: only a client that
   * sends a {@code KeyUpdate} and stops reading is stalled by that.
   */
  private long wrapAndSend(ByteBuffer[] srcs, int offset, int length) throws IOException {
    writeLock.lock();
    try {
      long consumed = 0;
      while (true) {
        netOut.clear();
        boolean done = false;
        while (!done && netOut.remaining() >= packetSize) {
          SSLEngineResult r = engine.wrap(srcs, offset, length, netOut);
          consumed += r.bytesConsumed();
          long left = remaining(srcs, offset, length);
          boolean progress = r.bytesConsumed() > 0 || r.bytesProduced() > 0;
          if (r.getStatus() == SSLEngineResult.Status.CLOSED) {
            if (left > 0) {
              throw new SSLException(where + ": the TLS session is closed");
            }
            done = true; // close_notify (or an alert) was the last record
            continue;
          }
          if (r.getStatus() == SSLEngineResult.Status.BUFFER_OVERFLOW) {
            throw new IllegalStateException(
                where + ": TLS record larger than " + packetSize + " bytes");
          }
          SSLEngineResult.HandshakeStatus hs = r.getHandshakeStatus();
          if (hs == SSLEngineResult.HandshakeStatus.NEED_TASK) {
            runTasks();
            hs = engine.getHandshakeStatus();
          }
          if (hs == SSLEngineResult.HandshakeStatus.NEED_WRAP && progress) {
            continue; // more handshake messages first
          }
          if (left == 0 && hs != SSLEngineResult.HandshakeStatus.NEED_WRAP) {
            done = true;
          } else if (!progress) {
            // waiting for the peer (a renegotiation the reader refuses): never spin here
            throw new SSLException(where + ": TLS cannot send now (handshake status " + hs + ")");
          }
        }
        netOut.flip();
        ChannelInput.writeFully(ch, netOut);
        if (done) {
          return consumed;
        }
      }
    } finally {
      writeLock.unlock();
    }
  }

  private static long remaining(ByteBuffer[] srcs, int offset, int length) {
    long n = 0;
    for (int i = offset; i < offset + length; i++) {
      n += srcs[i].remaining();
    }
    return n;
  }

  /**
   * Sends {@code close_notify} (proto.md: the party that ends a TLS session shuts TLS down first).
   * Blocks like any write while the peer does not read.
   */
  void closeOutbound() throws IOException {
    engine.closeOutbound();
    wrapAndSend(NOTHING, 0, 0);
  }

  /** After a failed handshake: sends the engine's alert, so the peer learns why. */
  private void sendAlert(SSLException failure) {
    try {
      engine.closeOutbound();
      wrapAndSend(NOTHING, 0, 0);
    } catch (IOException | RuntimeException e) {
      failure.addSuppressed(e);
    }
  }

  @Override
  public boolean isOpen() {
    return ch.isOpen();
  }

  /** Closes the socket (without {@code close_notify}: see {@link #closeOutbound()}). */
  @Override
  public void close() throws IOException {
    ch.close();
  }
}
