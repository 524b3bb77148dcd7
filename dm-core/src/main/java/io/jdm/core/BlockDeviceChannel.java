package io.jdm.core;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.OverlappingFileLockException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.BooleanSupplier;

/**
 * The {@link FileChannel} view of a {@link BlockDevice} ({@link BlockDevice#asFileChannel()}).
 *
 * <p>Byte ranges need not be aligned: a write that covers only part of a logical block reads the
 * block, changes it and writes it back, under a lock that keeps such read-modify-writes from losing
 * a concurrent write to the same block. The size is fixed: reads at or past the end return -1,
 * writes past the end fail with an {@link IOException}, and {@code truncate} below the size fails
 * as it does on a Linux block device. {@code force} flushes the device. Locks are tracked within
 * this channel only. {@code map} is not supported.
 *
 * <p>The view of a {@link MappedDevice} holds the device open (an opener, as an open {@code
 * /dev/mapper} node is: {@code remove} fails with {@code EBUSY} until the channel is closed), and
 * closing the channel releases it. If the device goes away all the same (a device mapper closed
 * under it), every operation fails with an {@link IOException} saying "device removed".
 *
 * <p>Thread-safe; the relative {@code read}/{@code write} methods share one position.
 */
final class BlockDeviceChannel extends PositionalChannel {
  private final BlockDevice device;
  private final int blockSize;
  private final ReadWriteLock rmw = new ReentrantReadWriteLock();
  private final List<Lock> locks = new ArrayList<>();
  private final BooleanSupplier removed;
  private final BlockDevice closeWithChannel;

  BlockDeviceChannel(BlockDevice device) {
    this(device, () -> false, null);
  }

  /**
   * A view that fails with "device removed" once {@code removed} says so, and closes {@code
   * closeWithChannel} (if not null) when it is closed.
   */
  BlockDeviceChannel(BlockDevice device, BooleanSupplier removed, BlockDevice closeWithChannel) {
    this.device = Objects.requireNonNull(device, "device");
    this.blockSize = device.limits().logicalBlockSize();
    this.removed = Objects.requireNonNull(removed, "removed");
    this.closeWithChannel = closeWithChannel;
  }

  @Override
  void ensureOpen() throws IOException {
    if (!isOpen()) {
      throw new ClosedChannelException();
    }
    if (removed.getAsBoolean()) {
      throw deviceRemoved();
    }
  }

  @Override
  String describe() {
    return "jdm block device " + device.name();
  }

  @Override
  long transferLimit() {
    return device.size();
  }

  private IOException deviceRemoved() {
    return new IOException(device.name() + ": device removed");
  }

  @Override
  public long size() throws IOException {
    ensureOpen();
    return device.size();
  }

  @Override
  public FileChannel truncate(long size) throws IOException {
    if (size < 0) {
      throw new IllegalArgumentException("size " + size + " < 0");
    }
    ensureOpen();
    if (size < device.size()) {
      throw new IOException(
          "cannot truncate block device " + device.name() + " to " + size + " bytes");
    }
    clampPosition(size);
    return this;
  }

  @Override
  public void force(boolean metaData) throws IOException {
    ensureOpen();
    if (!device.isReadOnly()) {
      device.flush();
    }
  }

  @Override
  public int read(ByteBuffer dst, long pos) throws IOException {
    if (pos < 0) {
      throw new IllegalArgumentException("position " + pos + " < 0");
    }
    ensureOpen();
    long size = device.size();
    if (pos >= size) {
      return dst.hasRemaining() ? -1 : 0;
    }
    int n = (int) Math.min(dst.remaining(), size - pos);
    if (n == 0) {
      return 0;
    }
    ByteBuffer out = dst.slice(dst.position(), n);
    long end = pos + n;
    long alignedStart = roundUp(pos);
    long alignedEnd = roundDown(end);
    if (alignedStart >= alignedEnd) {
      // Inside one block, or across one boundary with no whole block.
      readPartial(out, 0, pos, n);
    } else {
      int head = (int) (alignedStart - pos);
      int tail = (int) (end - alignedEnd);
      if (head > 0) {
        readPartial(out, 0, pos, head);
      }
      ByteBuffer middle = out.slice(head, (int) (alignedEnd - alignedStart));
      device.read(middle, alignedStart);
      if (tail > 0) {
        readPartial(out, n - tail, alignedEnd, tail);
      }
    }
    dst.position(dst.position() + n);
    return n;
  }

  /** Reads {@code len} bytes at unaligned {@code pos} into {@code out[at..]} via whole blocks. */
  private void readPartial(ByteBuffer out, int at, long pos, int len) throws IOException {
    long start = roundDown(pos);
    long end = roundUp(pos + len);
    ByteBuffer tmp = ByteBuffer.allocate((int) (end - start));
    device.read(tmp, start);
    out.put(at, tmp, (int) (pos - start), len);
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
    if (!src.hasRemaining()) {
      return 0;
    }
    long size = device.size();
    if (pos >= size) {
      throw new IOException(
          "No space left on device: write at " + pos + " past the end of " + device.name());
    }
    int n = (int) Math.min(src.remaining(), size - pos);
    ByteBuffer in = src.slice(src.position(), n);
    long end = pos + n;
    long alignedStart = roundUp(pos);
    long alignedEnd = roundDown(end);
    if (pos == alignedStart && end == alignedEnd) {
      rmw.readLock().lock();
      try {
        device.write(in, pos);
      } finally {
        rmw.readLock().unlock();
      }
    } else {
      rmw.writeLock().lock();
      try {
        if (alignedStart >= alignedEnd) {
          writePartial(in, 0, pos, n);
        } else {
          int head = (int) (alignedStart - pos);
          int tail = (int) (end - alignedEnd);
          if (head > 0) {
            writePartial(in, 0, pos, head);
          }
          device.write(in.slice(head, (int) (alignedEnd - alignedStart)), alignedStart);
          if (tail > 0) {
            writePartial(in, n - tail, alignedEnd, tail);
          }
        }
      } finally {
        rmw.writeLock().unlock();
      }
    }
    src.position(src.position() + n);
    return n;
  }

  private void writePartial(ByteBuffer in, int at, long pos, int len) throws IOException {
    long start = roundDown(pos);
    long end = roundUp(pos + len);
    ByteBuffer tmp = ByteBuffer.allocate((int) (end - start));
    device.read(tmp, start);
    tmp.put((int) (pos - start), in, at, len);
    tmp.clear();
    device.write(tmp, start);
  }

  @Override
  public FileLock lock(long pos, long size, boolean shared) throws IOException {
    FileLock l = tryLock(pos, size, shared);
    if (l == null) {
      throw new OverlappingFileLockException();
    }
    return l;
  }

  @Override
  public FileLock tryLock(long pos, long size, boolean shared) throws IOException {
    if (pos < 0 || size < 0) {
      throw new IllegalArgumentException("position " + pos + ", size " + size);
    }
    ensureOpen();
    synchronized (locks) {
      for (Lock l : locks) {
        if (l.overlaps(pos, size)) {
          throw new OverlappingFileLockException();
        }
      }
      Lock l = new Lock(pos, size, shared);
      locks.add(l);
      return l;
    }
  }

  @Override
  protected void implCloseChannel() throws IOException {
    synchronized (locks) {
      for (Lock l : locks) {
        l.valid = false;
      }
      locks.clear();
    }
    if (closeWithChannel != null) {
      closeWithChannel.close();
    }
  }

  private long roundDown(long pos) {
    return pos - (pos & (blockSize - 1));
  }

  private long roundUp(long pos) {
    return roundDown(pos + blockSize - 1);
  }

  private final class Lock extends FileLock {
    private volatile boolean valid = true;

    Lock(long pos, long size, boolean shared) {
      super(BlockDeviceChannel.this, pos, size, shared);
    }

    @Override
    public boolean isValid() {
      return valid && BlockDeviceChannel.this.isOpen();
    }

    @Override
    public void release() throws IOException {
      if (!BlockDeviceChannel.this.isOpen()) {
        throw new ClosedChannelException();
      }
      synchronized (locks) {
        valid = false;
        locks.remove(this);
      }
    }
  }
}
