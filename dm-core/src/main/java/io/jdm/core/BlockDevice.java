package io.jdm.core;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;

/**
 * A block device: an array of 512-byte sectors that takes asynchronous {@link Bio}s, as the
 * kernel's {@code struct block_device} with {@code submit_bio}.
 *
 * <p>Implementations must:
 *
 * <ul>
 *   <li>complete every bio given to {@link #submit} exactly once, with {@link BlockStatus#OK} or an
 *       error status, on the submitting thread or any other, and never throw for an I/O failure;
 *   <li>complete a bio that reaches past {@link #sectors()} with {@link BlockStatus#IOERR} (the
 *       kernel's "attempt to access beyond end of device"), one not aligned to the logical block
 *       size with {@link BlockStatus#INVAL}, and a write to a read-only device with {@link
 *       BlockStatus#IOERR};
 *   <li>complete operations they do not support with {@link BlockStatus#NOTSUPP}, and advertise
 *       what they support in {@link #limits()};
 *   <li>ignore the sector of a {@link Bio.Op#FLUSH};
 *   <li>throw {@link IllegalStateException} from {@link #submit} after {@link #close()}, and treat
 *       a second {@code close()} as a no-op.
 * </ul>
 *
 * <p>Thread model: {@link #submit} may be called from any number of threads at once. Writes to
 * overlapping sectors that are in flight at the same time land in an unspecified order, as on a
 * disk.
 *
 * <p>The default methods are synchronous conveniences over {@link #submit}: positions and lengths
 * are in bytes and must be multiples of {@link IoLimits#logicalBlockSize()} ({@link
 * IllegalArgumentException} otherwise), failures throw {@link BlockIOException}.
 */
public interface BlockDevice extends Closeable {

  /** A name for messages and status text. */
  String name();

  /** Size in 512-byte sectors. */
  long sectors();

  /** Size in bytes. */
  default long size() {
    return sectors() << Bio.SECTOR_SHIFT;
  }

  IoLimits limits();

  /** Writes, discards and write-zeroes fail with {@link BlockStatus#IOERR}. */
  boolean isReadOnly();

  /** Starts the I/O; the bio's callback runs when it is done. */
  void submit(Bio bio);

  /** Releases the device. Idempotent. */
  @Override
  void close() throws IOException;

  // ---------------------------------------------------------------------------------------------
  // Synchronous helpers

  /**
   * Reads {@code dst.remaining()} bytes at {@code position} and advances {@code dst}'s position.
   */
  default void read(ByteBuffer dst, long position) throws IOException {
    int n = dst.remaining();
    SyncIo.checkAligned(this, position, n);
    if (n == 0) {
      return;
    }
    SyncIo.Waiter w = new SyncIo.Waiter();
    SyncIo.run(this, Bio.read(position >>> Bio.SECTOR_SHIFT, dst, w), w);
    dst.position(dst.position() + n);
  }

  /**
   * Writes {@code src.remaining()} bytes at {@code position} and advances {@code src}'s position.
   */
  default void write(ByteBuffer src, long position) throws IOException {
    write(src, position, 0);
  }

  /** Writes with {@link Bio} flags, for instance {@link Bio#FUA}. */
  default void write(ByteBuffer src, long position, int flags) throws IOException {
    int n = src.remaining();
    SyncIo.checkAligned(this, position, n);
    if (n == 0) {
      return;
    }
    SyncIo.Waiter w = new SyncIo.Waiter();
    SyncIo.run(this, Bio.write(position >>> Bio.SECTOR_SHIFT, src, flags, w), w);
    src.position(src.position() + n);
  }

  /** Makes every completed write durable. */
  default void flush() throws IOException {
    SyncIo.Waiter w = new SyncIo.Waiter();
    SyncIo.run(this, Bio.flush(w), w);
  }

  /** Discards {@code length} bytes at {@code position}; the range's contents become unspecified. */
  default void discard(long position, long length) throws IOException {
    SyncIo.runRange(this, Bio.Op.DISCARD, position, length, limits().maxDiscardSectors());
  }

  /** Writes zeros over {@code length} bytes at {@code position}. */
  default void writeZeroes(long position, long length) throws IOException {
    SyncIo.runRange(this, Bio.Op.WRITE_ZEROES, position, length, limits().maxWriteZeroesSectors());
  }

  /**
   * A {@link FileChannel} over this device, so unmodified Java code (a write-ahead log, H2's
   * MVStore, Lucene through a channel) can use it as a file. The channel reads and writes any byte
   * range (unaligned writes read, modify and write whole logical blocks), its size is the device
   * size, {@code force} flushes, and closing it leaves the device open.
   */
  default FileChannel asFileChannel() {
    return new BlockDeviceChannel(this);
  }

  /** {@link #asFileChannel()} as a {@link SeekableByteChannel}. */
  default SeekableByteChannel asSeekableByteChannel() {
    return asFileChannel();
  }
}
