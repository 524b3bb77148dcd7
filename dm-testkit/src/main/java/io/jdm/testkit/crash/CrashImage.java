package io.jdm.testkit.crash;

import io.jdm.core.AbstractBlockDevice;
import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.IoLimits;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;

/**
 * A crash state as a device: a copy-on-write overlay of blocks over the durable image, so building
 * a state costs only the blocks it changes. Writes (a recovery writing its repairs) go to the
 * overlay too; the base is never changed.
 *
 * <p>Thread-safe (one lock: states are small and checks are usually single-threaded).
 */
final class CrashImage extends AbstractBlockDevice {
  private final BlockDevice base;
  private final int blockSize;
  private final int blockShift; // log2(block size / 512)
  private final byte[] zeros;
  private final Map<Long, byte[]> overlay = new HashMap<>(); // guarded by this

  CrashImage(String name, BlockDevice base, int blockSize) {
    super(
        name,
        base.sectors(),
        IoLimits.builder()
            .logicalBlockSize(blockSize)
            .physicalBlockSize(blockSize)
            .maxDiscardSectors(IoLimits.UNLIMITED)
            .discardGranularity(blockSize)
            .maxWriteZeroesSectors(IoLimits.UNLIMITED)
            .build(),
        false);
    this.base = base;
    this.blockSize = blockSize;
    this.blockShift = Integer.numberOfTrailingZeros(blockSize) - Bio.SECTOR_SHIFT;
    this.zeros = new byte[blockSize];
  }

  /** Puts block {@code block} of a write into the overlay (copied). */
  synchronized void put(long block, ByteBuffer src, int offset) {
    byte[] b = new byte[blockSize];
    src.get(offset, b);
    overlay.put(block, b);
  }

  /** Zeroes a block in the overlay (a discard). */
  synchronized void zero(long block) {
    overlay.put(block, zeros);
  }

  @Override
  protected void doSubmit(Bio bio) {
    try {
      synchronized (this) {
        serve(bio);
      }
    } catch (IOException | RuntimeException e) {
      bio.complete(BlockStatus.IOERR);
      return;
    }
    bio.complete(BlockStatus.OK);
  }

  private void serve(Bio bio) throws IOException {
    long first = bio.sector() >>> blockShift;
    long count = (long) bio.sectors() >>> blockShift;
    switch (bio.op()) {
      case READ:
        {
          ByteBuffer dst = bio.data().duplicate();
          dst.limit(bio.dataOffset() + bio.bytes()).position(bio.dataOffset());
          base.read(dst, bio.sector() << Bio.SECTOR_SHIFT);
          if (overlay.size() < count) {
            for (Map.Entry<Long, byte[]> e : overlay.entrySet()) {
              long b = e.getKey();
              if (b >= first && b < first + count) {
                bio.data().put(bio.dataOffset() + (int) (b - first) * blockSize, e.getValue());
              }
            }
          } else {
            for (long b = first; b < first + count; b++) {
              byte[] v = overlay.get(b);
              if (v != null) {
                bio.data().put(bio.dataOffset() + (int) (b - first) * blockSize, v);
              }
            }
          }
          break;
        }
      case WRITE:
        for (long b = 0; b < count; b++) {
          put(first + b, bio.data(), bio.dataOffset() + (int) b * blockSize);
        }
        break;
      case DISCARD:
      case WRITE_ZEROES:
        for (long b = 0; b < count; b++) {
          zero(first + b);
        }
        break;
      case FLUSH:
        break;
      default:
        throw new AssertionError(bio.op());
    }
  }
}
