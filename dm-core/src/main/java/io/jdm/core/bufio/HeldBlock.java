package io.jdm.core.bufio;

import java.nio.ByteBuffer;

/**
 * One hold on a block cached by a {@link BufioClient}: the kernel's {@code struct dm_buffer *} as
 * returned by {@code dm_bufio_read}, with the lock of {@code dm_bm_read_lock} or {@code
 * dm_bm_write_lock}. While any hold exists the block stays in the cache.
 *
 * <p>A shared hold sees a read-only view; an exclusive hold may change the bytes and must say so
 * with {@link #markDirty()} (or {@link #markDirty(int, int)}) before {@link #release()}: bytes
 * changed but not marked may be lost, or written whenever the block is next written. Releasing an
 * exclusive hold that marked the block dirty runs the block's validator's {@link
 * BlockValidator#prepareForWrite}, so that the cached bytes are always what goes to the device.
 *
 * <p>Thread model: a hold is used by one thread at a time. It may be released by another thread
 * than the one that took it (handing it over), exactly once: a second {@link #release()} or {@link
 * #close()} throws {@link IllegalStateException}. {@link #data()} must not be used after release.
 */
public final class HeldBlock implements AutoCloseable {
  private final BufioClient client;
  final BufioClient.Buffer buffer;
  private final boolean exclusive;
  private final ByteBuffer view;

  /** The thread that took the hold, which the recursion check knows it by. */
  final Thread owner = Thread.currentThread();

  boolean dirtied;
  boolean released;

  HeldBlock(BufioClient client, BufioClient.Buffer buffer, boolean exclusive) {
    this.client = client;
    this.buffer = buffer;
    this.exclusive = exclusive;
    this.view = buffer.view(exclusive);
  }

  /** The block number, in blocks of {@link BufioClient#blockSize()} from the client's start. */
  public long number() {
    return buffer.nr;
  }

  /**
   * {@code true} for a hold from {@code readForWrite}, {@code newBlock} or {@code tryReadForWrite}.
   */
  public boolean isExclusive() {
    return exclusive;
  }

  /**
   * The block's bytes: the same little-endian view on every call (position 0, limit the block size
   * when the hold was taken), read-only for a shared hold. Use absolute gets and puts.
   */
  public ByteBuffer data() {
    return view;
  }

  /** Marks the whole block to be written back ({@code dm_bufio_mark_buffer_dirty}). */
  public void markDirty() {
    client.markDirty(this, 0, client.blockSize());
  }

  /**
   * Marks bytes {@code [from, to)} to be written back ({@code dm_bufio_mark_partial_buffer_dirty}).
   * The write may cover more: it is rounded out to 4 KiB (or the device's logical block size), and
   * a block with a validator is always written whole.
   *
   * @throws IllegalStateException if the hold is shared or released
   * @throws IllegalArgumentException unless {@code 0 <= from < to <= blockSize}
   */
  public void markDirty(int from, int to) {
    client.markDirty(this, from, to);
  }

  /**
   * Gives the hold back ({@code dm_bufio_release}, {@code dm_bm_unlock}).
   *
   * @throws IllegalStateException if already released
   */
  public void release() {
    client.release(this);
  }

  /** {@link #release()}, for try-with-resources. */
  @Override
  public void close() {
    release();
  }

  @Override
  public String toString() {
    return (exclusive ? "exclusive" : "shared") + " hold on block " + buffer.nr;
  }
}
