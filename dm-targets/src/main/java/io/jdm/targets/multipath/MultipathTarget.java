package io.jdm.targets.multipath;

import io.jdm.core.ArgSet;
import io.jdm.core.Bio;
import io.jdm.core.BioHoldList;
import io.jdm.core.BlockStatus;
import io.jdm.core.Clock;
import io.jdm.core.DeviceArea;
import io.jdm.core.DeviceNumber;
import io.jdm.core.DmDev;
import io.jdm.core.EndIoResult;
import io.jdm.core.EndIoTarget;
import io.jdm.core.Errno;
import io.jdm.core.MapResult;
import io.jdm.core.StatusType;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.Workqueue;
import io.jdm.core.pathselector.DmPath;
import io.jdm.core.pathselector.PathSelector;
import io.jdm.core.pathselector.PathSelectorRegistry;
import io.jdm.core.pathselector.PathSelectorType;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One {@code multipath} line ({@code drivers/md/dm-mpath.c}, bio-based): paths to the same storage
 * in priority groups, each group with a {@link PathSelector}.
 *
 * <p>Choice of path, per bio, as the kernel's {@code choose_pgpath}: a group asked for with {@code
 * switch_group} (or the initial group), else the current group while its selector finds a valid
 * path, else the first group not bypassed ({@code disable_group}) with a valid path, else the
 * bypassed ones; the group's selector picks the path.
 *
 * <p>Failure: a bio that fails on a path with an error that may be the path's ({@code
 * blk_path_error}: anything but {@code NOTSUPP}, {@code NOSPC}, {@code TARGET}, {@code
 * RESV_CONFLICT}, {@code MEDIUM}, {@code PROTECTION}) fails the path (fail count up, a table event)
 * and is sent again down another path, from the {@code kmpathd} worker. With no valid path left, a
 * bio is held while {@code queue_if_no_path} is set (waiting, not retried: a reinstated path,
 * {@code fail_if_no_path} or a suspend lets it go), pushed back to the core under a {@code noflush}
 * suspend, and fails with {@link BlockStatus#IOERR} otherwise. A suspend clears {@code
 * queue_if_no_path} until resume (any suspend in {@code queue_mode bio}, a flushing one otherwise),
 * so that it can finish; held bios then go back to the core (noflush) or fail.
 *
 * <p>Messages, refused with {@link Errno#EBUSY} while the device is suspended: {@code
 * queue_if_no_path}, {@code fail_if_no_path}, {@code fail_path <dev>}, {@code reinstate_path <dev>}
 * (every path on that device, in all groups), {@code switch_group <n>} (also clears every group's
 * bypass), {@code disable_group <n>}, {@code enable_group <n>}. A device is named by {@code
 * major:minor} or by the name the table gave it (the kernel resolves any path to its {@code
 * dev_t}). Where the kernel answers a message with a bare {@code -EINVAL} and a log line, jdm puts
 * the log line's text in the exception; for a device that is no path of this target it says so.
 *
 * <p>jdm extension, off unless the type was made with {@link MultipathTargetType#withPathChecker}:
 * a path checker that probes failed paths on the device mapper's clock and reinstates those that
 * answer (the kernel leaves this to {@code multipathd}).
 *
 * <p>Thread model: {@link #map} and {@link #endIo} take no lock on their usual path (failing a path
 * does): the current group and path are volatile, the valid path count atomic, and the selectors
 * choose without locks. Failing and reinstating paths, switching groups, status and messages take
 * the target's lock (the kernel's {@code m->lock}).
 */
final class MultipathTarget implements EndIoTarget {

  /** {@code DM_PG_INIT_DELAY_DEFAULT}: no delay given. */
  static final int PG_INIT_DELAY_DEFAULT = -1;

  // The kernel's dm_arg tables, with their texts.
  private static final ArgSet.Spec FEATURE_ARGS =
      new ArgSet.Spec(0, 8, "invalid number of feature args");
  private static final ArgSet.Spec PG_INIT_RETRIES =
      new ArgSet.Spec(1, 50, "pg_init_retries must be between 1 and 50");
  private static final ArgSet.Spec PG_INIT_DELAY_MSECS =
      new ArgSet.Spec(0, 60000, "pg_init_delay_msecs must be between 0 and 60000");
  private static final ArgSet.Spec HW_HANDLER_ARGS =
      new ArgSet.Spec(0, 1024, "invalid number of hardware handler args");
  private static final ArgSet.Spec PRIORITY_GROUPS =
      new ArgSet.Spec(0, 1024, "invalid number of priority groups");
  private static final ArgSet.Spec INITIAL_GROUP =
      new ArgSet.Spec(0, 1024, "invalid initial priority group number");
  private static final ArgSet.Spec SELECTOR_ARGS =
      new ArgSet.Spec(0, 1024, "invalid number of path selector args");
  private static final ArgSet.Spec PATHS = new ArgSet.Spec(1, 1024, "invalid number of paths");
  private static final ArgSet.Spec PATH_SELECTOR_ARGS =
      new ArgSet.Spec(0, 1024, "invalid number of selector args");

  /** The bio's target context while the bio waits in {@link #queued} rather than on a path. */
  private static final Object QUEUED = new Object();

  enum QueueMode {
    BIO,
    REQUEST
  }

  /** A priority group ({@code struct priority_group}). */
  static final class PriorityGroup {
    final int pgNum;
    final PathSelectorType type;
    final PathSelector ps;
    final List<PgPath> paths = new ArrayList<>();
    volatile boolean bypassed;

    PriorityGroup(int pgNum, PathSelectorType type, PathSelector ps) {
      this.pgNum = pgNum;
      this.type = type;
      this.ps = ps;
    }
  }

  /** A path in a group ({@code struct pgpath}, which embeds the selector's {@code dm_path}). */
  static final class PgPath extends DmPath {
    final PriorityGroup pg;
    volatile boolean active = true;
    int failCount; // guarded by the target's lock

    PgPath(DmDev dev, PriorityGroup pg) {
      super(dev);
      this.pg = pg;
    }
  }

  private final TargetContext ctx;
  private final Logger log;
  private final Clock clock;
  private final long begin;
  private final long length;
  private final PriorityGroup[] groups;
  private final QueueMode queueMode;
  private final boolean retainAttachedHwHandler;
  private final int pgInitRetries;
  private final int pgInitDelayMsecs;
  private final BioHoldList queued;
  private final Workqueue kmpathd;
  private final Runnable processQueuedBios = this::processQueuedBios;
  private final long checkerNanos; // 0: no path checker
  private final Runnable checkPaths = this::checkPaths;
  private boolean checkerStarted; // guarded by lock

  private final Object lock = new Object(); // m->lock
  private final Object workMutex = new Object(); // m->work_mutex: messages against suspend
  private final AtomicInteger nrValidPaths = new AtomicInteger();
  private volatile PgPath currentPgpath;
  private volatile PriorityGroup currentPg;
  private volatile PriorityGroup nextPg;
  private volatile boolean queueIo = true; // MPATHF_QUEUE_IO: until the first group is chosen
  private volatile boolean queueIfNoPath;
  private boolean savedQueueIfNoPath; // guarded by lock
  private volatile boolean pgInitDelayRetry; // set as the kernel does; unused without a handler
  private volatile boolean suspended;

  private MultipathTarget(
      TargetContext ctx,
      long begin,
      long length,
      Features f,
      List<PriorityGroup> groups,
      PriorityGroup nextPg,
      long checkerNanos) {
    this.ctx = ctx;
    this.checkerNanos = checkerNanos;
    this.log = ctx.logger();
    this.clock = ctx.clock();
    this.begin = begin;
    this.length = length;
    this.groups = groups.toArray(new PriorityGroup[0]);
    this.queueMode = f.queueMode;
    this.retainAttachedHwHandler = f.retain;
    this.pgInitRetries = f.pgInitRetries;
    this.pgInitDelayMsecs = f.pgInitDelayMsecs;
    this.queueIfNoPath = f.queueIfNoPath;
    this.nextPg = nextPg;
    int valid = 0;
    for (PriorityGroup pg : groups) {
      valid += pg.paths.size();
    }
    nrValidPaths.set(valid);
    this.queued = ctx.holdList(BlockStatus.IOERR);
    this.kmpathd = ctx.workqueue("kmpathd", 1);
  }

  // ---------------------------------------------------------------------------------------------
  // Constructor arguments

  /** Parsed features ({@code parse_features}). */
  private static final class Features {
    boolean queueIfNoPath;
    boolean retain;
    int pgInitRetries;
    int pgInitDelayMsecs = PG_INIT_DELAY_DEFAULT;
    QueueMode queueMode; // null: not given, request-based as in the kernel
  }

  static MultipathTarget create(
      TargetContext ctx,
      PathSelectorRegistry selectors,
      long checkerNanos,
      long begin,
      long length,
      String[] args) {
    ArgSet as = new ArgSet(args);
    Features f = parseFeatures(as);
    if (f.queueMode == null) {
      f.queueMode = QueueMode.REQUEST;
    } else if (f.queueMode == QueueMode.BIO) {
      f.retain = true; // bio-based only discovers an attached handler
    }
    parseHwHandler(as, f, ctx.logger());
    int nrPriorityGroups = as.readArg(PRIORITY_GROUPS);
    int nextPgNum = as.readArg(INITIAL_GROUP);
    if ((nrPriorityGroups == 0 && nextPgNum != 0) || (nrPriorityGroups != 0 && nextPgNum == 0)) {
      throw new TargetException("invalid initial priority group");
    }
    List<PriorityGroup> groups = new ArrayList<>();
    PriorityGroup next = null;
    try {
      while (as.hasNext()) {
        PriorityGroup pg = parsePriorityGroup(as, ctx, selectors, groups.size() + 1, groups);
        groups.add(pg);
        if (--nextPgNum == 0) {
          next = pg; // an initial group beyond the last is accepted and ignored, as the kernel's
        }
      }
      if (groups.size() != nrPriorityGroups) {
        throw new TargetException("priority group count mismatch");
      }
      return new MultipathTarget(ctx, begin, length, f, groups, next, checkerNanos);
    } catch (RuntimeException e) {
      for (PriorityGroup pg : groups) {
        pg.ps.close();
      }
      throw e;
    }
  }

  private static Features parseFeatures(ArgSet as) {
    Features f = new Features();
    int argc = as.readArgGroup(FEATURE_ARGS);
    while (argc > 0) {
      String name = as.next();
      argc--;
      if (ArgSet.equalsIgnoreCase(name, "queue_if_no_path")) {
        f.queueIfNoPath = true;
      } else if (ArgSet.equalsIgnoreCase(name, "retain_attached_hw_handler")) {
        f.retain = true;
      } else if (ArgSet.equalsIgnoreCase(name, "pg_init_retries") && argc >= 1) {
        f.pgInitRetries = as.readArg(PG_INIT_RETRIES);
        argc--;
      } else if (ArgSet.equalsIgnoreCase(name, "pg_init_delay_msecs") && argc >= 1) {
        f.pgInitDelayMsecs = as.readArg(PG_INIT_DELAY_MSECS);
        argc--;
      } else if (ArgSet.equalsIgnoreCase(name, "queue_mode") && argc >= 1) {
        String mode = as.next();
        if (ArgSet.equalsIgnoreCase(mode, "bio")) {
          f.queueMode = QueueMode.BIO;
        } else if (ArgSet.equalsIgnoreCase(mode, "rq") || ArgSet.equalsIgnoreCase(mode, "mq")) {
          f.queueMode = QueueMode.REQUEST;
        } else {
          throw new TargetException("Unknown 'queue_mode' requested");
        }
        argc--;
      } else {
        throw new TargetException("Unrecognised multipath feature request");
      }
    }
    return f;
  }

  private static void parseHwHandler(ArgSet as, Features f, Logger log) {
    int hwArgc = as.readArgGroup(HW_HANDLER_ARGS);
    if (hwArgc == 0) {
      return;
    }
    if (f.queueMode == QueueMode.BIO) {
      as.consume(hwArgc);
      log.log(Level.ERROR, "bio-based multipath doesn't allow hardware handler args");
      return;
    }
    throw new TargetException(
        "error attaching hardware handler: jdm has no SCSI device handler \""
            + as.next()
            + "\" (use 0 hardware handler arguments)");
  }

  private static PriorityGroup parsePriorityGroup(
      ArgSet as,
      TargetContext ctx,
      PathSelectorRegistry selectors,
      int pgNum,
      List<PriorityGroup> made) {
    if (as.remaining() < 2) {
      throw new TargetException("not enough priority group arguments");
    }
    PathSelectorType type = selectors.get(as.next());
    if (type == null) {
      throw new TargetException("unknown path selector type");
    }
    int psArgc = as.readArgGroup(SELECTOR_ARGS);
    String[] psArgs = new String[psArgc];
    for (int i = 0; i < psArgc; i++) {
      psArgs[i] = as.next();
    }
    PathSelector ps;
    try {
      ps = type.create(ctx, psArgs);
    } catch (TargetException e) {
      throw new TargetException("path selector constructor failed", e);
    }
    PriorityGroup pg = new PriorityGroup(pgNum, type, ps);
    made.add(pg); // closed with the others if the rest of the line is bad
    int nrPgpaths = as.readArg(PATHS);
    int nrSelectorArgs = as.readArg(PATH_SELECTOR_ARGS);
    int nrArgs = 1 + nrSelectorArgs;
    for (int i = 0; i < nrPgpaths; i++) {
      if (as.remaining() < nrArgs) {
        throw new TargetException("not enough path parameters");
      }
      DmDev dev = ctx.getDevice(as.next(), "error getting device");
      String[] pathArgs = new String[nrSelectorArgs];
      for (int j = 0; j < nrSelectorArgs; j++) {
        pathArgs[j] = as.next();
      }
      PgPath p = new PgPath(dev, pg);
      ps.addPath(p, pathArgs);
      pg.paths.add(p);
    }
    made.remove(made.size() - 1);
    return pg;
  }

  // ---------------------------------------------------------------------------------------------
  // Path selection

  /** {@code __switch_pg}, with the lock held; without a hardware handler nothing to initialise. */
  private void switchPg(PriorityGroup pg) {
    currentPg = pg;
    queueIo = false;
  }

  /** {@code choose_path_in_pg}. */
  private PgPath choosePathInPg(PriorityGroup pg, long nrBytes) {
    DmPath path = pg.ps.selectPath(nrBytes);
    if (path == null) {
      return null;
    }
    PgPath pgpath = (PgPath) path;
    if (currentPg != pg) {
      synchronized (lock) {
        currentPgpath = pgpath; // only when the group changes
        switchPg(pg);
      }
    }
    return pgpath;
  }

  /** {@code choose_pgpath}. */
  private PgPath choosePgpath(long nrBytes) {
    if (nrValidPaths.get() == 0) {
      queueIo = false;
      return noPath();
    }
    PriorityGroup pg = nextPg;
    if (pg != null) {
      synchronized (lock) {
        pg = nextPg;
        nextPg = null;
      }
      if (pg != null) {
        PgPath p = choosePathInPg(pg, nrBytes);
        if (p != null) {
          return p;
        }
      }
    }
    // Keep to the current group while it has a path.
    pg = currentPg;
    if (pg != null) {
      PgPath p = choosePathInPg(pg, nrBytes);
      if (p != null) {
        return p;
      }
    }
    // Groups not bypassed first, then the bypassed ones.
    for (int bypassed = 1; bypassed >= 0; bypassed--) {
      for (PriorityGroup g : groups) {
        if (g.bypassed == (bypassed != 0)) {
          continue;
        }
        PgPath p = choosePathInPg(g, nrBytes);
        if (p != null) {
          if (bypassed == 0) {
            pgInitDelayRetry = true;
          }
          return p;
        }
      }
    }
    return noPath();
  }

  private PgPath noPath() {
    synchronized (lock) {
      currentPgpath = null;
      currentPg = null;
    }
    return null;
  }

  // ---------------------------------------------------------------------------------------------
  // I/O

  @Override
  public MapResult map(Bio bio) {
    return mapBio(bio);
  }

  /** {@code __multipath_map_bio}: {@link MapResult#SUBMITTED} means the bio is queued. */
  private MapResult mapBio(Bio bio) {
    long nrBytes = bio.bytes();
    PgPath pgpath = currentPgpath;
    if (pgpath == null || !queueIo) {
      pgpath = choosePgpath(nrBytes);
    }
    if (pgpath == null) {
      if (queueIfNoPath) {
        queueBio(bio);
        return MapResult.SUBMITTED;
      }
      if (ctx.noflushSuspending()) {
        return MapResult.REQUEUE;
      }
      bio.setStatus(BlockStatus.IOERR);
      return MapResult.KILL;
    }
    PriorityGroup pg = pgpath.pg;
    bio.setTargetContext(pgpath);
    bio.setTargetLong(pg.type.usesStartTime() ? clock.nanoTime() : 0);
    bio.setStatus(BlockStatus.OK);
    bio.setDevice(pgpath.dev().bdev());
    pg.ps.startIo(pgpath, nrBytes);
    return MapResult.REMAPPED;
  }

  /**
   * Keeps a bio for {@code kmpathd} ({@code __multipath_queue_bio}). Work is queued only when a
   * retry can succeed (a valid path, or no more queueing), so a bio waiting for a path waits
   * instead of being mapped over and over (the kernel's bio mode requeues its work each time).
   * Checked after the bio is held, so that a path reinstated meanwhile, which queues its work after
   * counting itself, cannot miss it.
   */
  private void queueBio(Bio bio) {
    bio.setTargetContext(QUEUED);
    if (!queued.hold(bio)) {
      return;
    }
    if (nrValidPaths.get() > 0 || !queueIfNoPath) {
      kick();
    } else {
      // What the kernel's kmpathd pass over the bio would leave: no current group or path.
      queueIo = false;
      noPath();
    }
  }

  /** {@code process_queued_io_list}. */
  private void kick() {
    try {
      kmpathd.execute(processQueuedBios);
    } catch (IllegalStateException e) {
      // the table is being destroyed: the core fails what is still held
    }
  }

  /** {@code process_queued_bios}, on {@code kmpathd}. */
  private void processQueuedBios() {
    queued.release(this::reissue);
  }

  /** Maps a bio this target kept again and sends it on, as {@code process_queued_bios} does. */
  private void reissue(Bio bio) {
    bio.setStatus(BlockStatus.OK);
    switch (mapBio(bio)) {
      case KILL:
        bio.complete(BlockStatus.IOERR);
        break;
      case REQUEUE:
        bio.complete(BlockStatus.DM_REQUEUE);
        break;
      case REMAPPED:
        bio.submit();
        break;
      case SUBMITTED:
        break;
    }
  }

  /**
   * A bio that failed on a path while another is valid goes down another path from {@code kmpathd}.
   * Not through the hold list: a suspend waits for it like any bio in flight, as the kernel's
   * suspend waits for its queued retries, instead of failing or pushing it back.
   */
  private void retry(Bio bio) {
    bio.setTargetContext(QUEUED);
    try {
      kmpathd.execute(() -> reissue(bio));
    } catch (IllegalStateException e) {
      bio.complete(BlockStatus.IOERR); // the table is being destroyed
    }
  }

  /** {@code blk_path_error}: whether an error may be the path's rather than the storage's. */
  static boolean isPathError(BlockStatus s) {
    switch (s) {
      case NOTSUPP:
      case NOSPC:
      case TARGET:
      case RESV_CONFLICT:
      case MEDIUM:
      case PROTECTION:
        return false;
      default:
        return true;
    }
  }

  /** {@code multipath_end_io_bio}. */
  @Override
  public EndIoResult endIo(Bio bio, BlockStatus status) {
    Object c = bio.targetContext();
    if (!(c instanceof PgPath)) {
      return EndIoResult.DONE; // let go of from the queue, with the status it was given
    }
    PgPath pgpath = (PgPath) c;
    EndIoResult r = EndIoResult.DONE;
    boolean retry = false;
    if (status.isError() && isPathError(status)) {
      failPath(pgpath);
      if (nrValidPaths.get() == 0 && !queueIfNoPath) {
        if (ctx.noflushSuspending()) {
          r = EndIoResult.REQUEUE;
        } else {
          bio.setStatus(BlockStatus.IOERR);
        }
      } else {
        retry = true;
        r = EndIoResult.INCOMPLETE;
      }
    }
    pgpath.pg.ps.endIo(pgpath, bio.bytes(), bio.targetLong());
    if (retry) {
      if (nrValidPaths.get() > 0) {
        retry(bio);
      } else {
        queueBio(bio); // queue_if_no_path: wait for a path
      }
    }
    return r;
  }

  // ---------------------------------------------------------------------------------------------
  // Paths and groups

  /** {@code fail_path}. */
  void failPath(PgPath pgpath) {
    synchronized (lock) {
      if (!pgpath.active) {
        return;
      }
      log.log(Level.WARNING, ctx.deviceName() + ": Failing path " + pgpath.dev().name() + ".");
      pgpath.pg.ps.failPath(pgpath);
      pgpath.active = false;
      pgpath.failCount++;
      nrValidPaths.decrementAndGet();
      if (pgpath == currentPgpath) {
        currentPgpath = null;
      }
    }
    ctx.triggerEvent();
  }

  /** {@code reinstate_path}. */
  void reinstatePath(PgPath pgpath) {
    boolean runQueue = false;
    synchronized (lock) {
      if (pgpath.active) {
        return;
      }
      log.log(Level.WARNING, ctx.deviceName() + ": Reinstating path " + pgpath.dev().name() + ".");
      pgpath.pg.ps.reinstatePath(pgpath);
      pgpath.active = true;
      if (nrValidPaths.incrementAndGet() == 1) {
        currentPgpath = null;
        runQueue = true;
      }
    }
    ctx.triggerEvent();
    if (runQueue) {
      kick();
    }
  }

  /** {@code queue_if_no_path}; {@code process} maps what is queued again when queueing stops. */
  private void queueIfNoPath(boolean queue, boolean saveOld, boolean process) {
    synchronized (lock) {
      if (saveOld) {
        if (!queueIfNoPath && savedQueueIfNoPath) {
          log.log(
              Level.ERROR,
              ctx.deviceName()
                  + ": QIFNP disabled but saved as enabled, saving again loses state, not saving!");
        } else {
          savedQueueIfNoPath = queueIfNoPath;
        }
      } else if (!queue && savedQueueIfNoPath) {
        savedQueueIfNoPath = false; // fail_if_no_path is honoured across the suspend
      }
      queueIfNoPath = queue;
    }
    if (!queue && process) {
      kick();
    }
  }

  /** {@code bypass_pg}. */
  private void bypassPg(PriorityGroup pg, boolean bypassed) {
    synchronized (lock) {
      pg.bypassed = bypassed;
      currentPgpath = null;
      currentPg = null;
    }
    ctx.triggerEvent();
  }

  /** The group numbered by a message argument ({@code sscanf("%u%c")}), or -1. */
  private int pgNum(String s) {
    long n = SelectorArgs.uint(s);
    return n <= 0 || groups.length == 0 || n > groups.length ? -1 : (int) n;
  }

  /** {@code switch_pg_num}. */
  private void switchPgNum(String arg) {
    int n = pgNum(arg);
    if (n < 0) {
      throw new TargetException("invalid PG number supplied to switch_pg_num");
    }
    synchronized (lock) {
      for (PriorityGroup pg : groups) {
        pg.bypassed = false;
      }
      currentPgpath = null;
      currentPg = null;
      nextPg = groups[n - 1];
    }
    ctx.triggerEvent();
  }

  /** {@code bypass_pg_num}. */
  private void bypassPgNum(String arg, boolean bypassed) {
    int n = pgNum(arg);
    if (n < 0) {
      throw new TargetException("invalid PG number supplied to bypass_pg");
    }
    bypassPg(groups[n - 1], bypassed);
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  /**
   * {@code multipath_presuspend}: a suspend that must finish cannot wait for a path, so {@code
   * queue_if_no_path} is off (saved) until resume; in bio mode for every suspend, as in the kernel.
   * The bios held for want of a path are not mapped again here, as the kernel's worker would: the
   * core lets go of them as soon as it holds new I/O, which ends the same way (pushed back under
   * {@code noflush}, failed otherwise), whereas a push-back before new I/O is held would be
   * reissued at once and map to a push-back again.
   */
  @Override
  public void presuspend() {
    if (queueMode == QueueMode.BIO || !ctx.noflushSuspending()) {
      queueIfNoPath(false, true, false);
    }
  }

  /** {@code multipath_postsuspend}: the queued work has run. */
  @Override
  public void postsuspend() {
    synchronized (workMutex) {
      kmpathd.flush();
      suspended = true;
    }
  }

  /** {@code multipath_resume}: {@code queue_if_no_path} as it was before the suspend. */
  @Override
  public void resume() {
    boolean startChecker = false;
    synchronized (lock) {
      if (savedQueueIfNoPath) {
        queueIfNoPath = true;
        savedQueueIfNoPath = false;
      }
      if (checkerNanos > 0 && !checkerStarted) {
        checkerStarted = startChecker = true;
      }
    }
    suspended = false;
    if (startChecker) {
      scheduleCheck();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Path checker (a jdm extension: the kernel leaves this to multipathd)

  private void scheduleCheck() {
    try {
      kmpathd.schedule(checkPaths, checkerNanos);
    } catch (IllegalStateException e) {
      // the table is being destroyed
    }
  }

  /**
   * One round of the path checker: every failed path gets a read of its first logical block, and a
   * path that answers is reinstated, with the same effect as the {@code reinstate_path} message.
   * Nothing is done while the device is suspended (the message would be refused then).
   */
  private void checkPaths() {
    try {
      if (!suspended) {
        for (PriorityGroup pg : groups) {
          for (PgPath p : pg.paths) {
            if (!p.active) {
              probe(p);
            }
          }
        }
      }
    } finally {
      scheduleCheck();
    }
  }

  private void probe(PgPath p) {
    int lbs = p.dev().bdev().limits().logicalBlockSize();
    Bio probe =
        Bio.read(
            0,
            java.nio.ByteBuffer.allocate(lbs),
            b -> {
              if (b.status() == BlockStatus.OK && !suspended) {
                log.log(
                    Level.INFO,
                    ctx.deviceName() + ": path checker: " + p.dev().name() + " answers");
                reinstatePath(p);
              }
            });
    try {
      p.dev().bdev().submit(probe);
    } catch (RuntimeException e) {
      log.log(Level.DEBUG, ctx.deviceName() + ": path checker: " + p.dev().name() + ": " + e);
    }
  }

  @Override
  public void close() {
    for (PriorityGroup pg : groups) {
      pg.ps.close();
    }
  }

  @Override
  public List<DeviceArea> devices() {
    List<DeviceArea> l = new ArrayList<>();
    for (PriorityGroup pg : groups) {
      for (PgPath p : pg.paths) {
        l.add(new DeviceArea(p.dev(), begin, length));
      }
    }
    return l;
  }

  @Override
  public int numFlushBios() {
    return 1;
  }

  @Override
  public int numDiscardBios() {
    return 1;
  }

  @Override
  public int numWriteZeroesBios() {
    return 1;
  }

  // ---------------------------------------------------------------------------------------------
  // Messages

  @Override
  public String message(String... argv) {
    synchronized (workMutex) {
      if (suspended) {
        throw new TargetException(
            Errno.EBUSY, "multipath messages are refused while the device is suspended");
      }
      if (argv.length == 1) {
        if (ArgSet.equalsIgnoreCase(argv[0], "queue_if_no_path")) {
          queueIfNoPath(true, false, true);
          return "";
        }
        if (ArgSet.equalsIgnoreCase(argv[0], "fail_if_no_path")) {
          queueIfNoPath(false, false, true);
          return "";
        }
      }
      if (argv.length != 2) {
        throw new TargetException(
            "Invalid multipath message arguments. Expected 2 arguments, got " + argv.length + ".");
      }
      String cmd = argv[0];
      if (ArgSet.equalsIgnoreCase(cmd, "disable_group")) {
        bypassPgNum(argv[1], true);
        return "";
      }
      if (ArgSet.equalsIgnoreCase(cmd, "enable_group")) {
        bypassPgNum(argv[1], false);
        return "";
      }
      if (ArgSet.equalsIgnoreCase(cmd, "switch_group")) {
        switchPgNum(argv[1]);
        return "";
      }
      boolean reinstate;
      if (ArgSet.equalsIgnoreCase(cmd, "reinstate_path")) {
        reinstate = true;
      } else if (ArgSet.equalsIgnoreCase(cmd, "fail_path")) {
        reinstate = false;
      } else {
        throw new TargetException("Unrecognised multipath message received: " + cmd);
      }
      List<PgPath> matched = pathsOn(argv[1]);
      if (matched == null) {
        throw new TargetException("message: error getting device " + argv[1]);
      }
      if (matched.isEmpty()) {
        throw new TargetException("message: " + argv[1] + " is not a path of this device");
      }
      for (PgPath p : matched) {
        if (reinstate) {
          reinstatePath(p);
        } else {
          failPath(p);
        }
      }
      return "";
    }
  }

  /**
   * The paths on the device named {@code dev} ({@code dm_devt_from_path} and {@code action_dev}):
   * by {@code major:minor} or by the name the table gave; {@code null} if {@code dev} is neither a
   * device number nor the name of a path.
   */
  private List<PgPath> pathsOn(String dev) {
    DeviceNumber n = DeviceNumber.parse(dev);
    List<PgPath> l = new ArrayList<>();
    for (PriorityGroup pg : groups) {
      for (PgPath p : pg.paths) {
        if (n != null ? p.dev().number().equals(n) : p.dev().path().equals(dev)) {
          l.add(p);
        }
      }
    }
    return n == null && l.isEmpty() ? null : l;
  }

  // ---------------------------------------------------------------------------------------------
  // Status

  /** {@code multipath_status}: every token followed by a space, as the kernel's. */
  @Override
  public String status(StatusType type) {
    StringBuilder sb = new StringBuilder(128);
    synchronized (lock) {
      if (type == StatusType.INFO) {
        sb.append("2 ").append(queueIo ? 1 : 0).append(' ').append(0).append(' ');
      } else {
        int count =
            (queueIfNoPath ? 1 : 0)
                + (pgInitRetries > 0 ? 2 : 0)
                + (pgInitDelayMsecs != PG_INIT_DELAY_DEFAULT ? 2 : 0)
                + (retainAttachedHwHandler ? 1 : 0)
                + (queueMode != QueueMode.REQUEST ? 2 : 0);
        sb.append(count).append(' ');
        if (queueIfNoPath) {
          sb.append("queue_if_no_path ");
        }
        if (pgInitRetries > 0) {
          sb.append("pg_init_retries ").append(pgInitRetries).append(' ');
        }
        if (pgInitDelayMsecs != PG_INIT_DELAY_DEFAULT) {
          sb.append("pg_init_delay_msecs ").append(pgInitDelayMsecs).append(' ');
        }
        if (retainAttachedHwHandler) {
          sb.append("retain_attached_hw_handler ");
        }
        if (queueMode == QueueMode.BIO) {
          sb.append("queue_mode bio ");
        }
      }
      sb.append("0 "); // no hardware handler
      sb.append(groups.length).append(' ');
      PriorityGroup next = nextPg;
      PriorityGroup cur = currentPg;
      int pgNum = next != null ? next.pgNum : cur != null ? cur.pgNum : groups.length > 0 ? 1 : 0;
      sb.append(pgNum).append(' ');
      for (PriorityGroup pg : groups) {
        if (type == StatusType.INFO) {
          sb.append(pg.bypassed ? 'D' : pg == cur ? 'A' : 'E').append(' ');
          sb.append(pg.ps.status(null, type));
          sb.append(pg.paths.size()).append(' ').append(pg.type.infoArgs()).append(' ');
          for (PgPath p : pg.paths) {
            sb.append(p.dev().name())
                .append(p.active ? " A " : " F ")
                .append(p.failCount)
                .append(' ');
            sb.append(pg.ps.status(p, type));
          }
        } else {
          sb.append(pg.type.name()).append(' ');
          sb.append(pg.ps.status(null, type));
          sb.append(pg.paths.size()).append(' ').append(pg.type.tableArgs()).append(' ');
          for (PgPath p : pg.paths) {
            sb.append(p.dev().name()).append(' ');
            sb.append(pg.ps.status(p, type));
          }
        }
      }
    }
    return sb.toString();
  }

  /** Whether {@code queue_if_no_path} is in force now (for tests). */
  boolean queueIfNoPath() {
    return queueIfNoPath;
  }

  /** Bios held for want of a path (for tests). */
  int queuedBios() {
    return queued.size();
  }
}
