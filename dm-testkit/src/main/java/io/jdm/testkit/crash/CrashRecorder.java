package io.jdm.testkit.crash;

import io.jdm.core.BlockDevice;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import java.io.Closeable;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

/**
 * Records a workload for crash testing: a device to run it on, mapped as {@code 0 <sectors>
 * log-writes <data> <log>} over an in-memory disk with a volatile write cache, so every write,
 * flush, FUA write and discard the workload makes is logged in the order it became durable. Mark
 * points of interest as the workload goes ({@link #mark}: "record 17 acknowledged"); a {@link
 * CrashCheck} sees which marks were logged before each crash.
 *
 * <pre>{@code
 * try (CrashRecorder rec = CrashRecorder.start(dm, 8192)) {
 *   runWorkload(rec.device(), rec::mark);
 *   CrashReport report = CrashTester.of(rec.stop()).run(state -> recoverAndCheck(state));
 *   report.assertPassed();
 * }
 * }</pre>
 *
 * <p>Needs the {@code log-writes} target: put {@code io.jdm:dm-targets} on the class path (it is
 * found through {@link java.util.ServiceLoader}).
 */
public final class CrashRecorder implements Closeable {
  private static final AtomicInteger COUNTER = new AtomicInteger();
  private static final Pattern MARK = Pattern.compile("\\S+");

  private final DeviceMapper dm;
  private final String name;
  private final String dataName;
  private final String logName;
  private final MemoryBlockDevice data;
  private final MemoryBlockDevice log;
  private final MemoryBlockDevice initial;
  private final int blockSize;
  private final MappedDevice device;
  private boolean stopped;
  private boolean closed;

  private CrashRecorder(Builder b) throws IOException {
    this.dm = b.dm;
    if (dm.targets().stream().noneMatch(t -> t.name().equals("log-writes"))) {
      throw new IllegalStateException(
          "the log-writes target is not registered: put io.jdm:dm-targets on the class path");
    }
    int n = COUNTER.getAndIncrement();
    this.name = "crash-recorder-" + n;
    this.dataName = "crash-data-" + n;
    this.logName = "crash-log-" + n;
    this.blockSize = b.blockSize;
    long sectors = b.initial != null ? b.initial.sectors() : b.sectors;
    this.data =
        MemoryBlockDevice.builder(dataName, sectors)
            .logicalBlockSize(blockSize)
            .writeCache(true)
            .build();
    this.log = MemoryBlockDevice.builder(logName, b.logSectors).logicalBlockSize(blockSize).build();
    MemoryBlockDevice init = null;
    MappedDevice md = null;
    try {
      if (b.initial != null) {
        init = CrashRecording.copyOf(b.initial, "crash-initial-" + n, blockSize);
        CrashRecording.copy(init, data);
      } else {
        init =
            MemoryBlockDevice.builder("crash-initial-" + n, sectors)
                .logicalBlockSize(blockSize)
                .build();
      }
      dm.registerDevice(dataName, data);
      dm.registerDevice(logName, log);
      md = dm.create(name, "0 " + sectors + " log-writes " + dataName + " " + logName);
    } catch (IOException | RuntimeException e) {
      if (init != null) {
        init.close();
      }
      release();
      throw e;
    }
    this.initial = init;
    this.device = md;
  }

  /** Starts recording on an empty (zeroed) device of {@code sectors} 512-byte sectors. */
  public static CrashRecorder start(DeviceMapper dm, long sectors) throws IOException {
    return builder(dm).sectors(sectors).start();
  }

  public static Builder builder(DeviceMapper dm) {
    return new Builder(dm);
  }

  /** The device to run the workload on. */
  public MappedDevice device() {
    return device;
  }

  /**
   * Logs a mark: one word of at most {@code blockSize - 33} bytes. Marks are logged at once, ahead
   * of writes still waiting for a flush, so a mark made after an operation completed is known to
   * every crash state that could follow it.
   */
  public void mark(String name) {
    if (!MARK.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "a mark is one word with no white space: \"" + name + "\"");
    }
    if (name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > blockSize - 33) {
      throw new IllegalArgumentException(
          "mark \"" + name + "\" is longer than " + (blockSize - 33) + " bytes");
    }
    device.message(0, "mark", name);
  }

  /**
   * Stops recording: removes the device (the target logs what is still unflushed and its end mark)
   * and reads the log back.
   *
   * @throws IOException if the log device filled up, or the log does not read back
   */
  public CrashRecording stop() throws IOException {
    if (stopped) {
      throw new IllegalStateException("already stopped");
    }
    stopped = true;
    dm.remove(name);
    try {
      WriteLog wl;
      try {
        wl = WriteLog.read(log);
      } catch (IOException e) {
        throw new IOException(
            "the recording's log does not read back ("
                + e.getMessage()
                + "): a log device that fills up before the first FUA write or mark is left"
                + " without a super block; give the recorder a larger log",
            e);
      }
      int n = wl.entries().size();
      if (n == 0 || !WriteLog.END_MARK.equals(wl.entries().get(n - 1).mark())) {
        // the end mark is logged last, at removal: without it, logging stopped early
        throw new IOException(
            "the log device of "
                + log.sectors()
                + " sectors filled up (or failed): logging stopped after "
                + n
                + " entries; give the recorder a larger log");
      }
      return CrashRecording.owning(initial, wl);
    } catch (IOException | RuntimeException e) {
      initial.close();
      throw e;
    } finally {
      release();
    }
  }

  private void release() throws IOException {
    if (dm.find(name).isPresent()) {
      dm.remove(name);
    }
    for (String dev : new String[] {dataName, logName}) {
      try {
        dm.unregisterDevice(dev);
      } catch (RuntimeException e) {
        // not registered (a failed start)
      }
    }
    data.close();
    log.close();
  }

  /** Stops without a recording, if not stopped yet. */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    if (!stopped) {
      stopped = true;
      initial.close();
      release();
    }
  }

  /** Options for a {@link CrashRecorder}. */
  public static final class Builder {
    private final DeviceMapper dm;
    private long sectors = -1;
    private BlockDevice initial;
    private int blockSize = 512;
    private long logSectors = 1L << 31;

    private Builder(DeviceMapper dm) {
      this.dm = dm;
    }

    /** Size of the device to record on; it starts zeroed. */
    public Builder sectors(long sectors) {
      this.sectors = sectors;
      return this;
    }

    /** Start from a copy of {@code initial} (for instance a formatted file system). */
    public Builder initialImage(BlockDevice initial) {
      this.initial = initial;
      return this;
    }

    /** The device's logical block size, which is the log's block size: 512 (default) to 65536. */
    public Builder blockSize(int bytes) {
      this.blockSize = bytes;
      return this;
    }

    /** Size of the (sparse, in-memory) log device; default 1 TiB. */
    public Builder logSectors(long sectors) {
      this.logSectors = sectors;
      return this;
    }

    public CrashRecorder start() throws IOException {
      if (initial == null && sectors <= 0) {
        throw new IllegalArgumentException("give a size (sectors) or an initial image");
      }
      return new CrashRecorder(this);
    }
  }
}
