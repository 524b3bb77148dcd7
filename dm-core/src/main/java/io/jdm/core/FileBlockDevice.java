package io.jdm.core;

import com.sun.nio.file.ExtendedOpenOption;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A regular file or a Linux block device (such as {@code /dev/sdb} or {@code /dev/loop0}) as a
 * {@link BlockDevice}, through {@link FileChannel} positional I/O: what the kernel's loop driver
 * does for a file.
 *
 * <p>Behaviour:
 *
 * <ul>
 *   <li>I/O runs on the submitting thread; the bio has completed when {@link #submit} returns.
 *   <li>The size is the file's size rounded down to the logical block size, or for a block device
 *       the size the kernel reports in {@code /sys/dev/block/M:m/size}.
 *   <li>The page cache is a volatile write cache: {@link Bio.Op#FLUSH}, {@link Bio#PREFLUSH} and
 *       {@link Bio#FUA} call {@link FileChannel#force(boolean) force(false)} ({@code fdatasync}).
 *   <li>{@link Builder#direct(boolean) O_DIRECT} bypasses the page cache; the logical block size
 *       becomes the file system's block size and unaligned direct buffers go through a bounce
 *       buffer.
 *   <li>Write-zeroes writes zeros. Discard of a regular file punches a hole ({@code
 *       fallocate(PUNCH_HOLE | KEEP_SIZE)}: the range reads as zeros and its space is freed) on
 *       64-bit Linux when JNA ({@code net.java.dev.jna:jna}, an optional dependency) is on the
 *       class path and the file system supports it ({@link #punchesHoles()}); the file's holes are
 *       then reported by {@link #extents} ({@code SEEK_DATA}/{@code SEEK_HOLE}). Otherwise discard
 *       is not supported (Java 17 cannot call {@code fallocate(2)} by itself) unless {@link
 *       Builder#discardWritesZeroes(boolean)} makes it write zeros, and the file counts as all
 *       data.
 *   <li>An interrupt of a submitting thread does not break the device: Java closes a {@link
 *       FileChannel} when a thread blocked in it is interrupted, so the device reopens the file and
 *       retries, and keeps the thread's interrupt status.
 * </ul>
 *
 * <p>Thread-safe.
 */
public final class FileBlockDevice extends AbstractBlockDevice implements AllocationMap {
  private static final System.Logger LOG = System.getLogger(FileBlockDevice.class.getName());
  private static final int S_IFMT = 0170000;
  private static final int S_IFBLK = 0060000;
  private static final int S_IFREG = 0100000;

  /** 1 MiB of zeros, aligned for O_DIRECT (64 KiB, the largest logical block size). */
  private static final ByteBuffer ZEROS =
      ByteBuffer.allocateDirect((1 << 20) + 65536).alignedSlice(65536).asReadOnlyBuffer();

  private final Path path;
  private final OpenOption[] options;
  private final boolean direct;
  private final int alignment;
  private final boolean discardWritesZeroes;
  private final DeviceNumber blockDeviceNumber;
  private final FileHoles holes; // null: no native calls for this file
  private final boolean punch;
  private final Object reopenLock = new Object();
  private volatile FileChannel channel;

  private FileBlockDevice(
      Builder b,
      FileChannel channel,
      OpenOption[] options,
      Geometry g,
      IoLimits limits,
      FileHoles holes) {
    super(b.name != null ? b.name : b.path.toString(), g.sectors, limits, b.readOnly);
    this.path = b.path;
    this.options = options;
    this.channel = channel;
    this.direct = b.direct;
    this.alignment = limits.logicalBlockSize();
    this.discardWritesZeroes = b.discardWritesZeroes;
    this.blockDeviceNumber = g.number;
    this.holes = holes;
    this.punch = holes != null && b.punchable();
  }

  /** Opens {@code path} for reading and writing. */
  public static FileBlockDevice open(Path path) throws IOException {
    return builder(path).open();
  }

  public static Builder builder(Path path) {
    return new Builder(path);
  }

  public Path path() {
    return path;
  }

  public boolean isDirect() {
    return direct;
  }

  /** Whether discard punches holes in the file (see the class description). */
  public boolean punchesHoles() {
    return punch;
  }

  /**
   * Why this JVM cannot punch holes or find them ({@code "JNA ... is not on the class path"}), or
   * {@code null} if it can (a file system may still refuse: see {@link #punchesHoles()}).
   */
  public static String holesUnavailableReason() {
    return FileHoles.unavailableReason();
  }

  /** Extents the answer holds at most; the caller asks again from where it ends. */
  private static final int MAX_EXTENTS = 1024;

  /**
   * The file's holes ({@code lseek(SEEK_DATA/SEEK_HOLE)}) as holes reading zeros, the rest as data;
   * all data when the native calls are not available or this is a block device. A sector partly in
   * a hole counts as data.
   */
  @Override
  public List<Extent> extents(long sector, long sectors) throws IOException {
    long endSector = Math.min(sector + sectors, sectors());
    if (endSector <= sector) {
      return List.of();
    }
    if (holes == null) {
      return List.of(Extent.data(endSector - sector));
    }
    ensureOpen();
    List<Extent> out = new ArrayList<>();
    long end = endSector << Bio.SECTOR_SHIFT;
    long pos = sector << Bio.SECTOR_SHIFT;
    while (pos < end && out.size() < MAX_EXTENTS) {
      long data = holes.nextData(pos);
      if (data < 0 || data >= end) {
        data = end;
      }
      long holeEnd = data & -Bio.SECTOR_SIZE; // a partial sector of data is data
      if (holeEnd > pos) {
        AllocationMap.append(out, Extent.hole((holeEnd - pos) >>> Bio.SECTOR_SHIFT));
        pos = holeEnd;
      }
      if (pos >= end) {
        break;
      }
      long hole = holes.nextHole(pos);
      long dataEnd =
          hole < 0 ? end : Math.min(end, (hole + Bio.SECTOR_SIZE - 1) & -Bio.SECTOR_SIZE);
      if (dataEnd <= pos) {
        dataEnd = pos + Bio.SECTOR_SIZE; // the file changed under us: count a sector as data
      }
      AllocationMap.append(out, Extent.data((dataEnd - pos) >>> Bio.SECTOR_SHIFT));
      pos = dataEnd;
    }
    return out;
  }

  /** The real {@code major:minor} when this is a block device; empty for a regular file. */
  public Optional<DeviceNumber> blockDeviceNumber() {
    return Optional.ofNullable(blockDeviceNumber);
  }

  @Override
  protected void doSubmit(Bio bio) {
    boolean interrupted = Thread.interrupted();
    try {
      BlockStatus s = serve(bio);
      bio.complete(s);
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private BlockStatus serve(Bio bio) {
    for (int attempt = 0; ; attempt++) {
      FileChannel ch = channel;
      try {
        switch (bio.op()) {
          case READ:
            read(ch, bio);
            break;
          case WRITE:
            if (bio.hasFlag(Bio.PREFLUSH)) {
              ch.force(false);
            }
            write(ch, bio.data(), bio.dataOffset(), bio.bytes(), bio.sector());
            if (bio.hasFlag(Bio.FUA)) {
              ch.force(false);
            }
            break;
          case FLUSH:
            if (!isReadOnly()) {
              ch.force(false);
            }
            break;
          case DISCARD:
            if (punch) {
              holes.punch(
                  bio.sector() << Bio.SECTOR_SHIFT, (long) bio.sectors() << Bio.SECTOR_SHIFT);
            } else if (discardWritesZeroes) {
              writeZeros(ch, bio.sector(), bio.sectors());
            } else {
              return BlockStatus.NOTSUPP;
            }
            break;
          case WRITE_ZEROES:
            writeZeros(ch, bio.sector(), bio.sectors());
            break;
          default:
            throw new AssertionError(bio.op());
        }
        return BlockStatus.OK;
      } catch (ClosedChannelException e) {
        // Closed under us: by an interrupt of this or another thread, or by close().
        if (isClosed() || attempt >= 3) {
          return BlockStatus.IOERR;
        }
        if (e instanceof ClosedByInterruptException) {
          Thread.interrupted(); // keep it from closing the reopened channel; restored by caller
        }
        if (!reopen(ch)) {
          return BlockStatus.IOERR;
        }
      } catch (IOException | RuntimeException e) {
        LOG.log(Level.DEBUG, () -> name() + ": " + bio + " failed", e);
        return BlockStatus.IOERR;
      }
    }
  }

  private boolean reopen(FileChannel broken) {
    synchronized (reopenLock) {
      if (channel != broken) {
        return true; // someone else reopened it
      }
      try {
        channel = FileChannel.open(path, options);
        LOG.log(Level.DEBUG, () -> name() + ": reopened after an interrupt closed the channel");
        return true;
      } catch (IOException e) {
        LOG.log(Level.WARNING, () -> name() + ": cannot reopen " + path, e);
        return false;
      }
    }
  }

  private void read(FileChannel ch, Bio bio) throws IOException {
    ByteBuffer data = bio.data();
    int index = bio.dataOffset();
    int len = bio.bytes();
    long pos = bio.sector() << Bio.SECTOR_SHIFT;
    if (usableAsIs(data, index)) {
      readFully(ch, data.slice(index, len), pos);
      return;
    }
    ByteBuffer bounce = BOUNCE.get();
    for (int off = 0; off < len; ) {
      int n = Math.min(len - off, BOUNCE_SIZE);
      readFully(ch, bounce.clear().limit(n), pos + off);
      data.put(index + off, bounce, 0, n);
      off += n;
    }
  }

  private void readFully(FileChannel ch, ByteBuffer dst, long pos) throws IOException {
    while (dst.hasRemaining()) {
      if (ch.read(dst, pos + dst.position()) < 0) {
        throw new IOException(path + " is shorter than the device (" + size() + " bytes)");
      }
    }
  }

  private void write(FileChannel ch, ByteBuffer data, int index, int len, long sector)
      throws IOException {
    long pos = sector << Bio.SECTOR_SHIFT;
    if (usableAsIs(data, index)) {
      writeFully(ch, data.slice(index, len), pos);
      return;
    }
    ByteBuffer bounce = BOUNCE.get();
    for (int off = 0; off < len; ) {
      int n = Math.min(len - off, BOUNCE_SIZE);
      bounce.clear().limit(n);
      bounce.put(0, data, index + off, n);
      writeFully(ch, bounce, pos + off);
      off += n;
    }
  }

  private static void writeFully(FileChannel ch, ByteBuffer src, long pos) throws IOException {
    while (src.hasRemaining()) {
      ch.write(src, pos + src.position());
    }
  }

  private void writeZeros(FileChannel ch, long sector, int sectors) throws IOException {
    long pos = sector << Bio.SECTOR_SHIFT;
    long left = (long) sectors << Bio.SECTOR_SHIFT;
    while (left > 0) {
      int n = (int) Math.min(left, 1 << 20);
      writeFully(ch, ZEROS.slice(0, n), pos);
      pos += n;
      left -= n;
    }
  }

  /**
   * Whether the payload can go to the channel as it is: a direct buffer, aligned when O_DIRECT
   * needs it. Everything else goes through this thread's aligned bounce buffer, never through the
   * JDK's temporary buffer cache: JDK 17 puts unaligned slices into that cache for O_DIRECT and
   * later fails with a NullPointerException when it frees them (for any file, direct or not).
   */
  private boolean usableAsIs(ByteBuffer data, int index) {
    return data.isDirect() && (!direct || data.alignmentOffset(index, alignment) == 0);
  }

  private static final int BOUNCE_SIZE = 256 * 1024;

  private static final ThreadLocal<ByteBuffer> BOUNCE =
      ThreadLocal.withInitial(
          () -> ByteBuffer.allocateDirect(BOUNCE_SIZE + 65536).alignedSlice(65536));

  @Override
  protected void doClose() throws IOException {
    synchronized (reopenLock) {
      try {
        channel.close();
      } finally {
        if (holes != null) {
          holes.close();
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------------

  private static final class Geometry {
    long sectors;
    int logicalBlockSize = Bio.SECTOR_SIZE;
    int physicalBlockSize = Bio.SECTOR_SIZE;
    DeviceNumber number;
  }

  private static Geometry probe(Path path, FileChannel ch, int requestedLbs) throws IOException {
    Geometry g = new Geometry();
    Integer mode = null;
    Long rdev = null;
    try {
      Map<String, Object> attrs = Files.readAttributes(path, "unix:mode,rdev");
      mode = (Integer) attrs.get("mode");
      rdev = (Long) attrs.get("rdev");
    } catch (UnsupportedOperationException | IllegalArgumentException e) {
      // not a Unix file system view: treat as a regular file
    }
    if (mode != null && (mode & S_IFMT) == S_IFBLK) {
      g.number = DeviceNumber.fromDevT(rdev);
      Path sys = Path.of("/sys/dev/block/" + g.number);
      g.sectors = Long.parseLong(readSys(sys.resolve("size")));
      g.logicalBlockSize = Integer.parseInt(readSys(sys.resolve("queue/logical_block_size")));
      g.physicalBlockSize = Integer.parseInt(readSys(sys.resolve("queue/physical_block_size")));
    } else {
      g.logicalBlockSize = requestedLbs;
      g.physicalBlockSize = requestedLbs;
      g.sectors = ch.size() >>> Bio.SECTOR_SHIFT;
    }
    int lbsSectors = g.logicalBlockSize >>> Bio.SECTOR_SHIFT;
    g.sectors -= g.sectors % lbsSectors;
    return g;
  }

  /**
   * Only regular files and block devices hold blocks: a character device ({@code /dev/null}), a
   * FIFO or a socket is refused before it is opened (opening a FIFO would block), as the kernel's
   * {@code lookup_bdev} refuses it with {@code ENOTBLK}.
   */
  private static void checkFileType(Path path) throws IOException {
    int mode;
    try {
      mode = (Integer) Files.getAttribute(path, "unix:mode");
    } catch (UnsupportedOperationException | IllegalArgumentException e) {
      return; // not a Unix file system view: it can only hold regular files
    } catch (NoSuchFileException e) {
      return; // open says so
    }
    int type = mode & S_IFMT;
    if (type != S_IFREG && type != S_IFBLK) {
      throw new NotABlockDeviceException(path, type);
    }
  }

  /** The path names a character device, FIFO, socket or folder ({@code ENOTBLK}). */
  public static final class NotABlockDeviceException extends java.nio.file.FileSystemException {
    private static final long serialVersionUID = 1L;

    NotABlockDeviceException(Path path, int type) {
      super(path.toString(), null, "not a block device or regular file (" + typeName(type) + ")");
    }

    private static String typeName(int type) {
      switch (type) {
        case 0020000:
          return "a character device";
        case 0010000:
          return "a FIFO";
        case 0140000:
          return "a socket";
        case 0040000:
          return "a folder";
        default:
          return "file type 0" + Integer.toOctalString(type);
      }
    }
  }

  private static String readSys(Path p) throws IOException {
    return new String(Files.readAllBytes(p), StandardCharsets.US_ASCII).trim();
  }

  /** Options for opening a {@link FileBlockDevice}. */
  public static final class Builder {
    private final Path path;
    private String name;
    private boolean readOnly;
    private boolean direct;
    private boolean discardWritesZeroes;
    private boolean punchHoles = true;
    private int logicalBlockSize = Bio.SECTOR_SIZE;
    private long createSize = -1;

    private Builder(Path path) {
      this.path = Objects.requireNonNull(path, "path");
    }

    /** The device name in messages; default the path. */
    public Builder name(String name) {
      this.name = name;
      return this;
    }

    public Builder readOnly(boolean readOnly) {
      this.readOnly = readOnly;
      return this;
    }

    /** Open with {@code O_DIRECT}. */
    public Builder direct(boolean direct) {
      this.direct = direct;
      return this;
    }

    /**
     * Serve discards by writing zeros where holes cannot be punched (default: discard is then not
     * supported).
     */
    public Builder discardWritesZeroes(boolean discardWritesZeroes) {
      this.discardWritesZeroes = discardWritesZeroes;
      return this;
    }

    /**
     * Whether discard may punch holes where it can (default {@code true}); {@code false} keeps
     * every allocated block allocated, as a preallocated file may want (holes are still found).
     */
    public Builder punchHoles(boolean punchHoles) {
      this.punchHoles = punchHoles;
      return this;
    }

    private boolean punchable() {
      return punchHoles && !readOnly;
    }

    /** For a regular file: the logical block size to advertise (default 512). */
    public Builder logicalBlockSize(int bytes) {
      IoLimits.builder().logicalBlockSize(bytes); // validates
      this.logicalBlockSize = bytes;
      return this;
    }

    /**
     * Create the file if it does not exist, and make it {@code bytes} long if it is shorter (sparse
     * where the file system allows).
     */
    public Builder create(long bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("size " + bytes + " < 0");
      }
      this.createSize = bytes;
      return this;
    }

    public FileBlockDevice open() throws IOException {
      List<OpenOption> opts = new ArrayList<>();
      opts.add(StandardOpenOption.READ);
      if (!readOnly) {
        opts.add(StandardOpenOption.WRITE);
      }
      if (createSize >= 0) {
        if (readOnly) {
          throw new IllegalArgumentException("cannot create a read-only file");
        }
        // Create and size the file first: O_DIRECT refuses the unaligned write that extends it.
        try (RandomAccessFile f = new RandomAccessFile(path.toFile(), "rw")) {
          if (f.length() < createSize) {
            f.setLength(createSize);
          }
        }
      }
      checkFileType(path);
      int lbs = logicalBlockSize;
      if (direct) {
        opts.add(ExtendedOpenOption.DIRECT);
        Path dir = path.toAbsolutePath().getParent();
        int fsBlock =
            (int) Files.getFileStore(Files.exists(path) || dir == null ? path : dir).getBlockSize();
        lbs = Math.max(lbs, fsBlock);
      }
      OpenOption[] options = opts.toArray(new OpenOption[0]);
      FileChannel ch;
      try {
        ch = FileChannel.open(path, options);
      } catch (NoSuchFileException e) {
        throw new NoSuchFileException(path.toString(), null, "no such file or device");
      }
      FileHoles holes = null;
      try {
        Geometry g = probe(path, ch, lbs);
        if (g.number == null) {
          holes = openHoles();
        }
        boolean discard = discardWritesZeroes || holes != null && punchable();
        IoLimits limits =
            IoLimits.builder()
                .logicalBlockSize(g.logicalBlockSize)
                .physicalBlockSize(Math.max(g.physicalBlockSize, g.logicalBlockSize))
                .maxDiscardSectors(discard ? IoLimits.UNLIMITED : 0)
                .maxWriteZeroesSectors(IoLimits.UNLIMITED)
                .writeCache(!readOnly)
                .fua(!readOnly)
                .build();
        return new FileBlockDevice(this, ch, options, g, limits, holes);
      } catch (IOException | RuntimeException e) {
        ch.close();
        if (holes != null) {
          holes.close();
        }
        throw e;
      }
    }

    /** The native handle for holes, or null (not available here, or the file system says no). */
    private FileHoles openHoles() {
      try {
        return FileHoles.open(path, punchable());
      } catch (IOException e) {
        LOG.log(Level.DEBUG, () -> path + ": no hole punching: " + e.getMessage());
        return null;
      }
    }
  }
}
