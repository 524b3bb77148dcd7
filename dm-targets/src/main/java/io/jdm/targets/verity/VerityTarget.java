package io.jdm.targets.verity;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceArea;
import io.jdm.core.DmDev;
import io.jdm.core.EndIoResult;
import io.jdm.core.EndIoTarget;
import io.jdm.core.IoLimits;
import io.jdm.core.MapResult;
import io.jdm.core.StatusType;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.Workqueue;
import io.jdm.core.bufio.BlockValidator;
import io.jdm.core.bufio.BufioClient;
import io.jdm.core.bufio.CorruptBlockException;
import io.jdm.core.bufio.HeldBlock;
import io.jdm.targets.verity.VerityTargetType.Mode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * One {@code verity} table line: reads of the data device checked block by block against the hash
 * tree on the hash device, from the data block's digest up to the root digest of the table ({@code
 * drivers/md/dm-verity-target.c}).
 *
 * <p>What it does, as the kernel:
 *
 * <ul>
 *   <li>{@link #map} remaps reads to the data device; a bio not aligned to the data block size,
 *       reaching past {@code num_data_blocks}, or a write fails with {@code IOERR}.
 *   <li>When the read completes, verification runs on the target's workqueue ({@code kverityd})
 *       (but see the inline case below): for each data block, the digest the tree expects is found
 *       through the hash blocks, each hash block checked against the digest of its parent the first
 *       time it is read and then kept in a bufio cache as verified (the kernel's {@code
 *       buffer_aux.hash_verified}; here the cache's validator); the data block's digest must match.
 *       With {@code check_at_most_once} a bitmap of data blocks already verified skips them. With
 *       {@code ignore_zero_blocks}, blocks whose expected digest is that of a zero block are
 *       returned as zeros without being checked.
 *   <li>A mismatch reads the block again (the kernel's {@code verity_recheck}), then tries forward
 *       error correction ({@link VerityFec}) when configured, then reports the corruption: status
 *       {@code C}, the first 100 blocks logged as {@code "<data_dev>: data block N is corrupted"}
 *       ({@code metadata} for hash blocks), each with a device event standing for the kernel's
 *       uevent {@code DM_VERITY_ERR_BLOCK_NR=<0|1>,<block>} ({@link #corruptionReports()}).
 *   <li>Then, by mode: {@code IOERR} (default); {@code ignore_corruption} returns the data as read.
 *   <li>With {@code try_verify_in_tasklet}, verification first runs where the read completes (the
 *       kernel's BH workqueue), using only hash blocks already cached; when one must be read, or
 *       anything mismatches, it starts again on the workqueue, as the kernel's does. jdm does the
 *       same for reads of at most {@link #INLINE_VERIFY_BYTES} without the option: for a small read
 *       the hand-off to the workqueue costs more than the hashing.
 * </ul>
 *
 * <p>What jdm does where the kernel stops the machine: {@code restart_on_corruption} and {@code
 * panic_on_corruption} (and {@code restart_on_error} / {@code panic_on_error} for read errors that
 * are not mismatches) make the kernel call {@code kernel_restart} or {@code panic}. A library
 * cannot and should not do that to the JVM hosting it; instead the target <em>halts</em>: it logs
 * {@code "dm-verity device corrupted"} (or {@code "dm-verity device has I/O error"}) at ERROR with
 * the mode, raises a device event, fails the bio with {@code IOERR}, and fails every later bio with
 * {@code IOERR} until a new table is loaded, just as nothing more would be read from the device
 * after a restart. {@link #halted()} tells an embedder to take its own action (restart a service,
 * fence a node).
 *
 * <p>Thread-safe; {@link #map} allocates nothing and takes no lock.
 */
public final class VerityTarget implements EndIoTarget {
  static final int MAX_CORRUPTED_ERRS = 100;
  private static final int EAGAIN = -11;
  private static final long VERIFIED = 1;

  private final TargetContext ctx;
  private final System.Logger log;
  private final long begin;
  private final long length;
  private final DmDev dataDmDev;
  private final DmDev hashDmDev;
  private final BlockDevice dataDev;
  private final BlockDevice hashDev;
  private final int dataBlockSize;
  private final int dataBits;
  private final int sectorMask;
  private final VerityHash hash;
  private final byte[] root;
  private final VerityGeometry geo;
  private final Mode mode;
  private final Mode errorMode;
  private final boolean tasklet;
  private final String algorithm;
  private final byte[] zeroDigest;
  private final AtomicLongArray validated;
  private final VerityFec fec;
  private final BufioClient bufio;
  private final Workqueue wq;
  private final HashValidator validator = new HashValidator();
  private final ThreadLocal<VerityIo> current = new ThreadLocal<>();

  /**
   * Reads up to this size are verified where they complete whenever the hash blocks they need are
   * cached and verified, even without {@code try_verify_in_tasklet}: hashing 8 KiB takes a few
   * microseconds, less than handing the bio to the workqueue and waking a worker. Anything else (a
   * hash block to read, a mismatch, a larger read) goes to the workqueue, as in the kernel.
   */
  static final int INLINE_VERIFY_BYTES = 8192;

  /**
   * The completing thread's scratch for inline verification (never re-entered: it cannot block).
   */
  private final ThreadLocal<VerityIo> inlineIo;

  /** Hash blocks FEC corrected (the kernel corrects them inside its bufio buffer). */
  private final ConcurrentHashMap<Long, byte[]> correctedHashBlocks = new ConcurrentHashMap<>();

  private final AtomicInteger corruptedErrs = new AtomicInteger();
  private final List<String> reports = new ArrayList<>();
  private volatile boolean hashFailed;
  private volatile boolean halted;

  VerityTarget(
      TargetContext ctx,
      long begin,
      long length,
      DmDev dataDmDev,
      DmDev hashDmDev,
      int dataBlockSize,
      VerityHash hash,
      byte[] root,
      VerityGeometry geo,
      VerityTargetType.Options opts,
      String algorithm) {
    this.ctx = ctx;
    this.log = ctx.logger();
    this.begin = begin;
    this.length = length;
    this.dataDmDev = dataDmDev;
    this.hashDmDev = hashDmDev;
    this.dataDev = dataDmDev.bdev();
    this.hashDev = hashDmDev.bdev();
    this.dataBlockSize = dataBlockSize;
    this.dataBits = Integer.numberOfTrailingZeros(dataBlockSize);
    this.sectorMask = (dataBlockSize >>> Bio.SECTOR_SHIFT) - 1;
    this.hash = hash;
    this.root = root;
    this.geo = geo;
    this.mode = opts.mode;
    this.errorMode = opts.errorMode;
    this.tasklet = opts.tasklet;
    int digestSize = hash.digestSize();
    this.inlineIo = ThreadLocal.withInitial(() -> new VerityIo(digestSize, BlockStatus.OK));
    this.algorithm = algorithm;
    if (opts.ignoreZeroBlocks) {
      zeroDigest = new byte[hash.digestSize()];
      hash.digest(new byte[dataBlockSize], 0, dataBlockSize, zeroDigest);
    } else {
      zeroDigest = null;
    }
    validated =
        opts.checkAtMostOnce ? new AtomicLongArray((int) ((geo.dataBlocks() + 63) >>> 6)) : null;
    BufioClient b = BufioClient.builder(hashDev, geo.hashBlockSize()).build();
    if (b.blocks() < geo.hashEnd()) {
      throw new TargetException("Hash device is too small");
    }
    this.bufio = b;
    this.fec = opts.fecDev == null ? null : VerityFec.create(this, opts);
    this.wq = ctx.workqueue("kverityd", Math.max(1, Runtime.getRuntime().availableProcessors()));
  }

  // ---------------------------------------------------------------------------------------------
  // Accessors for FEC and tests

  VerityGeometry geometry() {
    return geo;
  }

  VerityHash hash() {
    return hash;
  }

  int dataBlockSize() {
    return dataBlockSize;
  }

  BlockDevice dataDevice() {
    return dataDev;
  }

  BlockDevice hashDevice() {
    return hashDev;
  }

  String dataDevName() {
    return dataDmDev.name();
  }

  System.Logger logger() {
    return log;
  }

  /** {@code true} once a mismatch has been seen (status {@code C}). */
  public boolean corrupted() {
    return hashFailed;
  }

  /**
   * {@code true} once {@code restart_*} or {@code panic_*} fired: the target fails all I/O until a
   * new table replaces it.
   */
  public boolean halted() {
    return halted;
  }

  /**
   * The uevent environments the kernel would have sent, {@code
   * DM_VERITY_ERR_BLOCK_NR=<type>,<block>} (type 0 for data, 1 for metadata), for the first 100
   * corrupt blocks, oldest first.
   */
  public List<String> corruptionReports() {
    synchronized (reports) {
      return List.copyOf(reports);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // I/O

  @Override
  public MapResult map(Bio bio) {
    long sector = bio.sector() - begin;
    if (((sector | bio.sectors()) & sectorMask) != 0) {
      return unaligned(bio);
    }
    if ((sector + bio.sectors()) >>> (dataBits - Bio.SECTOR_SHIFT) > geo.dataBlocks()) {
      return outOfRange(bio);
    }
    if (bio.op() != Bio.Op.READ || halted) {
      return MapResult.KILL;
    }
    bio.setTargetLong(0);
    bio.remap(dataDev, sector);
    return MapResult.REMAPPED;
  }

  private MapResult unaligned(Bio bio) {
    log.log(System.Logger.Level.ERROR, "unaligned io");
    return MapResult.KILL;
  }

  private MapResult outOfRange(Bio bio) {
    log.log(System.Logger.Level.ERROR, "io out of range");
    return MapResult.KILL;
  }

  @Override
  public EndIoResult endIo(Bio bio, BlockStatus status) {
    if (bio.targetLong() == VERIFIED || bio.op() != Bio.Op.READ) {
      return EndIoResult.DONE;
    }
    if (status != BlockStatus.OK && (fec == null || bio.hasFlag(Bio.RAHEAD))) {
      readError(bio, status, false);
      return EndIoResult.DONE;
    }
    if (status == BlockStatus.OK && (tasklet || bio.bytes() <= INLINE_VERIFY_BYTES)) {
      VerityIo io = inlineIo.get().reset(status);
      io.inBh = true;
      int r;
      try {
        r = verifyIo(bio, io);
      } catch (RuntimeException e) {
        r = EAGAIN;
      }
      if (r != EAGAIN) {
        bio.setStatus(r == 0 ? BlockStatus.OK : BlockStatus.IOERR);
        return EndIoResult.DONE;
      }
    }
    try {
      wq.execute(() -> verifyAndFinish(bio, status));
    } catch (IllegalStateException e) {
      bio.setStatus(BlockStatus.IOERR);
      return EndIoResult.DONE;
    }
    return EndIoResult.INCOMPLETE;
  }

  private void verifyAndFinish(Bio bio, BlockStatus status) {
    VerityIo io = new VerityIo(hash.digestSize(), status);
    BlockStatus result;
    try {
      result = verifyIo(bio, io) == 0 ? BlockStatus.OK : BlockStatus.IOERR;
    } catch (RuntimeException e) {
      log.log(System.Logger.Level.ERROR, "verification of " + bio + " failed", e);
      result = BlockStatus.IOERR;
    }
    finishIo(bio, result, io.hadMismatch);
  }

  /** {@code verity_finish_io}: error modes for read errors, then completion. */
  private void finishIo(Bio bio, BlockStatus status, boolean hadMismatch) {
    readError(bio, status, hadMismatch);
    bio.setTargetLong(VERIFIED);
    bio.complete(status);
  }

  private void readError(Bio bio, BlockStatus status, boolean hadMismatch) {
    if (status != BlockStatus.OK
        && !bio.hasFlag(Bio.RAHEAD)
        && !hadMismatch
        && errorMode != Mode.EIO) {
      halt(errorMode, "dm-verity device has I/O error");
    }
  }

  /** {@code verity_verify_io}: 0 or a negative errno. */
  private int verifyIo(Bio bio, VerityIo io) {
    long first = bio.sector() >>> (dataBits - Bio.SECTOR_SHIFT);
    int n = bio.bytes() >>> dataBits;
    ByteBuffer data = bio.data();
    int off = bio.dataOffset();
    for (int b = 0; b < n; b++, off += dataBlockSize) {
      long block = first + b;
      if (validated != null && io.status == BlockStatus.OK && testBit(block)) {
        continue;
      }
      int r = hashForBlock(io, block, io.want);
      if (r < 0) {
        return r;
      }
      if (io.isZero) {
        bio.zeroFill(b << dataBits, dataBlockSize);
        continue;
      }
      hash.digest(data, off, dataBlockSize, io.real);
      if (Arrays.equals(io.real, io.want)) {
        if (validated != null) {
          setBit(block);
        }
        continue;
      }
      if (io.inBh) {
        return EAGAIN; // error handling may block: the workqueue does it
      }
      r = dataMismatch(io, block, data, off);
      if (r != 0) {
        return r;
      }
    }
    return 0;
  }

  /** {@code verity_handle_data_hash_mismatch}. */
  private int dataMismatch(VerityIo io, long block, ByteBuffer data, int off) {
    byte[] again = recheck(io, block);
    if (again != null) {
      data.put(off, again, 0, dataBlockSize);
      if (validated != null) {
        setBit(block);
      }
      return 0;
    }
    if (fec != null) {
      byte[] fixed = fec.decode(io, false, block, io.want);
      if (fixed != null) {
        data.put(off, fixed, 0, dataBlockSize);
        return 0;
      }
    }
    if (io.status != BlockStatus.OK) {
      return -5; // the read itself failed and correction did not help
    }
    if (handleError(false, block)) {
      io.hadMismatch = true;
      return -5;
    }
    return 0;
  }

  /** {@code verity_recheck}: the block read again into a buffer of its own, if it is right now. */
  private byte[] recheck(VerityIo io, long block) {
    byte[] buf = new byte[dataBlockSize];
    try {
      dataDev.read(ByteBuffer.wrap(buf), block << dataBits);
    } catch (IOException e) {
      return null;
    }
    byte[] real = new byte[io.want.length];
    hash.digest(buf, 0, dataBlockSize, real);
    return Arrays.equals(real, io.want) ? buf : null;
  }

  /**
   * {@code verity_hash_for_block}: the digest the tree holds for data block {@code block} into
   * {@code digest}, verifying the hash blocks on the way; sets {@code io.isZero}. Returns 0 or a
   * negative errno.
   */
  int hashForBlock(VerityIo io, long block, byte[] digest) {
    int r = 1;
    if (geo.levels() > 0) {
      r = probeLevel0(block, digest);
    }
    if (r > 0) {
      System.arraycopy(root, 0, digest, 0, root.length);
      r = 0;
      for (int i = geo.levels() - 1; i >= 0; i--) {
        r = verifyLevel(io, block, i, digest);
        if (r != 0) {
          break;
        }
      }
    }
    io.isZero = r == 0 && zeroDigest != null && Arrays.equals(zeroDigest, digest);
    return r;
  }

  /** The fast path: the level-0 hash block is cached and verified. 0, or 1 to walk the tree. */
  private int probeLevel0(long block, byte[] digest) {
    long hb = geo.hashBlock(block, 0);
    HeldBlock h;
    try {
      h = bufio.tryRead(hb, validator);
    } catch (CorruptBlockException e) {
      return 1;
    }
    if (h == null) {
      return 1;
    }
    try {
      h.data().get(geo.hashOffset(block, 0), digest, 0, digest.length);
    } finally {
      h.release();
    }
    return 0;
  }

  /** {@code verity_verify_level}: {@code want} holds the block's expected digest on entry. */
  private int verifyLevel(VerityIo io, long block, int level, byte[] want) {
    long hb = geo.hashBlock(block, level);
    int offset = geo.hashOffset(block, level);
    VerityIo saved = current.get();
    io.expected = want;
    current.set(io);
    HeldBlock h = null;
    try {
      if (io.inBh) {
        h = bufio.tryRead(hb, validator);
        if (h == null) {
          return EAGAIN; // not cached: reading it blocks
        }
      } else {
        h = bufio.read(hb, validator);
      }
    } catch (CorruptBlockException e) {
      if (io.inBh) {
        return EAGAIN;
      }
      h = null;
    } catch (IOException e) {
      log.log(
          System.Logger.Level.ERROR,
          "{0}: hash block {1} read failed: {2}",
          dataDevName(),
          Long.toString(hb),
          e.getMessage());
      return -5;
    } finally {
      io.expected = null;
      current.set(saved);
    }
    if (h == null) {
      return corruptHashBlock(io, hb, offset, want);
    }
    try {
      h.data().get(offset, want, 0, want.length);
    } finally {
      h.release();
    }
    return 0;
  }

  /** A hash block whose digest is wrong: corrected copy, FEC, or the error mode. */
  private int corruptHashBlock(VerityIo io, long hb, int offset, byte[] want) {
    byte[] fixed = correctedHashBlocks.get(hb);
    if (fixed == null && fec != null) {
      fixed = fec.decode(io, true, hb, want);
      if (fixed != null) {
        if (correctedHashBlocks.size() > 1024) {
          correctedHashBlocks.clear();
        }
        correctedHashBlocks.put(hb, fixed);
      }
    }
    if (fixed != null) {
      System.arraycopy(fixed, offset, want, 0, want.length);
      return 0;
    }
    if (handleError(true, hb)) {
      io.hadMismatch = true;
      return -5;
    }
    // ignore_corruption: go on with the block as it is on the device
    byte[] raw = new byte[geo.hashBlockSize()];
    try {
      hashDev.read(ByteBuffer.wrap(raw), hb * geo.hashBlockSize());
    } catch (IOException e) {
      return -5;
    }
    System.arraycopy(raw, offset, want, 0, want.length);
    return 0;
  }

  /**
   * {@code verity_handle_err}: counts, reports the first 100, applies the mode. Returns {@code
   * true} when the I/O must fail.
   */
  boolean handleError(boolean metadata, long block) {
    hashFailed = true;
    int ce;
    do {
      ce = corruptedErrs.get();
      if (ce >= MAX_CORRUPTED_ERRS) {
        break;
      }
    } while (!corruptedErrs.compareAndSet(ce, ce + 1));
    if (ce < MAX_CORRUPTED_ERRS) {
      log.log(
          System.Logger.Level.ERROR,
          "{0}: {1} block {2} is corrupted",
          dataDevName(),
          metadata ? "metadata" : "data",
          Long.toString(block));
      if (ce + 1 == MAX_CORRUPTED_ERRS) {
        log.log(System.Logger.Level.ERROR, "{0}: reached maximum errors", dataDevName());
      }
      synchronized (reports) {
        reports.add("DM_VERITY_ERR_BLOCK_NR=" + (metadata ? 1 : 0) + "," + block);
      }
      ctx.triggerEvent();
    }
    switch (mode) {
      case LOGGING:
        return false;
      case RESTART:
      case PANIC:
        halt(mode, "dm-verity device corrupted");
        return true;
      default:
        return true;
    }
  }

  private void halt(Mode m, String why) {
    if (halted) {
      return;
    }
    halted = true;
    log.log(
        System.Logger.Level.ERROR,
        "{0}: {1}: the kernel would {2} the machine here; jdm fails all I/O of this table instead",
        dataDevName(),
        why,
        m == Mode.PANIC ? "panic" : "restart");
    ctx.triggerEvent();
  }

  private boolean testBit(long block) {
    return (validated.get((int) (block >>> 6)) & (1L << block)) != 0;
  }

  private void setBit(long block) {
    int i = (int) (block >>> 6);
    long bit = 1L << block;
    long old;
    do {
      old = validated.get(i);
      if ((old & bit) != 0) {
        return;
      }
    } while (!validated.compareAndSet(i, old, old | bit));
  }

  // ---------------------------------------------------------------------------------------------
  // Control

  @Override
  public void postsuspend() {
    bufio.evict();
    correctedHashBlocks.clear();
  }

  @Override
  public void close() {
    try {
      bufio.close();
      if (fec != null) {
        fec.close();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public List<DeviceArea> devices() {
    return List.of(new DeviceArea(dataDmDev, 0, length));
  }

  @Override
  public void ioHints(IoLimits.Builder limits) {
    if (limits.logicalBlockSize() < dataBlockSize) {
      limits.logicalBlockSize(dataBlockSize);
    }
    if (limits.physicalBlockSize() < dataBlockSize) {
      limits.physicalBlockSize(dataBlockSize);
    }
    limits.ioMin(limits.logicalBlockSize());
  }

  @Override
  public String status(StatusType type) {
    if (type == StatusType.INFO) {
      return hashFailed ? "C" : "V";
    }
    StringBuilder sb = new StringBuilder();
    sb.append(geo.version())
        .append(' ')
        .append(dataDmDev.name())
        .append(' ')
        .append(hashDmDev.name())
        .append(' ')
        .append(dataBlockSize)
        .append(' ')
        .append(geo.hashBlockSize())
        .append(' ')
        .append(geo.dataBlocks())
        .append(' ')
        .append(geo.hashStart())
        .append(' ')
        .append(algorithm)
        .append(' ');
    hex(sb, root);
    sb.append(' ');
    byte[] salt = hash.salt();
    if (salt.length == 0) {
      sb.append('-');
    } else {
      hex(sb, salt);
    }
    int args = 0;
    if (mode != Mode.EIO) {
      args++;
    }
    if (errorMode != Mode.EIO) {
      args++;
    }
    if (fec != null) {
      args += 8;
    }
    if (zeroDigest != null) {
      args++;
    }
    if (validated != null) {
      args++;
    }
    if (tasklet) {
      args++;
    }
    if (args == 0) {
      return sb.toString();
    }
    sb.append(' ').append(args);
    if (mode != Mode.EIO) {
      sb.append(' ')
          .append(
              mode == Mode.LOGGING
                  ? "ignore_corruption"
                  : mode == Mode.RESTART ? "restart_on_corruption" : "panic_on_corruption");
    }
    if (errorMode != Mode.EIO) {
      sb.append(' ').append(errorMode == Mode.RESTART ? "restart_on_error" : "panic_on_error");
    }
    if (zeroDigest != null) {
      sb.append(" ignore_zero_blocks");
    }
    if (validated != null) {
      sb.append(" check_at_most_once");
    }
    if (tasklet) {
      sb.append(" try_verify_in_tasklet");
    }
    if (fec != null) {
      fec.statusTable(sb);
    }
    return sb.toString();
  }

  private static void hex(StringBuilder sb, byte[] b) {
    for (byte x : b) {
      sb.append(Character.forDigit((x >> 4) & 0xf, 16)).append(Character.forDigit(x & 0xf, 16));
    }
  }

  // ---------------------------------------------------------------------------------------------

  /** Per-verification scratch, the kernel's {@code struct dm_verity_io}. */
  static final class VerityIo {
    final byte[] want;
    final byte[] real;
    BlockStatus status;
    boolean isZero;
    boolean hadMismatch;
    boolean inBh;
    int fecLevel;
    byte[] expected;

    VerityIo(int digestSize, BlockStatus status) {
      this.want = new byte[digestSize];
      this.real = new byte[digestSize];
      this.status = status;
    }

    /** Ready for another bio. */
    VerityIo reset(BlockStatus status) {
      this.status = status;
      isZero = false;
      hadMismatch = false;
      inBh = false;
      fecLevel = 0;
      expected = null;
      return this;
    }
  }

  /**
   * Checks a hash block against the digest its parent holds for it, the first time it is read: what
   * the kernel's {@code hash_verified} flag records, kept by bufio as "checked by this validator".
   * The expected digest comes from the reading thread's {@link VerityIo}.
   */
  private final class HashValidator implements BlockValidator {
    @Override
    public String name() {
      return "verity hash block";
    }

    @Override
    public void prepareForWrite(ByteBuffer block, long blockNr) {
      throw new IllegalStateException("verity hash blocks are never written");
    }

    @Override
    public void check(ByteBuffer block, long blockNr) throws CorruptBlockException {
      VerityIo io = current.get();
      if (io == null || io.expected == null) {
        throw new CorruptBlockException(name(), blockNr, "not verified yet");
      }
      byte[] real = new byte[io.expected.length];
      hash.digest(block, 0, geo.hashBlockSize(), real);
      if (!Arrays.equals(real, io.expected)) {
        throw new CorruptBlockException(name(), blockNr, "digest mismatch");
      }
    }
  }
}
