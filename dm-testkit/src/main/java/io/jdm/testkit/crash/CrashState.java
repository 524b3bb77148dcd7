package io.jdm.testkit.crash;

import io.jdm.core.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * One state the recorded device could be in after a power cut: everything made durable by the last
 * flush (or FUA write) before the crash, plus some of the writes that were in flight after it,
 * possibly torn. See {@link CrashTester} for how states are chosen.
 */
public final class CrashState {
  private final long number;
  private final long seed;
  private final int epoch;
  private final String description;
  private final List<String> marks;
  private final List<WriteLog.Entry> persisted;
  private final CrashImage image;

  CrashState(
      long number,
      long seed,
      int epoch,
      String description,
      List<String> marks,
      List<WriteLog.Entry> persisted,
      CrashImage image) {
    this.number = number;
    this.seed = seed;
    this.epoch = epoch;
    this.description = description;
    this.marks = marks;
    this.persisted = persisted;
    this.image = image;
  }

  /** The state's number in its run; with the seed, {@link CrashTester#onlyState} rebuilds it. */
  public long number() {
    return number;
  }

  /** The seed of the run that made this state. */
  public long seed() {
    return seed;
  }

  /** Which epoch (stretch of the log between two flush or FUA points) the crash is in, from 0. */
  public int epoch() {
    return epoch;
  }

  /**
   * The marks logged before the crash, in log order: every mark logged before the flush or FUA
   * write that closes this state's epoch, since the crash may have happened just before that
   * completed. A workload that marks an operation after it completes ("ack-17") can assert that
   * every marked operation survived. Only the workload's marks: the log's own end mark ({@link
   * WriteLog#END_MARK}) is not among them.
   */
  public List<String> marks() {
    return marks;
  }

  /** The last of {@link #marks()}, if any: the last operation acknowledged before the crash. */
  public java.util.Optional<String> lastMark() {
    return marks.isEmpty()
        ? java.util.Optional.empty()
        : java.util.Optional.of(marks.get(marks.size() - 1));
  }

  public boolean hasMark(String name) {
    return marks.contains(name);
  }

  /** The in-flight writes this state persisted (in whole or, if torn, in part), in log order. */
  public List<WriteLog.Entry> persisted() {
    return persisted;
  }

  /**
   * The state as a device, for the recovery check. It may be written (a recovery repairing things);
   * the writes stay in this state.
   */
  public BlockDevice device() {
    return image;
  }

  /** What the state is, reproducibly: seed, state number, epoch and log entries. */
  public String description() {
    return description;
  }

  /**
   * Writes the state as a (sparse) image file, to mount, fsck or hexdump while debugging, or to
   * give to {@code jdmsetup} as a device.
   */
  public void materialise(Path file) throws IOException {
    try (FileChannel ch =
        FileChannel.open(
            file,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer buf = ByteBuffer.allocate(1 << 20);
      for (long pos = 0; pos < image.size(); pos += buf.capacity()) {
        buf.clear().limit((int) Math.min(buf.capacity(), image.size() - pos));
        image.read(buf, pos);
        buf.flip();
        if (!CrashRecording.isZero(buf)) {
          while (buf.hasRemaining()) {
            ch.write(buf, pos + buf.position());
          }
        }
      }
      if (ch.size() < image.size()) {
        ch.write(ByteBuffer.allocate(1), image.size() - 1);
      }
    }
  }

  @Override
  public String toString() {
    return description;
  }
}
