package io.jdm.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A constructed mapping table: targets covering sectors {@code [0, size())} without gaps, the
 * kernel's {@code struct dm_table}. Built when a table is loaded into a {@link MappedDevice} (see
 * {@link MappedDevice#load(String)}); immutable afterwards, and swapped in whole by {@link
 * MappedDevice#resume()}.
 *
 * <p>{@link #find(long)} is the lookup on every bio: a bucket directory over the target end
 * sectors, then a binary search of the (usually one or two) candidates; it touches two arrays and
 * allocates nothing (the kernel walks a B-tree of the same keys).
 *
 * <p>{@link #toString()} is the table as {@code dmsetup table} prints it, each target's arguments
 * in the target's canonical form; {@link #status()} is {@code dmsetup status}.
 *
 * <p>Thread-safe.
 */
public final class Table {
  final Target[] targets;
  final long[] begins;
  final long[] ends;
  private final TableIndex index;
  final long[] maxIo;

  /** Whether each target overrides {@link Target#endIo} (the kernel checks {@code end_io}). */
  final boolean[] hasEndIo;

  final long size;
  final long lbsMask;
  private final TargetType[] types;
  final IoLimits limits;
  final boolean readOnly;
  final List<DmDevImpl> devices;
  final BlockDevice[] flushDevices;
  final boolean flushBypassesMap;
  final boolean hasDataDevices;
  private final List<Workqueue> workqueues;
  private final List<BioHoldList> holdLists;
  final TargetType immutableType;
  final boolean hasWildcard;
  private final boolean discardSupported;
  private final boolean writeZeroesSupported;
  private final boolean flushNeeded;
  final long maxSectors;
  private volatile MappedDevice eventSink;
  private final java.util.concurrent.atomic.AtomicInteger users =
      new java.util.concurrent.atomic.AtomicInteger();
  private volatile boolean dying;
  private boolean destroyed;

  private Table(Loader l, IoLimits limits, boolean discard, boolean writeZeroes, boolean flush) {
    int n = l.targets.size();
    this.targets = l.targets.toArray(new Target[0]);
    this.types = l.types.toArray(new TargetType[0]);
    this.begins = new long[n];
    this.ends = new long[n];
    this.maxIo = new long[n];
    this.hasEndIo = new boolean[n];
    for (int i = 0; i < n; i++) {
      begins[i] = l.begins.get(i);
      ends[i] = l.ends.get(i);
      maxIo[i] = targets[i].maxIoSectors();
      hasEndIo[i] = targets[i] instanceof EndIoTarget;
    }
    this.size = n == 0 ? 0 : ends[n - 1];
    this.index = new TableIndex(ends);
    this.limits = limits;
    this.lbsMask = limits.logicalBlockSectors() - 1;
    this.readOnly = l.readOnly;
    this.devices = List.copyOf(l.devices.values());
    boolean bypass = true;
    boolean data = false;
    for (Target t : targets) {
      bypass &= t.flushBypassesMap();
      data |= !t.devices().isEmpty();
    }
    this.flushBypassesMap = bypass;
    this.hasDataDevices = data;
    Map<BlockDevice, Boolean> distinct = new IdentityHashMap<>();
    for (DmDevImpl d : devices) {
      distinct.put(d.bdev(), Boolean.TRUE);
    }
    this.flushDevices = distinct.keySet().toArray(new BlockDevice[0]);
    this.workqueues = List.copyOf(l.workqueues.values());
    this.holdLists = List.copyOf(l.holdLists);
    this.immutableType = l.immutableType;
    boolean wildcard = false;
    for (TargetType t : types) {
      wildcard |= t.features().contains(TargetFeature.WILDCARD);
    }
    this.hasWildcard = wildcard;
    this.discardSupported = discard;
    this.writeZeroesSupported = writeZeroes;
    this.flushNeeded = flush;
    this.maxSectors = limits.maxSectors();
  }

  /**
   * This table's discard, write-zeroes and flush restrictions applied to limits kept from the table
   * before it ({@code dm_table_set_restrictions} on retained limits).
   */
  IoLimits restrict(IoLimits kept) {
    IoLimits.Builder b = kept.toBuilder();
    if (!discardSupported) {
      b.maxDiscardSectors(0).discardGranularity(0);
    }
    if (!writeZeroesSupported) {
      b.maxWriteZeroesSectors(0);
    }
    if (flushNeeded) {
      b.writeCache(true).fua(true);
    }
    return b.build();
  }

  /**
   * Takes a reference for a short read of the targets (status, message), so the table is not
   * destroyed meanwhile. Fails once destruction has begun: the caller reads {@code live} again.
   */
  boolean ref() {
    users.incrementAndGet();
    if (dying) {
      users.decrementAndGet();
      return false;
    }
    return true;
  }

  void unref() {
    users.decrementAndGet();
  }

  /** Number of sectors the table maps. */
  public long size() {
    return size;
  }

  public int targetCount() {
    return targets.length;
  }

  public Target target(int index) {
    return targets[index];
  }

  public TargetType targetType(int index) {
    return types[index];
  }

  /** First sector of target {@code index}. */
  public long begin(int index) {
    return begins[index];
  }

  /** Length in sectors of target {@code index}. */
  public long length(int index) {
    return ends[index] - begins[index];
  }

  /** The limits stacked from every target's devices and hints. */
  public IoLimits limits() {
    return limits;
  }

  public boolean isReadOnly() {
    return readOnly;
  }

  /** The distinct devices the table uses, in first-use order. */
  public List<DmDev> devices() {
    return Collections.unmodifiableList(devices);
  }

  /**
   * Index of the target that maps {@code sector}; the sector must be in {@code [0, size())}.
   * Allocation-free; two memory reads for a table of any size (see {@link TableIndex}).
   */
  public int find(long sector) {
    return index.find(sector);
  }

  /**
   * How many sectors from {@code sector} can go to target {@code idx} in one piece: up to the
   * target's end, and for a target with a maximum I/O size, up to the next multiple of it counted
   * from the target's start and at most the device's {@code max_sectors} ({@code __max_io_len}).
   */
  long pieceLimit(int idx, long sector) {
    long limit = ends[idx] - sector;
    long g = maxIo[idx];
    if (g != 0) {
      long offset = sector - begins[idx];
      long left = (g & (g - 1)) == 0 ? g - (offset & (g - 1)) : g - offset % g;
      limit = Math.min(limit, Math.min(left, maxSectors));
    }
    return limit;
  }

  /** {@code dmsetup table}: one {@code "start length type args"} line per target. */
  @Override
  public String toString() {
    return text(StatusType.TABLE);
  }

  /** {@code dmsetup status}: one {@code "start length type status"} line per target. */
  public String status() {
    return text(StatusType.INFO);
  }

  String text(StatusType type) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < targets.length; i++) {
      sb.append(begins[i])
          .append(' ')
          .append(ends[i] - begins[i])
          .append(' ')
          .append(types[i].name())
          .append(' ')
          .append(targets[i].status(type))
          .append('\n');
    }
    return sb.toString();
  }

  void bindEvents(MappedDevice md) {
    this.eventSink = md;
  }

  void event() {
    MappedDevice md = eventSink;
    if (md != null) {
      md.raiseEvent();
    }
  }

  void presuspend() {
    for (Target t : targets) {
      t.presuspend();
    }
  }

  void presuspendUndo() {
    for (Target t : targets) {
      t.presuspendUndo();
    }
  }

  /** New I/O is held: the targets' hold lists let go of their bios (see {@link BioHoldList}). */
  void startSuspendingHolds() {
    for (BioHoldList h : holdLists) {
      h.startSuspending();
    }
  }

  /** The device resumed or gave up suspending: the hold lists hold again. */
  void stopSuspendingHolds() {
    for (BioHoldList h : holdLists) {
      h.stopSuspending();
    }
  }

  void postsuspend() {
    for (Target t : targets) {
      t.postsuspend();
    }
  }

  void preresume() {
    for (Target t : targets) {
      t.preresume();
    }
  }

  void resumeTargets() {
    for (Target t : targets) {
      t.resume();
    }
  }

  /** Closes the targets, stops their workqueues and releases their devices. Idempotent. */
  synchronized void destroy() {
    if (destroyed) {
      return;
    }
    destroyed = true;
    eventSink = null;
    dying = true;
    while (users.get() != 0) {
      Thread.onSpinWait(); // a status or message call is reading the targets; it is short
    }
    for (BioHoldList h : holdLists) {
      h.destroy();
    }
    destroyParts(List.of(targets), workqueues, devices);
  }

  private static void destroyParts(
      List<Target> targets, List<Workqueue> workqueues, List<DmDevImpl> devices) {
    RuntimeException failure = null;
    for (Target t : targets) {
      try {
        t.close();
      } catch (RuntimeException e) {
        if (failure == null) {
          failure = e;
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    for (Workqueue w : workqueues) {
      w.shutdown();
    }
    for (DmDevImpl d : devices) {
      d.release();
    }
    if (failure != null) {
      System.getLogger(Table.class.getName())
          .log(System.Logger.Level.WARNING, "a target failed to close", failure);
    }
  }

  // ---------------------------------------------------------------------------------------------

  /** Opens devices for one table being built and constructs its targets. */
  static final class Loader implements AutoCloseable {
    /** The kernel's bound on targets in one table. */
    static final int MAX_TARGETS = 1 << 20;

    private final DeviceMapper dm;
    private final MappedDevice md;
    private final boolean readOnly;
    private final List<Target> targets = new ArrayList<>();
    private final List<TargetType> types = new ArrayList<>();
    private final List<Long> begins = new ArrayList<>();
    private final List<Long> ends = new ArrayList<>();
    private final Map<DeviceMapper.OpenDevice, DmDevImpl> devices = new LinkedHashMap<>();
    private final Map<String, Workqueue> workqueues = new LinkedHashMap<>();
    private final List<BioHoldList> holdLists = new ArrayList<>();
    private TargetType immutableType;
    private boolean singleton;
    private boolean discard;
    private boolean writeZeroes;
    private boolean flush;
    private Table table;
    private boolean done;

    Loader(DeviceMapper dm, MappedDevice md, boolean readOnly) {
      this.dm = dm;
      this.md = md;
      this.readOnly = readOnly;
    }

    Table load(TableSpec spec) {
      List<TableSpec.Line> lines = spec.lines();
      if (lines.isEmpty()) {
        throw new TableException(0, null, "no targets specified");
      }
      if (lines.size() > MAX_TARGETS) {
        throw new TableException(0, null, "too many targets (at most " + MAX_TARGETS + ")");
      }
      for (int i = 0; i < lines.size(); i++) {
        addTarget(spec.lineNumber(i), lines.get(i));
      }
      IoLimits limits = calculateLimits(spec);
      table = new Table(this, limits, discard, writeZeroes, flush);
      done = true;
      return table;
    }

    private void addTarget(int lineNo, TableSpec.Line line) {
      String type = line.type();
      if (singleton) {
        throw new TableException(
            lineNo, type, "target type " + types.get(0).name() + " must appear alone in table");
      }
      long start = line.start();
      long len = line.length();
      if (len == 0) {
        throw new TableException(lineNo, type, "zero-length target");
      }
      if (start + len < start || start + len > ArgSet.MAX_SECTOR) {
        throw new TableException(
            lineNo,
            type,
            "too large device (start + length must not exceed " + ArgSet.MAX_SECTOR + ")");
      }
      TargetType tt = dm.registry().get(type);
      if (tt == null) {
        throw new TableException(
            lineNo, type, "unknown target type" + TargetRegistry.moduleHint(type));
      }
      Set<TargetFeature> features = tt.features();
      if (features.contains(TargetFeature.SINGLETON)) {
        if (!targets.isEmpty()) {
          throw new TableException(
              lineNo, type, "singleton target type must appear alone in table");
        }
        singleton = true;
      }
      if (features.contains(TargetFeature.ALWAYS_WRITEABLE) && readOnly) {
        throw new TableException(
            lineNo, type, "target type may not be included in a read-only table");
      }
      if (immutableType != null) {
        if (immutableType != tt) {
          throw new TableException(
              lineNo, type, "immutable target type cannot be mixed with other target types");
        }
      } else if (features.contains(TargetFeature.IMMUTABLE)) {
        if (!targets.isEmpty()) {
          throw new TableException(
              lineNo, type, "immutable target type cannot be mixed with other target types");
        }
        immutableType = tt;
      }
      long expected = ends.isEmpty() ? 0 : ends.get(ends.size() - 1);
      if (start != expected) {
        throw new TableException(
            lineNo,
            type,
            "Gap in table (starts at sector " + start + ", expected " + expected + ")");
      }
      Target t;
      try {
        t = tt.create(new Context(tt), start, len, line.args());
      } catch (DmException e) {
        throw TableException.wrap(lineNo, type, e);
      } catch (RuntimeException e) {
        TableException te = new TableException(lineNo, type, "constructor failed: " + e);
        te.initCause(e);
        throw te;
      }
      if (t == null) {
        throw new TableException(lineNo, type, "constructor returned no target");
      }
      targets.add(t);
      types.add(tt);
      begins.add(start);
      ends.add(start + len);
      if (t.maxIoSectors() < 0 || t.maxIoSectors() > 0xFFFF_FFFFL) {
        throw new TableException(lineNo, type, "Maximum size of target IO is too large");
      }
    }

    /**
     * {@code dm_calculate_queue_limits} and {@code dm_table_set_restrictions}: stack each target's
     * device limits, apply its hints, check each device area, check block alignment across target
     * boundaries, then decide discard / write-zeroes / flush support.
     */
    private IoLimits calculateLimits(TableSpec spec) {
      IoLimits.Builder table = IoLimits.builder();
      int[] targetLbs = new int[targets.size()];
      for (int i = 0; i < targets.size(); i++) {
        Target t = targets.get(i);
        int lineNo = spec.lineNumber(i);
        String type = types.get(i).name();
        IoLimits.Builder ti = IoLimits.builder();
        List<DeviceArea> areas = t.devices();
        for (DeviceArea a : areas) {
          ti.stack(a.dev().bdev().limits());
        }
        // the cross-target alignment check uses the devices' block size, before hints
        targetLbs[i] = ti.logicalBlockSize();
        t.ioHints(ti);
        for (DeviceArea a : areas) {
          checkArea(lineNo, type, a, ti.logicalBlockSize());
        }
        table.stack(ti.build());
      }
      checkBlockAlignment(spec, table.logicalBlockSize(), targetLbs);
      discard = true;
      writeZeroes = true;
      flush = false;
      for (Target t : targets) {
        List<DeviceArea> areas = t.devices();
        if (t.numDiscardBios() == 0) {
          discard = false;
        } else if (!t.discardsSupported()) {
          if (areas.isEmpty()) {
            discard = false;
          }
          for (DeviceArea a : areas) {
            discard &= a.dev().bdev().limits().supportsDiscard();
          }
        }
        if (t.numWriteZeroesBios() == 0 || areas.isEmpty()) {
          writeZeroes = false;
        }
        for (DeviceArea a : areas) {
          writeZeroes &= a.dev().bdev().limits().supportsWriteZeroes();
        }
        flush |= t.numFlushBios() > 0 && t.flushSupported();
      }
      if (!discard) {
        table.maxDiscardSectors(0).discardGranularity(0);
      }
      if (!writeZeroes) {
        table.maxWriteZeroesSectors(0);
      }
      if (flush) {
        table.writeCache(true).fua(true);
      }
      return table.build();
    }

    /** Files and in-JVM devices know their size exactly, even when it is zero. */
    private static boolean isBlockDevice(BlockDevice dev) {
      return dev instanceof FileBlockDevice
          && ((FileBlockDevice) dev).blockDeviceNumber().isPresent();
    }

    private static void checkArea(int lineNo, String type, DeviceArea a, int lbs) {
      BlockDevice dev = a.dev().bdev();
      long devSize = dev.sectors();
      String name = a.dev().name() + " (" + a.dev().path() + ")";
      if (devSize == 0 && isBlockDevice(dev)) {
        return; // as the kernel: a block device of unknown (zero) size is not checked
      }
      long start = a.start();
      long len = a.length();
      if (start >= devSize || start + len > devSize) {
        throw new TableException(
            lineNo,
            type,
            "device "
                + name
                + " too small for target: start="
                + start
                + ", len="
                + len
                + ", dev_size="
                + devSize);
      }
      long lbsSectors = lbs >>> Bio.SECTOR_SHIFT;
      if (lbsSectors <= 1) {
        return;
      }
      if (start % lbsSectors != 0) {
        throw new TableException(
            lineNo,
            type,
            "start=" + start + " not aligned to h/w logical block size " + lbs + " of " + name);
      }
      if (len % lbsSectors != 0) {
        throw new TableException(
            lineNo,
            type,
            "len=" + len + " not aligned to h/w logical block size " + lbs + " of " + name);
      }
    }

    /** {@code validate_hardware_logical_block_alignment}. */
    private void checkBlockAlignment(TableSpec spec, int deviceLbs, int[] targetLbs) {
      long dev = deviceLbs >>> Bio.SECTOR_SHIFT;
      long nextStart = 0;
      long remaining = 0;
      int i;
      for (i = 0; i < targets.size(); i++) {
        long len = ends.get(i) - begins.get(i);
        long tiLbs = targetLbs[i] >>> Bio.SECTOR_SHIFT;
        if (remaining < len && (remaining & (tiLbs - 1)) != 0) {
          break;
        }
        nextStart = (nextStart + len) & (dev - 1);
        remaining = nextStart != 0 ? dev - nextStart : 0;
      }
      if (remaining != 0) {
        int idx = Math.min(i, targets.size() - 1);
        throw new TableException(
            spec.lineNumber(idx),
            types.get(idx).name(),
            "table line (start sect "
                + begins.get(idx)
                + " len "
                + (ends.get(idx) - begins.get(idx))
                + ") not aligned to h/w logical block size "
                + deviceLbs);
      }
    }

    /** Releases everything a failed load acquired. */
    @Override
    public void close() {
      if (done) {
        return;
      }
      destroyParts(targets, List.copyOf(workqueues.values()), List.copyOf(devices.values()));
    }

    /** The per-line {@link TargetContext}. */
    private final class Context implements TargetContext {
      private final TargetType type;

      Context(TargetType type) {
        this.type = type;
      }

      @Override
      public String deviceName() {
        return md.name();
      }

      @Override
      public boolean readOnly() {
        return readOnly;
      }

      @Override
      public DmDev getDevice(String path) {
        if (done) {
          throw new IllegalStateException("getDevice outside the target constructor");
        }
        DeviceMapper.OpenDevice od = dm.acquire(md, path, !readOnly);
        DmDevImpl existing = devices.get(od);
        if (existing != null) {
          dm.release(od); // same device twice in one table: one reference
          return existing;
        }
        DmDevImpl d = new DmDevImpl(dm, od, path, !readOnly);
        devices.put(od, d);
        return d;
      }

      @Override
      public Workqueue workqueue(String name, int threads) {
        return workqueues.computeIfAbsent(
            name, n -> new Workqueue("jdm-" + md.name() + "-" + n, threads, dm.clock()));
      }

      @Override
      public BioHoldList holdList(BlockStatus failStatus) {
        if (done) {
          throw new IllegalStateException("holdList outside the target constructor");
        }
        BioHoldList h = new BioHoldList(md, failStatus);
        holdLists.add(h);
        return h;
      }

      @Override
      public boolean noflushSuspending() {
        return md.isNoflushSuspending();
      }

      @Override
      public void triggerEvent() {
        Table t = table;
        if (t != null) {
          t.event();
        }
      }

      @Override
      public java.util.SplittableRandom random() {
        return dm.splitRandom();
      }

      @Override
      public Clock clock() {
        return dm.clock();
      }

      @Override
      public System.Logger logger() {
        return TargetLogger.of(type.name(), md.number());
      }

      @Override
      public <T> T shared(Class<T> key, java.util.function.Supplier<? extends T> factory) {
        return dm.shared(key, factory);
      }
    }
  }
}
