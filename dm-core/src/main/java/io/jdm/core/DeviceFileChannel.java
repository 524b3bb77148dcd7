package io.jdm.core;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.NonWritableChannelException;
import java.util.Objects;
import java.util.zip.CRC32C;

/**
 * A file on a block device: a {@link FileChannel} with a logical size, for engines that expect a
 * file (a new file has size 0, writes past the end grow it, {@code truncate} shrinks it), where
 * {@link BlockDevice#asFileChannel()} is the raw device (its size fixed at the device's).
 *
 * <p>The size lives in the device's <b>last logical block</b>, a trailer that the file never
 * covers: the bytes {@code "JDMFILE1"}, the size as a little-endian {@code long}, and a CRC32C of
 * those 16 bytes (little-endian {@code int}); the rest of the block is zero. The file's capacity is
 * the device size less that block; a write past it fails with "No space left on device". {@link
 * #open(BlockDevice, long)} reads the trailer, or, when the last block holds none (a fresh device),
 * starts at the given length.
 *
 * <p>Durability is that of a file system that orders data before metadata: {@link #force} flushes
 * the data, then writes the trailer and flushes again, so after a crash the size is the one of the
 * last {@code force} (or {@code close}) and every byte below it that was written before then reads
 * back. Bytes between the old end and a write that starts past it read as zeros (they are written
 * as zeros), as a hole in a file does.
 *
 * <p>Thread-safe; the relative {@code read}/{@code write} methods share one position. Closing the
 * channel writes the trailer if the size changed, and leaves the device open. Not supported: {@code
 * map}; locks are those of the raw view, within this channel only.
 */
public final class DeviceFileChannel extends PositionalChannel {
  private static final long MAGIC = 0x314C454649444D4AL; // "JDMFILE1" little-endian

  private final BlockDevice device;
  private final FileChannel raw;
  private final int blockSize;
  private final long trailerPos;
  private final Object lock = new Object();
  private long size; // guarded by lock
  private long persistedSize; // guarded by lock

  private DeviceFileChannel(BlockDevice device, long size, long persistedSize) {
    this.device = device;
    this.raw = new BlockDeviceChannel(device);
    this.blockSize = device.limits().logicalBlockSize();
    this.trailerPos = device.size() - blockSize;
    this.size = size;
    this.persistedSize = persistedSize;
  }

  /** {@link #open(BlockDevice, long)} with an initial length of 0. */
  public static DeviceFileChannel open(BlockDevice device) throws IOException {
    return open(device, 0);
  }

  /**
   * The file on {@code device}: its size from the trailer in the last logical block, or {@code
   * initialLength} when there is none (the trailer is then written at the first {@code force}).
   *
   * @throws IllegalArgumentException if {@code initialLength} is negative or beyond the capacity,
   *     or the device has no room for a trailer
   * @throws IOException if the trailer cannot be read
   */
  public static DeviceFileChannel open(BlockDevice device, long initialLength) throws IOException {
    Objects.requireNonNull(device, "device");
    int bs = device.limits().logicalBlockSize();
    if (device.size() < bs) {
      throw new IllegalArgumentException(device.name() + " is too small for a file trailer");
    }
    long capacity = device.size() - bs;
    if (initialLength < 0 || initialLength > capacity) {
      throw new IllegalArgumentException(
          "initial length " + initialLength + " (expected: 0 <= length <= " + capacity + ")");
    }
    ByteBuffer block = ByteBuffer.allocate(bs);
    device.read(block, capacity);
    long stored = parseTrailer(block.order(ByteOrder.LITTLE_ENDIAN), capacity);
    return stored >= 0
        ? new DeviceFileChannel(device, stored, stored)
        : new DeviceFileChannel(device, initialLength, -1);
  }

  private static long parseTrailer(ByteBuffer b, long capacity) {
    if (b.getLong(0) != MAGIC) {
      return -1;
    }
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, 16);
    long size = b.getLong(8);
    if ((int) crc.getValue() != b.getInt(16) || size < 0 || size > capacity) {
      return -1;
    }
    return size;
  }

  @Override
  String describe() {
    return "the file on " + device.name();
  }

  /** Bytes the file can hold: the device size less the trailer block. */
  public long capacity() {
    return trailerPos;
  }

  @Override
  void ensureOpen() throws IOException {
    if (!isOpen()) {
      throw new java.nio.channels.ClosedChannelException();
    }
  }

  @Override
  public int read(ByteBuffer dst, long pos) throws IOException {
    if (pos < 0) {
      throw new IllegalArgumentException("position " + pos + " < 0");
    }
    ensureOpen();
    long end;
    synchronized (lock) {
      end = size;
    }
    if (pos >= end) {
      return dst.hasRemaining() ? -1 : 0;
    }
    int n = (int) Math.min(dst.remaining(), end - pos);
    ByteBuffer part = dst.slice(dst.position(), n);
    int got = raw.read(part, pos);
    if (got > 0) {
      dst.position(dst.position() + got);
    }
    return got;
  }

  @Override
  public int write(ByteBuffer src, long pos) throws IOException {
    if (pos < 0) {
      throw new IllegalArgumentException("position " + pos + " < 0");
    }
    ensureOpen();
    if (device.isReadOnly()) {
      throw new NonWritableChannelException();
    }
    int n = src.remaining();
    if (n == 0) {
      return 0;
    }
    if (pos + n > trailerPos) {
      throw new IOException(
          "No space left on device: write of "
              + n
              + " bytes at "
              + pos
              + " past the capacity "
              + trailerPos
              + " of the file on "
              + device.name());
    }
    synchronized (lock) {
      if (pos > size) {
        zero(size, pos - size); // a hole reads as zeros
      }
      int done = 0;
      while (src.hasRemaining()) {
        done += raw.write(src, pos + done);
      }
      size = Math.max(size, pos + n);
      return done;
    }
  }

  private void zero(long from, long length) throws IOException {
    ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(length, 1 << 20));
    for (long done = 0; done < length; ) {
      int n = (int) Math.min(zeros.capacity(), length - done);
      ByteBuffer z = zeros.slice(0, n);
      while (z.hasRemaining()) {
        raw.write(z, from + done + z.position());
      }
      done += n;
    }
  }

  /** The logical size: the end of the furthest write, or what {@code truncate} left. */
  @Override
  public long size() throws IOException {
    ensureOpen();
    synchronized (lock) {
      return size;
    }
  }

  /** Shrinks the file to {@code newSize} if it is larger; durable at the next {@code force}. */
  @Override
  public FileChannel truncate(long newSize) throws IOException {
    if (newSize < 0) {
      throw new IllegalArgumentException("size " + newSize + " < 0");
    }
    ensureOpen();
    if (device.isReadOnly()) {
      throw new NonWritableChannelException();
    }
    synchronized (lock) {
      if (newSize < size) {
        size = newSize;
      }
    }
    clampPosition(newSize);
    return this;
  }

  /** Flushes the data, then writes the size to the trailer and flushes again. */
  @Override
  public void force(boolean metaData) throws IOException {
    ensureOpen();
    if (device.isReadOnly()) {
      return;
    }
    synchronized (lock) {
      device.flush();
      writeTrailer();
    }
  }

  /** With {@code lock} held. */
  private void writeTrailer() throws IOException {
    if (size == persistedSize) {
      return;
    }
    ByteBuffer b = ByteBuffer.allocate(blockSize).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(0, MAGIC).putLong(8, size);
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, 16);
    b.putInt(16, (int) crc.getValue());
    device.write(b, trailerPos);
    device.flush();
    persistedSize = size;
  }

  @Override
  public FileLock lock(long pos, long size, boolean shared) throws IOException {
    ensureOpen();
    return raw.lock(pos, size, shared);
  }

  @Override
  public FileLock tryLock(long pos, long size, boolean shared) throws IOException {
    ensureOpen();
    return raw.tryLock(pos, size, shared);
  }

  /** Writes the trailer if the size changed since it was last written; the device stays open. */
  @Override
  protected void implCloseChannel() throws IOException {
    try {
      if (!device.isReadOnly()) {
        synchronized (lock) {
          writeTrailer();
        }
      }
    } finally {
      raw.close();
    }
  }
}
