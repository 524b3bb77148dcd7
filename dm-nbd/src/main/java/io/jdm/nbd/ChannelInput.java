package io.jdm.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * Buffered, blocking reads of big-endian protocol fields from a channel: one {@code read} call
 * brings in as many pipelined requests or replies as the socket holds, and {@link #ensure} exposes
 * them one at a time. Not thread-safe: one reader thread per connection.
 */
final class ChannelInput {
  private ReadableByteChannel ch;
  private final ByteBuffer buf;

  ChannelInput(ReadableByteChannel ch, int capacity) {
    this.ch = ch;
    this.buf = ByteBuffer.allocateDirect(capacity);
    buf.limit(0);
  }

  /**
   * Reads from {@code ch} from now on (a TLS session over the same socket, after {@code
   * NBD_OPT_STARTTLS}).
   *
   * @throws IllegalStateException if bytes read from the old channel are still buffered: they were
   *     sent before the switch and must not pass for bytes of the new one
   */
  void switchTo(ReadableByteChannel ch) {
    if (buf.hasRemaining()) {
      throw new IllegalStateException(
          buf.remaining() + " bytes of the old channel are still buffered");
    }
    this.ch = ch;
  }

  /** The buffer in read mode; after {@link #ensure}{@code (n)} at least n bytes remain. */
  ByteBuffer buffer() {
    return buf;
  }

  /**
   * Makes {@code n} bytes (at most the capacity) available, reading as needed.
   *
   * @throws EOFException if the peer closed the connection first
   */
  ByteBuffer ensure(int n) throws IOException {
    if (buf.remaining() >= n) {
      return buf;
    }
    buf.compact();
    try {
      while (buf.position() < n) {
        if (ch.read(buf) < 0) {
          throw new EOFException(
              "connection closed by the peer (" + buf.position() + " of " + n + " bytes read)");
        }
      }
    } finally {
      buf.flip();
    }
    return buf;
  }

  /** Fills {@code dst}'s remaining bytes from the buffer, then straight from the channel. */
  void readFully(ByteBuffer dst) throws IOException {
    int n = Math.min(buf.remaining(), dst.remaining());
    if (n > 0) {
      int lim = buf.limit();
      buf.limit(buf.position() + n);
      dst.put(buf);
      buf.limit(lim);
    }
    while (dst.hasRemaining()) {
      if (ch.read(dst) < 0) {
        throw new EOFException("connection closed by the peer in the middle of a payload");
      }
    }
  }

  /** Reads and drops {@code n} bytes. */
  void skip(long n) throws IOException {
    while (n > 0) {
      int k = (int) Math.min(n, buf.capacity());
      ensure(k);
      buf.position(buf.position() + k);
      n -= k;
    }
  }

  /** Reads {@code n} bytes into a new array. */
  byte[] bytes(int n) throws IOException {
    byte[] b = new byte[n];
    readFully(ByteBuffer.wrap(b));
    return b;
  }

  int readInt() throws IOException {
    return ensure(4).getInt();
  }

  long readLong() throws IOException {
    return ensure(8).getLong();
  }

  int readUnsignedShort() throws IOException {
    return ensure(2).getShort() & 0xffff;
  }

  /** Writes every remaining byte of every buffer (a blocking channel may write partially). */
  static void writeFully(WritableByteChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      ch.write(b);
    }
  }
}
