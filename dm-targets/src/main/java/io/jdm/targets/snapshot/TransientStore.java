package io.jdm.targets.snapshot;

import io.jdm.core.BlockDevice;

/**
 * {@code N}: exceptions in memory only, chunks handed out from the start of the COW device; lost
 * when the table goes ({@code drivers/md/dm-snap-transient.c}).
 */
final class TransientStore extends ExceptionStore {
  private long nextFree; // sectors

  TransientStore(BlockDevice cow, BlockDevice origin) {
    super(cow, origin);
  }

  @Override
  int readMetadata(ExceptionSink sink) {
    return 0;
  }

  @Override
  boolean prepareException(Snapshot.Pending pe) {
    if (cow.sectors() < nextFree + chunkSize) {
      return false;
    }
    pe.newChunk = nextFree >>> chunkShift;
    nextFree += chunkSize;
    return true;
  }

  @Override
  void commitException(Snapshot.Pending pe, boolean valid, CommitCallback callback) {
    callback.done(valid);
  }

  @Override
  long[] usage() {
    return new long[] {cow.sectors(), nextFree, 0};
  }

  @Override
  String tableStatus() {
    return " N " + chunkSize;
  }
}
