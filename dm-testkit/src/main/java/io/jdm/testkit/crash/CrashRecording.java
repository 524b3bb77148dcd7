package io.jdm.testkit.crash;

import io.jdm.core.BlockDevice;
import io.jdm.core.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * A recorded workload: the device as it was before the workload ran, and the write log of what the
 * workload did to it. Made by {@link CrashRecorder#stop()}, or from any log-writes log (the
 * kernel's included) with {@link #of(BlockDevice, WriteLog)}. Explore it with {@link CrashTester}.
 */
public final class CrashRecording {
  private final MemoryBlockDevice initial;
  private final WriteLog log;

  private CrashRecording(MemoryBlockDevice initial, WriteLog log) {
    this.initial = initial;
    this.log = log;
  }

  /** Takes ownership of {@code initial} (a private copy of the device before the workload). */
  static CrashRecording owning(MemoryBlockDevice initial, WriteLog log) {
    return new CrashRecording(initial, log);
  }

  /**
   * A recording of {@code log} over a copy of {@code initial}, the device as it was when logging
   * started (copied now, so {@code initial} may change or close afterwards).
   */
  public static CrashRecording of(BlockDevice initial, WriteLog log) throws IOException {
    Objects.requireNonNull(log, "log");
    if (initial.limits().logicalBlockSize() > log.blockSize()) {
      throw new IllegalArgumentException(
          "the device's logical block size "
              + initial.limits().logicalBlockSize()
              + " is larger than the log's block size "
              + log.blockSize());
    }
    return new CrashRecording(copyOf(initial, "crash-initial", log.blockSize()), log);
  }

  /** A sparse in-memory copy of {@code src}: chunks that read as zeros take no memory. */
  static MemoryBlockDevice copyOf(BlockDevice src, String name, int blockSize) throws IOException {
    MemoryBlockDevice copy =
        MemoryBlockDevice.builder(name, src.sectors()).logicalBlockSize(blockSize).build();
    copy(src, copy);
    return copy;
  }

  /** Copies {@code src} over a zeroed {@code dst}, skipping chunks that read as zeros. */
  static void copy(BlockDevice src, BlockDevice dst) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(1 << 20);
    for (long pos = 0; pos < src.size(); pos += buf.capacity()) {
      buf.clear().limit((int) Math.min(buf.capacity(), src.size() - pos));
      src.read(buf, pos);
      buf.flip();
      if (!isZero(buf)) {
        dst.write(buf, pos);
      }
    }
  }

  static boolean isZero(ByteBuffer b) {
    for (int i = b.position(); i < b.limit(); i++) {
      if (b.get(i) != 0) {
        return false;
      }
    }
    return true;
  }

  /** The device before the workload (read it; do not write to it). */
  public BlockDevice initialImage() {
    return initial;
  }

  public WriteLog log() {
    return log;
  }

  /** Size of the recorded device, in 512-byte sectors. */
  public long sectors() {
    return initial.sectors();
  }

  @Override
  public String toString() {
    return "CrashRecording[" + sectors() + " sectors, " + log.entries().size() + " log entries]";
  }
}
