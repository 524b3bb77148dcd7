package io.jdm.core.io;

import io.jdm.core.Bio;
import io.jdm.core.Clock;
import io.jdm.core.Workqueue;
import io.jdm.core.io.DmIo.Region;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Copies a region of one device to up to {@value #MAX_DESTINATIONS} regions of others, or fills
 * regions with zeros, in the background: the kernel's kcopyd ({@code drivers/md/dm-kcopyd.c},
 * {@code include/linux/dm-kcopyd.h}), used by mirror resync, snapshot copy-out and merge, thin's
 * block copies and cache migration. One {@code Kcopyd} is the kernel's {@code dm_kcopyd_client}.
 *
 * <p>A job ({@link #copy}, {@link #zero}) is cut into sub-jobs of at most {@link
 * Builder#subJobSize} bytes, at most {@value #SPLIT_COUNT} of them in flight per job, each taking
 * the next segment when it finishes one, as the kernel's {@code split_job} and {@code
 * segment_complete}. A copy sub-job takes a buffer from this client's {@link BufferPool}, reads the
 * source segment into it once through {@link DmIo} and writes it to every destination at once. A
 * zero sub-job writes zeros with {@link Bio.Op#WRITE_ZEROES} when every destination supports it
 * ({@code max_write_zeroes_sectors > 0}), else with writes from one shared buffer of zeros.
 *
 * <p>Bounds: at most {@link Builder#maxBytesInFlight} / {@code subJobSize} sub-jobs of all jobs are
 * in flight at once, so no device ever has more than {@code maxBytesInFlight} bytes of this
 * client's I/O outstanding, and buffers never take more memory than that; {@link Builder#reserve}
 * buffers are made up front so copying can always start. A {@link Throttle} shared by several
 * clients further limits the share of time spent in I/O, as the kernel's {@code dm_kcopyd_throttle}
 * (the {@code raid1_resync_throttle} knob), without blocking any thread: a throttled sub-job waits
 * on the throttle's clock.
 *
 * <p>Completion: a job's {@link Callback} runs once, after every I/O of every sub-job has
 * completed, with whether the source could not be read and a bit per destination that could not be
 * written ({@code write_err}). After an error, a job starts no new segment unless it was given
 * {@link #IGNORE_ERROR}, in which case every segment is copied (zeros where the read failed).
 * Callbacks run on the client's worker, one at a time in completion order, never on a bio
 * completion thread; they may start new jobs, and must not block, {@link #flush} or {@link #close}.
 *
 * <p>Callers must give, or {@link IllegalArgumentException} is thrown and nothing starts: 1 to
 * {@value #MAX_DESTINATIONS} destinations of the source's (or the first destination's) length,
 * regions aligned to their devices' logical block sizes, a sub-job size that is a multiple of every
 * logical block size involved, and only known flags. {@link #close()} waits for every job, and
 * {@link #copy} and {@link #zero} then throw {@link IllegalStateException}.
 *
 * <p>Threads: work runs on a {@link Workqueue} (one of the client's own unless one is given), one
 * pass at a time as the kernel's single work item, and on bio completions, which only queue the
 * sub-job and wake the worker. Nothing waits on a completion thread. Thread-safe.
 */
public final class Kcopyd implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Kcopyd.class.getName());

  /** Most destinations of one job ({@code DM_KCOPYD_MAX_REGIONS}). */
  public static final int MAX_DESTINATIONS = 8;

  /** Keep going after a read or write error ({@code DM_KCOPYD_IGNORE_ERROR}). */
  public static final int IGNORE_ERROR = 1;

  /** The kernel's default {@code kcopyd_subjob_size_kb}: 512 KiB. */
  public static final int DEFAULT_SUB_JOB_SIZE = 512 * 1024;

  /** Sub-jobs one job runs at once. */
  public static final int SPLIT_COUNT = 8;

  private static final int IDLE = 0;
  private static final int SCHEDULED = 1;
  private static final int RUNNING = 2;
  private static final int RUNNING_AGAIN = 3;

  /** Called once per job: the kernel's {@code dm_kcopyd_notify_fn}. */
  @FunctionalInterface
  public interface Callback {
    /**
     * @param readError the source could not be read (a copy only)
     * @param writeErrors bit {@code i} set if destination {@code i} could not be written
     */
    void done(boolean readError, long writeErrors);
  }

  private final String name;
  private final int subJobSize;
  private final int subJobSectors;
  private final int slots;
  private final BufferPool pool;
  private final Throttle throttle;
  private final Workqueue workqueue;
  private final boolean ownsWorkqueue;

  private final Object lock = new Object();
  // guarded by lock: the kernel's job lists, and what close waits for
  private final ArrayDeque<SubJob> completeSubJobs = new ArrayDeque<>();
  private final ArrayDeque<Job> completeJobs = new ArrayDeque<>();
  private final ArrayDeque<SubJob> pagesJobs = new ArrayDeque<>();
  private final ArrayDeque<SubJob> ioJobs = new ArrayDeque<>();
  private int jobs;
  private boolean closed;

  // confined to the worker
  private int inFlight;
  private long throttledUntil;
  private boolean throttled;
  private ByteBuffer zeros;

  private final AtomicInteger state = new AtomicInteger(IDLE);
  private final Object idle = new Object();
  private volatile Thread worker;

  private Kcopyd(Builder b) {
    this.name = b.name;
    this.subJobSize = b.subJobSize;
    this.subJobSectors = b.subJobSize >>> Bio.SECTOR_SHIFT;
    this.slots = (int) Math.max(1, b.maxBytesInFlight / b.subJobSize);
    if (b.reserve > slots) {
      throw new IllegalArgumentException(
          "kcopyd "
              + name
              + ": reserve of "
              + b.reserve
              + " sub-jobs > the "
              + slots
              + " that maxBytesInFlight "
              + b.maxBytesInFlight
              + " allows");
    }
    this.pool =
        BufferPool.builder("kcopyd-" + name, subJobSize)
            .reserve(b.reserve)
            .maximum(slots)
            .maxIdle(slots) // made once, reused: a fresh direct buffer costs more than its I/O
            .build();
    this.throttle = b.throttle;
    this.ownsWorkqueue = b.workqueue == null;
    this.workqueue = ownsWorkqueue ? Workqueue.create("kcopyd-" + name, 1) : b.workqueue;
  }

  public static Builder builder(String name) {
    return new Builder(name);
  }

  public String name() {
    return name;
  }

  /** Bytes one sub-job moves at most. */
  public int subJobSize() {
    return subJobSize;
  }

  /**
   * Jobs started whose callback has not returned yet (a job is counted out after its callback, on
   * the worker: {@link #flush} after a callback has run makes the count current).
   */
  public int jobs() {
    synchronized (lock) {
      return jobs;
    }
  }

  /** Sub-job buffers taken from the pool now; 0 when idle (nothing leaked). */
  public int buffersInUse() {
    return pool.inUse();
  }

  /** Most sub-job buffers in use at once so far. */
  public int buffersHighWater() {
    return pool.highWater();
  }

  // ---------------------------------------------------------------------------------------------
  // Jobs

  /**
   * Copies {@code from} to every destination ({@code dm_kcopyd_copy}).
   *
   * @param flags 0 or {@link #IGNORE_ERROR}
   * @throws IllegalArgumentException for a malformed job (see the class description)
   * @throws IllegalStateException after {@link #close()}
   */
  public void copy(Region from, List<Region> dests, int flags, Callback callback) {
    Objects.requireNonNull(from, "from");
    start(from, dests, flags, callback);
  }

  /**
   * Writes zeros over every destination ({@code dm_kcopyd_zero}).
   *
   * @param flags 0 or {@link #IGNORE_ERROR}
   * @throws IllegalArgumentException for a malformed job (see the class description)
   * @throws IllegalStateException after {@link #close()}
   */
  public void zero(List<Region> dests, int flags, Callback callback) {
    start(null, dests, flags, callback);
  }

  private void start(Region from, List<Region> dests, int flags, Callback callback) {
    Objects.requireNonNull(callback, "callback");
    Region[] d = checkJob(from, dests, flags);
    Bio.Op op = Bio.Op.READ;
    if (from == null) {
      op = Bio.Op.WRITE_ZEROES;
      for (Region r : d) {
        if (!r.device().limits().supportsWriteZeroes()) {
          op = Bio.Op.WRITE;
          break;
        }
      }
    }
    Job job = new Job(from, d, flags, op, callback);
    synchronized (lock) {
      ensureOpen();
      jobs++;
      if (job.count == 0) {
        completeJobs.add(job); // nothing to move: just the callback, from the worker
      } else {
        job.subJobs = (int) Math.min(SPLIT_COUNT, (job.count - 1) / subJobSectors + 1);
        for (int i = 0; i < job.subJobs; i++) {
          SubJob s = new SubJob(job);
          nextSegment(s);
          pagesJobs.add(s);
        }
      }
    }
    wake();
  }

  private Region[] checkJob(Region from, List<Region> dests, int flags) {
    int n = dests.size();
    if (n < 1 || n > MAX_DESTINATIONS) {
      throw new IllegalArgumentException(
          "kcopyd " + name + ": " + n + " destinations (expected: 1 to " + MAX_DESTINATIONS + ")");
    }
    if ((flags & ~IGNORE_ERROR) != 0) {
      throw new IllegalArgumentException(
          "kcopyd " + name + ": unknown flags 0x" + Integer.toHexString(flags));
    }
    Region[] d = dests.toArray(new Region[0]);
    long count = from != null ? from.count() : d[0].count();
    if (from != null) {
      checkAligned(from, "source");
    }
    for (int i = 0; i < n; i++) {
      Region r = Objects.requireNonNull(d[i], "destination");
      if (r.count() != count) {
        throw new IllegalArgumentException(
            "kcopyd "
                + name
                + ": destination "
                + i
                + " ("
                + r
                + ") has "
                + r.count()
                + " sectors (expected: "
                + (from != null ? "the source's " : "the first destination's ")
                + count
                + ")");
      }
      checkAligned(r, "destination " + i);
    }
    return d;
  }

  private void checkAligned(Region r, String what) {
    int lbs = r.device().limits().logicalBlockSectors();
    if (((r.sector() | r.count()) & (lbs - 1)) != 0 || subJobSectors % lbs != 0) {
      throw new IllegalArgumentException(
          "kcopyd "
              + name
              + ": "
              + what
              + " ("
              + r
              + ") and the sub-job size "
              + subJobSize
              + " must be multiples of the logical block size "
              + (lbs << Bio.SECTOR_SHIFT)
              + " of "
              + r.device().name());
    }
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("kcopyd " + name + " is closed");
    }
  }

  /** Gives {@code s} its job's next segment; {@code false} if none is left. Under lock. */
  private boolean nextSegment(SubJob s) {
    Job job = s.job;
    long left = job.count - job.progress;
    if (left == 0) {
      return false;
    }
    s.offset = job.progress;
    s.count = (int) Math.min(left, subJobSectors);
    s.op = job.firstOp;
    s.readError = false;
    s.writeErrors = 0;
    s.slept = 0;
    job.progress += s.count;
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // The worker: the kernel's do_work, one pass at a time

  private void wake() {
    while (true) {
      int s = state.get();
      if (s == SCHEDULED || s == RUNNING_AGAIN) {
        return;
      }
      if (s == RUNNING) {
        if (state.compareAndSet(RUNNING, RUNNING_AGAIN)) {
          return;
        }
        continue;
      }
      if (state.compareAndSet(IDLE, SCHEDULED)) {
        try {
          workqueue.execute(this::run);
        } catch (IllegalStateException e) {
          // a shared workqueue shut down under us: nothing can run any more
          state.set(IDLE);
          LOG.log(System.Logger.Level.ERROR, "kcopyd " + name + ": " + e.getMessage());
        }
        return;
      }
    }
  }

  private void run() {
    while (true) {
      state.set(RUNNING);
      worker = Thread.currentThread();
      try {
        doWork();
      } catch (RuntimeException e) {
        LOG.log(System.Logger.Level.ERROR, "kcopyd " + name + ": worker failed", e);
      } catch (Error e) {
        // out of memory in a device's inline completion, say: let a later wake run again
        state.set(IDLE);
        synchronized (idle) {
          idle.notifyAll();
        }
        throw e;
      } finally {
        worker = null;
      }
      if (state.compareAndSet(RUNNING, IDLE)) {
        synchronized (idle) {
          idle.notifyAll();
        }
        return;
      }
    }
  }

  /**
   * The kernel's order: finished sub-jobs first (they free buffers and start next segments), then
   * finished jobs, then sub-jobs waiting for a buffer, then I/O.
   */
  private void doWork() {
    for (SubJob s; (s = poll(completeSubJobs)) != null; ) {
      completeSubJob(s);
    }
    for (Job j; (j = poll(completeJobs)) != null; ) {
      completeJob(j);
    }
    for (SubJob s; (s = poll(pagesJobs)) != null; ) {
      if (!takeSlot(s)) {
        pushHead(pagesJobs, s); // woken again when a sub-job finishes
        break;
      }
      push(ioJobs, s);
    }
    for (SubJob s; (s = poll(ioJobs)) != null; ) {
      if (!throttleAllows(s)) {
        pushHead(ioJobs, s); // woken again by the throttle's timer
        break;
      }
      startIo(s);
    }
  }

  private <T> T poll(ArrayDeque<T> list) {
    synchronized (lock) {
      return list.poll();
    }
  }

  private <T> void push(ArrayDeque<T> list, T item) {
    synchronized (lock) {
      list.add(item);
    }
  }

  private <T> void pushHead(ArrayDeque<T> list, T item) {
    synchronized (lock) {
      list.addFirst(item);
    }
  }

  /** A place among the sub-jobs in flight, and a buffer for a copy: the kernel's pages. */
  private boolean takeSlot(SubJob s) {
    if (inFlight >= slots) {
      return false;
    }
    if (s.job.firstOp == Bio.Op.READ) {
      ByteBuffer b = pool.tryAllocate();
      if (b == null) {
        return false;
      }
      s.buffer = b;
    } else if (s.job.firstOp == Bio.Op.WRITE && zeros == null) {
      zeros = ByteBuffer.allocateDirect(subJobSize).asReadOnlyBuffer();
    }
    inFlight++;
    return true;
  }

  private boolean throttleAllows(SubJob s) {
    Throttle t = throttle;
    if (t == null) {
      return true;
    }
    if (throttled && t.clock.nanoTime() - throttledUntil < 0) {
      return false; // still "sleeping"
    }
    throttled = false;
    if (t.start(s.slept)) {
      s.slept = 0;
      return true;
    }
    s.slept++;
    throttled = true;
    throttledUntil = t.clock.nanoTime() + Throttle.SLEEP_NANOS;
    t.clock.schedule(this::wake, Throttle.SLEEP_NANOS);
    return false;
  }

  private void startIo(SubJob s) {
    Job job = s.job;
    try {
      switch (s.op) {
        case READ:
          DmIo.submit(
              Bio.Op.READ,
              0,
              List.of(job.source.slice(s.offset, s.count)),
              s.buffer.clear().limit(s.count << Bio.SECTOR_SHIFT),
              s);
          break;
        case WRITE:
          ByteBuffer data =
              s.buffer != null
                  ? s.buffer.clear().limit(s.count << Bio.SECTOR_SHIFT)
                  : zeros.duplicate().limit(s.count << Bio.SECTOR_SHIFT);
          DmIo.submit(Bio.Op.WRITE, 0, s.destinations(), data, s);
          break;
        case WRITE_ZEROES:
          DmIo.submit(Bio.Op.WRITE_ZEROES, 0, s.destinations(), null, s);
          break;
        default:
          throw new AssertionError(s.op);
      }
    } catch (RuntimeException e) {
      // checked when the job started, so a bug: fail the sub-job rather than lose it
      LOG.log(System.Logger.Level.ERROR, "kcopyd " + name + ": " + s + " could not start", e);
      if (throttle != null) {
        throttle.finish();
      }
      synchronized (lock) {
        if (s.op == Bio.Op.READ) {
          s.readError = true;
        } else {
          s.writeErrors = -1L >>> (64 - job.dests.length);
        }
        completeSubJobs.add(s);
      }
      wake();
    }
  }

  /** A sub-job's I/O finished (any thread): queue its next step for the worker. */
  private void ioDone(SubJob s, long errorBits) {
    if (throttle != null) {
      throttle.finish();
    }
    synchronized (lock) {
      if (errorBits != 0) {
        if (s.op == Bio.Op.READ) {
          s.readError = true;
        } else {
          s.writeErrors |= errorBits;
        }
      }
      if (s.op == Bio.Op.READ && (errorBits == 0 || (s.job.flags & IGNORE_ERROR) != 0)) {
        s.op = Bio.Op.WRITE;
        ioJobs.add(s);
      } else {
        completeSubJobs.add(s);
      }
    }
    wake();
  }

  /** Frees the sub-job's buffer and place and moves its job on: {@code segment_complete}. */
  private void completeSubJob(SubJob s) {
    if (s.buffer != null) {
      pool.release(s.buffer);
      s.buffer = null;
    }
    inFlight--;
    Job job = s.job;
    synchronized (lock) {
      job.readError |= s.readError;
      job.writeErrors |= s.writeErrors;
      boolean go = (!job.readError && job.writeErrors == 0) || (job.flags & IGNORE_ERROR) != 0;
      if (go && nextSegment(s)) {
        pagesJobs.add(s);
      } else if (--job.subJobs == 0) {
        completeJobs.add(job);
      }
    }
  }

  private void completeJob(Job job) {
    boolean readError;
    long writeErrors;
    synchronized (lock) {
      readError = job.readError;
      writeErrors = job.writeErrors;
    }
    try {
      job.callback.done(readError, writeErrors);
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.ERROR, "kcopyd " + name + ": callback of " + job + " failed", e);
    }
    synchronized (lock) {
      if (--jobs == 0) {
        lock.notifyAll();
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Flush and close

  /**
   * Waits until the worker has nothing left to do now ({@code dm_kcopyd_client_flush}): every
   * completion queued so far has been handled and every sub-job that could start has started. Jobs
   * may still be in flight on their devices, or waiting for a throttle's timer.
   *
   * @throws IllegalStateException if called from a kcopyd callback
   */
  public void flush() {
    if (Thread.currentThread() == worker) {
      throw new IllegalStateException("kcopyd " + name + ": flush from its own worker");
    }
    boolean interrupted = false;
    synchronized (idle) {
      while (state.get() != IDLE) {
        try {
          idle.wait();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Refuses new jobs, waits for every job started to be called back ({@code
   * dm_kcopyd_client_destroy}), and stops the client's own worker. Waits uninterruptibly, as the
   * devices own the buffers until then; an interrupt is kept. Idempotent.
   *
   * @throws IllegalStateException if called from a kcopyd callback, which would wait for itself
   */
  @Override
  public void close() {
    if (Thread.currentThread() == worker) {
      throw new IllegalStateException(
          "kcopyd " + name + ": close from its own callback would wait for itself");
    }
    boolean interrupted = false;
    synchronized (lock) {
      closed = true;
      while (jobs > 0) {
        try {
          lock.wait();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    }
    flush();
    if (ownsWorkqueue) {
      workqueue.shutdown();
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public String toString() {
    return "Kcopyd[" + name + ", sub-jobs of " + subJobSize + " bytes, " + slots + " in flight]";
  }

  // ---------------------------------------------------------------------------------------------
  // Jobs and sub-jobs

  /** One copy or zeroing: the kernel's master {@code kcopyd_job}. */
  private static final class Job {
    final Region source;
    final Region[] dests;
    final int flags;
    final Bio.Op firstOp; // READ for a copy, WRITE or WRITE_ZEROES for zeroing
    final Callback callback;
    final long count;
    // guarded by the client's lock
    long progress;
    int subJobs;
    boolean readError;
    long writeErrors;

    Job(Region source, Region[] dests, int flags, Bio.Op firstOp, Callback callback) {
      this.source = source;
      this.dests = dests;
      this.flags = flags;
      this.firstOp = firstOp;
      this.callback = callback;
      this.count = dests[0].count();
    }

    @Override
    public String toString() {
      return (source == null ? "zero" : "copy " + source) + " to " + Arrays.toString(dests);
    }
  }

  /** One segment at a time of a job: the kernel's sub-job. */
  private final class SubJob implements DmIo.Callback {
    final Job job;
    // handed between the worker and completions under the client's lock
    long offset;
    int count;
    Bio.Op op;
    ByteBuffer buffer;
    boolean readError;
    long writeErrors;
    int slept;

    SubJob(Job job) {
      this.job = job;
    }

    List<Region> destinations() {
      List<Region> l = new ArrayList<>(job.dests.length);
      for (Region r : job.dests) {
        l.add(r.slice(offset, count));
      }
      return l;
    }

    @Override
    public void done(long errorBits) {
      ioDone(this, errorBits);
    }

    @Override
    public String toString() {
      return op + " of " + count + " sectors at +" + offset + " of " + job;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Options

  /** Options of a {@link Kcopyd}. Not thread-safe. */
  public static final class Builder {
    private final String name;
    private int subJobSize = DEFAULT_SUB_JOB_SIZE;
    private int reserve = 1;
    private long maxBytesInFlight = -1;
    private Throttle throttle;
    private Workqueue workqueue;

    private Builder(String name) {
      this.name = Objects.requireNonNull(name, "name");
    }

    /**
     * Bytes one sub-job moves at most; a multiple of 512 up to 16 MiB, default {@value
     * #DEFAULT_SUB_JOB_SIZE} (the kernel's {@code kcopyd_subjob_size_kb}).
     */
    public Builder subJobSize(int bytes) {
      if (bytes < Bio.SECTOR_SIZE || bytes > (16 << 20) || (bytes & (Bio.SECTOR_SIZE - 1)) != 0) {
        throw new IllegalArgumentException(
            "sub-job size " + bytes + " (expected: a multiple of 512 in [512, 16 MiB])");
      }
      this.subJobSize = bytes;
      return this;
    }

    /** Sub-job buffers made up front; default 1, as the kernel reserves one sub-job's pages. */
    public Builder reserve(int subJobs) {
      if (subJobs < 0) {
        throw new IllegalArgumentException("reserve " + subJobs + " < 0");
      }
      this.reserve = subJobs;
      return this;
    }

    /**
     * Bytes of all sub-jobs in flight at once, rounded down to whole sub-jobs (at least one);
     * default {@code 2 * SPLIT_COUNT} sub-jobs, two jobs' worth.
     */
    public Builder maxBytesInFlight(long bytes) {
      if (bytes < 1) {
        throw new IllegalArgumentException("maxBytesInFlight " + bytes + " < 1");
      }
      this.maxBytesInFlight = bytes;
      return this;
    }

    /** A throttle, possibly shared with other clients; default none. */
    public Builder throttle(Throttle throttle) {
      this.throttle = throttle;
      return this;
    }

    /**
     * Runs the work on {@code workqueue} (a target's, from its context) instead of a worker of the
     * client's own; the workqueue is not shut down by {@link #close()}.
     */
    public Builder workqueue(Workqueue workqueue) {
      this.workqueue = workqueue;
      return this;
    }

    public Kcopyd build() {
      if (maxBytesInFlight < 0) {
        maxBytesInFlight = 2L * SPLIT_COUNT * subJobSize;
      }
      if (maxBytesInFlight < subJobSize) {
        throw new IllegalArgumentException(
            "maxBytesInFlight "
                + maxBytesInFlight
                + " < the sub-job size "
                + subJobSize
                + " (expected: room for one sub-job at least)");
      }
      return new Kcopyd(this);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Throttle

  /**
   * Limits the share of time kcopyd clients spend doing I/O: the kernel's {@code struct
   * dm_kcopyd_throttle} and its accounting ({@code io_job_start}, {@code io_job_finish}). At 100
   * (the default) there is no limit; below, a sub-job about to start I/O while the time spent in
   * I/O exceeds that percentage of the time measured (which decays by halves after about a second)
   * waits 100 ms on the {@link Clock}, at most ten times in a row, before it starts regardless.
   * Unlike the kernel, no thread sleeps: the client's worker goes on with completions, and a timer
   * wakes it.
   *
   * <p>Thread-safe; share one throttle between the clients it should limit together.
   */
  public static final class Throttle {
    static final long SLEEP_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    static final int MAX_SLEEPS = 10;
    private static final int ACCOUNT_INTERVAL_SHIFT = 10; // in milliseconds: about a second

    final Clock clock;
    private volatile int percent;
    // guarded by this, in milliseconds
    private int ioJobs;
    private long ioPeriod;
    private long totalPeriod;
    private long last;

    public Throttle(Clock clock, int percent) {
      this.clock = Objects.requireNonNull(clock, "clock");
      set(percent);
      this.last = millis();
    }

    /** Sets the share of time allowed for I/O, 0 to 100 (the kernel's module parameter). */
    public void set(int percent) {
      if (percent < 0 || percent > 100) {
        throw new IllegalArgumentException("throttle " + percent + " (expected: 0 to 100)");
      }
      this.percent = percent;
    }

    public int percent() {
      return percent;
    }

    private long millis() {
      return TimeUnit.NANOSECONDS.toMillis(clock.nanoTime());
    }

    /** {@code io_job_start}: {@code true} to go ahead, {@code false} to wait and ask again. */
    synchronized boolean start(int slept) {
      int throttle = percent;
      if (throttle >= 100) {
        ioJobs++;
        return true;
      }
      long now = millis();
      long difference = now - last;
      last = now;
      if (ioJobs > 0) {
        ioPeriod += difference;
      }
      totalPeriod += difference;
      if (ioPeriod > totalPeriod) {
        ioPeriod = totalPeriod;
      }
      if (totalPeriod >= 1L << ACCOUNT_INTERVAL_SHIFT) {
        int shift = 64 - Long.numberOfLeadingZeros(totalPeriod >> ACCOUNT_INTERVAL_SHIFT);
        totalPeriod >>= shift;
        ioPeriod >>= shift;
      }
      long skew = ioPeriod - throttle * totalPeriod / 100;
      if (skew > 0 && slept < MAX_SLEEPS) {
        return false;
      }
      ioJobs++;
      return true;
    }

    /** {@code io_job_finish}. */
    synchronized void finish() {
      ioJobs--;
      if (percent >= 100 || ioJobs > 0) {
        return;
      }
      long now = millis();
      long difference = now - last;
      last = now;
      ioPeriod += difference;
      totalPeriod += difference;
      if (ioPeriod > totalPeriod) {
        ioPeriod = totalPeriod;
      }
    }
  }
}
