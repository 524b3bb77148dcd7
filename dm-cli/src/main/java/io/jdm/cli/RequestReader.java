package io.jdm.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reads request lines from a control connection without ever holding more than a bounded number of
 * bytes: a line may be at most {@code maxLine} bytes, and the buffers of all connections together
 * draw on one shared {@link Budget}. A line that would pass either bound is refused while it is
 * being read, not after it has been read whole.
 *
 * <p>Not thread-safe: one reader thread per connection. {@link #close()} gives the buffer's bytes
 * back to the budget.
 */
final class RequestReader implements AutoCloseable {
  private static final int INITIAL = 8 << 10;

  /** Bytes that all connections' request buffers may hold together. */
  static final class Budget {
    private final long limit;
    private final AtomicLong used = new AtomicLong();

    Budget(long limit) {
      this.limit = limit;
    }

    long limit() {
      return limit;
    }

    long used() {
      return used.get();
    }

    boolean reserve(long n) {
      while (true) {
        long u = used.get();
        if (u + n > limit) {
          return false;
        }
        if (used.compareAndSet(u, u + n)) {
          return true;
        }
      }
    }

    void release(long n) {
      used.addAndGet(-n);
    }
  }

  /** A line passed {@code maxLine} bytes. */
  static final class LineTooLongException extends IOException {
    private static final long serialVersionUID = 1L;

    LineTooLongException(int max) {
      super("request line over " + max + " bytes");
    }
  }

  /** The shared budget is spent by other connections. */
  static final class BudgetExceededException extends IOException {
    private static final long serialVersionUID = 1L;

    BudgetExceededException(long limit) {
      super(
          "the daemon's memory for requests ("
              + limit
              + " bytes) is held by other connections; try again");
    }
  }

  private final ReadableByteChannel ch;
  private final int maxLine;
  private final Budget budget;
  private ByteBuffer buf; // data in [0, position); flipped only inside readLine
  private int scanned; // bytes before this are known to hold no LF

  RequestReader(ReadableByteChannel ch, int maxLine, Budget budget) throws IOException {
    this.ch = ch;
    this.maxLine = maxLine;
    this.budget = budget;
    int first = Math.min(INITIAL, maxLine + 1);
    if (!budget.reserve(first)) {
      throw new BudgetExceededException(budget.limit());
    }
    this.buf = ByteBuffer.allocate(first);
  }

  /**
   * The next line's bytes, without the LF; {@code null} at the end of the stream (a last line
   * without LF is dropped, as an incomplete request).
   *
   * @throws LineTooLongException when the line passes {@code maxLine} bytes; the connection cannot
   *     be read further
   * @throws BudgetExceededException when the buffer cannot grow within the shared budget
   */
  byte[] readLine() throws IOException {
    while (true) {
      int lf = indexOfLf();
      if (lf >= 0) {
        byte[] line = new byte[lf];
        buf.flip();
        buf.get(line);
        buf.get(); // the LF
        buf.compact();
        scanned = 0;
        shrink();
        return line;
      }
      scanned = buf.position();
      if (scanned > maxLine) {
        throw new LineTooLongException(maxLine);
      }
      if (!buf.hasRemaining()) {
        grow();
      }
      if (ch.read(buf) < 0) {
        return null;
      }
    }
  }

  private int indexOfLf() {
    byte[] a = buf.array();
    for (int i = scanned, end = buf.position(); i < end; i++) {
      if (a[i] == '\n') {
        return i;
      }
    }
    return -1;
  }

  private void grow() throws IOException {
    int cap = buf.capacity();
    // room for maxLine bytes and the LF, no more
    int next = (int) Math.min((long) cap * 2, (long) maxLine + 1);
    if (!budget.reserve(next - cap)) {
      throw new BudgetExceededException(budget.limit());
    }
    ByteBuffer b = ByteBuffer.allocate(next);
    buf.flip();
    b.put(buf);
    buf = b;
  }

  /** After a big line, the buffer goes back to its first size if what is left fits. */
  private void shrink() {
    int cap = buf.capacity();
    if (cap > INITIAL && buf.position() <= INITIAL) {
      ByteBuffer b = ByteBuffer.allocate(INITIAL);
      buf.flip();
      b.put(buf);
      buf = b;
      budget.release(cap - INITIAL);
    }
  }

  @Override
  public void close() {
    if (buf != null) {
      budget.release(buf.capacity());
      buf = null;
    }
  }
}
