package io.jdm.core;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.Objects;

/**
 * What jdm's two {@link FileChannel}s share: the relative and scattering/gathering {@code read} and
 * {@code write} on one position, the position itself, and {@code transferTo}/{@code transferFrom},
 * all in terms of the subclass's positional {@link #read(ByteBuffer, long)} and {@link
 * #write(ByteBuffer, long)}. {@code map} is not supported.
 *
 * <p>Lock order: the position lock is taken before anything the positional methods lock.
 */
abstract class PositionalChannel extends FileChannel {
  private static final int TRANSFER_BUFFER = 1 << 20;

  private final Object positionLock = new Object();
  private long position; // guarded by positionLock

  /** Throws if the channel (or what it stands on) can no longer be used. */
  abstract void ensureOpen() throws IOException;

  /** The name {@code map}'s refusal gives. */
  abstract String describe();

  /** Where {@code transferFrom} stops writing ({@code Long.MAX_VALUE}: where the source ends). */
  long transferLimit() {
    return Long.MAX_VALUE;
  }

  /** Moves the position back to {@code size} if it is beyond it (for {@code truncate}). */
  final void clampPosition(long size) {
    synchronized (positionLock) {
      if (position > size) {
        position = size;
      }
    }
  }

  @Override
  public final int read(ByteBuffer dst) throws IOException {
    synchronized (positionLock) {
      int n = read(dst, position);
      if (n > 0) {
        position += n;
      }
      return n;
    }
  }

  @Override
  public final long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
    Objects.checkFromIndexSize(offset, length, dsts.length);
    synchronized (positionLock) {
      long total = 0;
      for (int i = offset; i < offset + length; i++) {
        if (!dsts[i].hasRemaining()) {
          continue;
        }
        int n = read(dsts[i], position);
        if (n < 0) {
          return total == 0 ? -1 : total;
        }
        position += n;
        total += n;
        if (dsts[i].hasRemaining()) {
          break;
        }
      }
      return total;
    }
  }

  @Override
  public final int write(ByteBuffer src) throws IOException {
    synchronized (positionLock) {
      int n = write(src, position);
      position += n;
      return n;
    }
  }

  @Override
  public final long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
    Objects.checkFromIndexSize(offset, length, srcs.length);
    synchronized (positionLock) {
      long total = 0;
      for (int i = offset; i < offset + length; i++) {
        int n = write(srcs[i], position);
        position += n;
        total += n;
        if (srcs[i].hasRemaining()) {
          break;
        }
      }
      return total;
    }
  }

  @Override
  public final long position() throws IOException {
    ensureOpen();
    synchronized (positionLock) {
      return position;
    }
  }

  @Override
  public final FileChannel position(long newPosition) throws IOException {
    if (newPosition < 0) {
      throw new IllegalArgumentException("position " + newPosition + " < 0");
    }
    ensureOpen();
    synchronized (positionLock) {
      position = newPosition;
    }
    return this;
  }

  @Override
  public final long transferTo(long pos, long count, WritableByteChannel target)
      throws IOException {
    if (pos < 0 || count < 0) {
      throw new IllegalArgumentException("position " + pos + ", count " + count);
    }
    ensureOpen();
    long done = 0;
    ByteBuffer buf = ByteBuffer.allocate((int) Math.min(Math.max(count, 1), TRANSFER_BUFFER));
    while (done < count) {
      buf.clear().limit((int) Math.min(buf.capacity(), count - done));
      int n = read(buf, pos + done);
      if (n <= 0) {
        break;
      }
      buf.flip();
      while (buf.hasRemaining()) {
        if (target.write(buf) == 0 && buf.hasRemaining()) {
          return done + (n - buf.remaining()); // a non-blocking target that is full
        }
      }
      done += n;
    }
    return done;
  }

  @Override
  public final long transferFrom(ReadableByteChannel src, long pos, long count) throws IOException {
    if (pos < 0 || count < 0) {
      throw new IllegalArgumentException("position " + pos + ", count " + count);
    }
    ensureOpen();
    long done = 0;
    ByteBuffer buf = ByteBuffer.allocate((int) Math.min(Math.max(count, 1), TRANSFER_BUFFER));
    while (done < count && pos + done < transferLimit()) {
      buf.clear().limit((int) Math.min(buf.capacity(), count - done));
      int n = src.read(buf);
      if (n <= 0) {
        break;
      }
      buf.flip();
      while (buf.hasRemaining()) {
        write(buf, pos + done + (n - buf.remaining()));
      }
      done += n;
    }
    return done;
  }

  @Override
  public final MappedByteBuffer map(MapMode mode, long pos, long size) {
    throw new UnsupportedOperationException(describe() + " cannot be memory-mapped");
  }
}
