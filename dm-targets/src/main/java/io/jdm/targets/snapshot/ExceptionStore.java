package io.jdm.targets.snapshot;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.TargetException;
import java.io.IOException;

/**
 * Where a snapshot keeps its exceptions: the kernel's {@code struct dm_exception_store} and its
 * type ({@code drivers/md/dm-exception-store.[ch]}). {@link PersistentStore} ({@code P}, {@code
 * PO}) keeps them on the COW device, {@link TransientStore} ({@code N}) in memory.
 *
 * <p>Thread model: {@link #prepareException} is called under the snapshot's lock; {@link
 * #commitException}, {@link #prepareMerge}, {@link #commitMerge} and the metadata writes of {@link
 * #dropSnapshot} on the snapshot's single ordered worker; {@link #usage} under the snapshot's lock.
 */
abstract class ExceptionStore {
  /** Receives the exceptions read back from the store ({@code dm_add_exception}). */
  @FunctionalInterface
  interface ExceptionSink {
    void add(long oldChunk, long newChunk);
  }

  /** Told whether a commit reached the store ({@code pending_complete}'s {@code success}). */
  @FunctionalInterface
  interface CommitCallback {
    void done(boolean success);
  }

  final BlockDevice cow;
  final BlockDevice origin;
  int chunkSize; // sectors; 0 = "from the header"
  int chunkMask;
  int chunkShift;
  boolean userspaceSupportsOverflow;

  ExceptionStore(BlockDevice cow, BlockDevice origin) {
    this.cow = cow;
    this.origin = origin;
  }

  /**
   * {@code dm_exception_store_set_chunk_size}: a power of two, a multiple of both devices' logical
   * block sizes, at most {@code INT_MAX >> 9}.
   *
   * @throws TargetException with the kernel's text
   */
  final void setChunkSize(long chunkSize) {
    if (chunkSize <= 0 || Long.bitCount(chunkSize) != 1) {
      throw new TargetException("Chunk size is not a power of 2");
    }
    if (chunkSize % (cow.limits().logicalBlockSize() >>> Bio.SECTOR_SHIFT) != 0
        || chunkSize % (origin.limits().logicalBlockSize() >>> Bio.SECTOR_SHIFT) != 0) {
      throw new TargetException("Chunk size is not a multiple of device blocksize");
    }
    if (chunkSize > (Integer.MAX_VALUE >> Bio.SECTOR_SHIFT)) {
      throw new TargetException("Chunk size is too high");
    }
    this.chunkSize = (int) chunkSize;
    this.chunkMask = (int) chunkSize - 1;
    this.chunkShift = Long.numberOfTrailingZeros(chunkSize);
  }

  /**
   * Reads the exceptions back ({@code read_metadata}); returns 0, or 1 if the store says the
   * snapshot is invalid.
   *
   * @throws IOException if the store cannot be read or is not one
   */
  abstract int readMetadata(ExceptionSink sink) throws IOException;

  /** Allocates a COW chunk for {@code pe} ({@code prepare_exception}); {@code false} when full. */
  abstract boolean prepareException(Snapshot.Pending pe);

  /** Records {@code pe} ({@code commit_exception}); {@code callback} may run later, on a commit. */
  abstract void commitException(Snapshot.Pending pe, boolean valid, CommitCallback callback);

  /** Whether the store can merge (the transient store cannot). */
  boolean supportsMerge() {
    return false;
  }

  /**
   * {@code prepare_merge}: 0 when nothing is left, else the number of consecutive exceptions ending
   * with the newest, whose old and new chunks are put in {@code last[0]}, {@code last[1]}.
   */
  int prepareMerge(long[] last) throws IOException {
    throw new UnsupportedOperationException();
  }

  /** {@code commit_merge}: clears the newest {@code n} exceptions on the store. */
  void commitMerge(int n) throws IOException {
    throw new UnsupportedOperationException();
  }

  /** Notes in memory that the snapshot is invalid; {@link #writeInvalid} makes it durable. */
  void dropSnapshot() {}

  /** Writes what {@link #dropSnapshot} noted ({@code drop_snapshot}'s header write). */
  void writeInvalid() throws IOException {}

  /** {@code usage}: total, allocated and metadata sectors. */
  abstract long[] usage();

  /** The table text after the devices: {@code " P 8"}, {@code " PO 8"}, {@code " N 8"}. */
  abstract String tableStatus();

  /** Releases buffers. */
  void close() {}
}
