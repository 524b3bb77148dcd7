package io.jdm.targets.thin.metadata;

import static io.jdm.targets.thin.metadata.ThinSuperblock.*;

import io.jdm.core.BlockDevice;
import io.jdm.core.Errno;
import io.jdm.core.bufio.HeldBlock;
import io.jdm.persistentdata.BTree;
import io.jdm.persistentdata.BlockManager;
import io.jdm.persistentdata.BlockTime;
import io.jdm.persistentdata.DiskSpaceMap;
import io.jdm.persistentdata.MetadataSpaceMap;
import io.jdm.persistentdata.PersistentDataException;
import io.jdm.persistentdata.TransactionManager;
import io.jdm.persistentdata.ValueType;
import io.jdm.targets.thin.PoolMetadata;
import io.jdm.targets.thin.PoolMetadataException;
import io.jdm.targets.thin.ThinDeviceMetadata;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The pool metadata in the kernel's format ({@code dm-thin-metadata.c}) on {@code
 * io.jdm.persistentdata}: a superblock at block 0 ({@link ThinSuperblock}), the device details tree
 * (thin id to {@code struct disk_device_details}), the two-level mapping tree (thin id, then
 * virtual block, to {@code data block << 24 | time}), the data space map and the metadata space
 * map, as {@code thin_check}, {@code thin_dump} and {@code thin_restore} read and write them.
 *
 * <p>Where it differs from the kernel (all visible through {@link PoolMetadata}'s contract):
 * opening a thin device that is open already is {@code EBUSY}; a missing thin id is {@code EINVAL}
 * (the kernel's {@code -ENODATA}); {@link #close()} does not commit; opening the same {@link
 * BlockDevice} object twice is {@code EBUSY} until the first is closed; a superblock whose version
 * is not 1 or 2, or whose metadata block size is not 8 sectors, is refused ({@code EINVAL}); an
 * abort reloads the open thin devices' details from the committed transaction.
 *
 * <p>Thread-safe: one read-write lock, lookups under its read side.
 */
public final class PersistentPoolMetadata implements PoolMetadata {
  /** {@code THIN_METADATA_MAX_SECTORS}, in metadata blocks. */
  public static final long MAX_METADATA_BLOCKS = MetadataSpaceMap.MAX_BLOCKS;

  /** The largest thin id (24 bits). */
  public static final long MAX_DEV_ID = (1L << 24) - 1;

  private static final int DETAILS_SIZE = 24;

  private static final Set<BlockDevice> OPEN =
      Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));

  private final BlockDevice device;
  private final long dataBlockSize;
  private final BlockManager bm;
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();

  // Everything below is guarded by lock.
  private TransactionManager tm;
  private MetadataSpaceMap metadataSm;
  private DiskSpaceMap dataSm;
  private BTree info;
  private BTree tlInfo;
  private BTree blInfo;
  private BTree detailsInfo;

  private long root;
  private long detailsRoot;
  private long heldRoot;
  private long transId;
  private int time;
  private int flags;
  private long metadataReserve;
  private boolean failIo;
  private boolean closed;
  private PreCommit preCommit;
  private long thresholdBlocks;
  private Runnable thresholdCallback;

  private final Map<Long, Td> devices = new LinkedHashMap<>();

  private PersistentPoolMetadata(BlockDevice device, long dataBlockSize, int cacheBlocks) {
    this.device = device;
    this.dataBlockSize = dataBlockSize;
    this.bm = cacheBlocks > 0 ? new BlockManager(device, cacheBlocks) : new BlockManager(device);
  }

  /**
   * {@code dm_pool_metadata_open}: opens the metadata on {@code metadata}, or formats it when its
   * superblock is all zeroes and {@code formatIfEmpty} (as {@code pool_ctr} does), for data blocks
   * of {@code dataBlockSectors} sectors. The data device's size is set afterwards with {@link
   * PoolMetadata#resizeDataDev}, as the pool's preresume does.
   *
   * @throws PoolMetadataException {@code EPERM} for an empty superblock without {@code
   *     formatIfEmpty}; {@code EINVAL} for another data block size, version or unsupported
   *     features; {@code EIO} for a corrupt superblock or space map (the message names the block
   *     and the structure); {@code EBUSY} when this device object is open already
   */
  public static PoolMetadata open(
      BlockDevice metadata, long dataBlockSectors, boolean formatIfEmpty)
      throws PoolMetadataException {
    return open(metadata, dataBlockSectors, formatIfEmpty, 0);
  }

  /**
   * {@link #open(BlockDevice, long, boolean)} with a block cache of {@code cacheBlocks} blocks (0:
   * bufio's default), for tests that want dirty blocks written back in mid-transaction.
   */
  static PoolMetadata open(
      BlockDevice metadata, long dataBlockSectors, boolean formatIfEmpty, int cacheBlocks)
      throws PoolMetadataException {
    if (!OPEN.add(metadata)) {
      throw new PoolMetadataException(
          Errno.EBUSY, "pool metadata on " + metadata.name() + " is open already");
    }
    PersistentPoolMetadata pmd = null;
    try {
      pmd = new PersistentPoolMetadata(metadata, dataBlockSectors, cacheBlocks);
      pmd.openOrFormat(formatIfEmpty);
      pmd.beginTransaction();
      pmd.setMetadataReserve();
      return pmd;
    } catch (IOException | RuntimeException e) {
      OPEN.remove(metadata);
      if (pmd != null) {
        try {
          pmd.bm.close();
        } catch (IOException | RuntimeException suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw translate(e, "open pool metadata on " + metadata.name());
    }
  }

  private static PoolMetadataException translate(Exception e, String what) {
    if (e instanceof PoolMetadataException p) {
      return p;
    }
    if (e instanceof PersistentDataException p) {
      return new PoolMetadataException(p.errno(), what + ": " + p.getMessage(), p);
    }
    if (e instanceof IllegalArgumentException) {
      return new PoolMetadataException(Errno.EINVAL, what + ": " + e.getMessage(), e);
    }
    return new PoolMetadataException(Errno.EIO, what + ": " + e.getMessage(), e);
  }

  // ---------------------------------------------------------------------------------------------
  // Opening and formatting

  private void setupTrees() {
    ValueType dataBlocks = BlockTime.valueType(dataSm);
    info = new BTree(tm, 2, dataBlocks);
    blInfo = new BTree(tm, dataBlocks);
    tlInfo =
        new BTree(
            tm,
            new ValueType() {
              @Override
              public int size() {
                return 8;
              }

              @Override
              public void inc(ByteBuffer values, int offset) throws IOException {
                tm.inc(values.getLong(offset));
              }

              @Override
              public void dec(ByteBuffer values, int offset) throws IOException {
                blInfo.del(values.getLong(offset));
              }

              @Override
              public boolean hasDec() {
                return true;
              }
            });
    detailsInfo = new BTree(tm, ValueType.ofSize(DETAILS_SIZE));
  }

  private void openOrFormat(boolean format) throws IOException {
    boolean zeroes = true;
    try (HeldBlock h = bm.readLock(LOCATION, null)) {
      ByteBuffer b = h.data();
      for (int i = 0; i < b.capacity(); i += 8) {
        if (b.getLong(i) != 0) {
          zeroes = false;
          break;
        }
      }
    }
    bm.bufio().forget(LOCATION);
    if (zeroes) {
      if (!format) {
        throw new PoolMetadataException(
            Errno.EPERM, "pool metadata on " + device.name() + " is not formatted (all zeroes)");
      }
      formatMetadata();
    } else {
      openMetadata();
    }
  }

  private void formatMetadata() throws IOException {
    if (dataBlockSize <= 0 || dataBlockSize > 0xFFFFFFFFL) {
      throw new PoolMetadataException(
          Errno.EINVAL, "data block size " + dataBlockSize + " sectors (expected: 1..2^32-1)");
    }
    tm = new TransactionManager(bm);
    long nr = Math.min(bm.blocks(), MAX_METADATA_BLOCKS);
    metadataSm = MetadataSpaceMap.create(tm, nr, LOCATION);
    dataSm = DiskSpaceMap.create(tm, 0);
    setupTrees();
    root = info.empty();
    detailsRoot = detailsInfo.empty();
    dataSm.commit();
    tm.preCommit();
    byte[] mroot = metadataSm.root();
    byte[] droot = dataSm.root();
    tm.commit(
        LOCATION,
        VALIDATOR,
        true,
        b -> {
          b.putLong(MAGIC_OFF, MAGIC);
          b.putInt(VERSION_OFF, VERSION);
          b.put(DATA_SM_ROOT, droot);
          b.put(METADATA_SM_ROOT, mroot);
          b.putLong(DATA_MAPPING_ROOT, root);
          b.putLong(DEVICE_DETAILS_ROOT, detailsRoot);
          b.putInt(DATA_BLOCK_SIZE, (int) dataBlockSize);
          b.putInt(METADATA_BLOCK_SIZE, METADATA_BLOCK_SECTORS);
          b.putLong(METADATA_NR_BLOCKS, nr);
        });
  }

  private void openMetadata() throws IOException {
    byte[] mroot = new byte[SM_ROOT_SIZE];
    byte[] droot = new byte[SM_ROOT_SIZE];
    try (HeldBlock h = bm.readLock(LOCATION, VALIDATOR)) {
      ByteBuffer b = h.data();
      int version = b.getInt(VERSION_OFF);
      if (version < 1 || version > VERSION) {
        throw new PoolMetadataException(
            Errno.EINVAL,
            "superblock block 0 on "
                + device.name()
                + ": unsupported metadata version "
                + Integer.toUnsignedString(version)
                + " (expected 1 or 2)");
      }
      long dbs = b.getInt(DATA_BLOCK_SIZE) & 0xFFFFFFFFL;
      if (dbs != dataBlockSize) {
        throw new PoolMetadataException(
            Errno.EINVAL,
            "changing the data block size (from "
                + dbs
                + " to "
                + dataBlockSize
                + ") is not supported");
      }
      int mbs = b.getInt(METADATA_BLOCK_SIZE);
      if (mbs != METADATA_BLOCK_SECTORS) {
        throw new PoolMetadataException(
            Errno.EINVAL,
            "superblock block 0 on "
                + device.name()
                + ": metadata block size "
                + mbs
                + " sectors (expected "
                + METADATA_BLOCK_SECTORS
                + ")");
      }
      int incompat = b.getInt(INCOMPAT_FLAGS);
      if (incompat != 0) {
        throw new PoolMetadataException(
            Errno.EINVAL,
            "could not access metadata due to unsupported optional features ("
                + Integer.toHexString(incompat)
                + ").");
      }
      int compatRo = b.getInt(COMPAT_RO_FLAGS);
      if (compatRo != 0 && !device.isReadOnly()) {
        throw new PoolMetadataException(
            Errno.EINVAL,
            "could not access metadata RDWR due to unsupported optional features ("
                + Integer.toHexString(compatRo)
                + ").");
      }
      b.get(METADATA_SM_ROOT, mroot);
      b.get(DATA_SM_ROOT, droot);
    }
    tm = new TransactionManager(bm);
    metadataSm = MetadataSpaceMap.open(tm, mroot);
    dataSm = DiskSpaceMap.open(tm, droot);
    setupTrees();
    if (thresholdCallback != null) {
      metadataSm.registerThreshold(thresholdBlocks, thresholdCallback);
    }
  }

  private void beginTransaction() throws IOException {
    try (HeldBlock h = bm.readLock(LOCATION, VALIDATOR)) {
      ByteBuffer b = h.data();
      time = b.getInt(TIME);
      root = b.getLong(DATA_MAPPING_ROOT);
      detailsRoot = b.getLong(DEVICE_DETAILS_ROOT);
      heldRoot = b.getLong(HELD_ROOT);
      transId = b.getLong(TRANS_ID);
      flags = b.getInt(FLAGS);
    }
    tm.beginTransaction();
  }

  private void setMetadataReserve() {
    metadataReserve = Math.min(4096, metadataSm.nrBlocks() / 10);
  }

  // ---------------------------------------------------------------------------------------------
  // Locking and errors

  @FunctionalInterface
  private interface Body<T> {
    T run() throws IOException;
  }

  private <T> T write(String what, Body<T> body) throws PoolMetadataException {
    lock.writeLock().lock();
    try {
      ensureUsable();
      if (bm.isReadOnly()) {
        throw new PoolMetadataException(
            Errno.EROFS, what + ": pool metadata on " + device.name() + " is read-only");
      }
      return body.run();
    } catch (IOException | RuntimeException e) {
      if (e instanceof IllegalStateException ise) {
        throw ise; // closed pool or device: a caller's mistake, not an I/O error
      }
      throw translate(e, what);
    } finally {
      lock.writeLock().unlock();
    }
  }

  /** One value read under the read lock (the single-field getters). */
  private long readLocked(java.util.function.LongSupplier value) {
    lock.readLock().lock();
    try {
      return value.getAsLong();
    } finally {
      lock.readLock().unlock();
    }
  }

  private boolean readLocked(java.util.function.BooleanSupplier value) {
    lock.readLock().lock();
    try {
      return value.getAsBoolean();
    } finally {
      lock.readLock().unlock();
    }
  }

  private <T> T read(String what, Body<T> body) throws PoolMetadataException {
    lock.readLock().lock();
    try {
      ensureUsable();
      return body.run();
    } catch (IOException | RuntimeException e) {
      if (e instanceof IllegalStateException ise) {
        throw ise; // closed pool or device: a caller's mistake, not an I/O error
      }
      throw translate(e, what);
    } finally {
      lock.readLock().unlock();
    }
  }

  private void ensureUsable() throws PoolMetadataException {
    if (closed) {
      throw new IllegalStateException("pool metadata on " + device.name() + " is closed");
    }
    if (failIo) {
      throw new PoolMetadataException(
          Errno.EINVAL, "pool metadata on " + device.name() + " failed: abort could not reopen it");
    }
  }

  private static void checkId(long id) throws PoolMetadataException {
    if (id < 0 || id > MAX_DEV_ID) {
      throw new PoolMetadataException(
          Errno.EINVAL, "thin id " + id + " (expected: 0 <= id <= " + MAX_DEV_ID + ")");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Devices

  /** {@code struct dm_thin_device}: one thin device's in-core details. */
  private final class Td implements ThinDeviceMetadata {
    final long id;
    int openCount;
    boolean changed;
    boolean abortedWithChanges;
    long mappedBlocks;
    long transactionId;
    int creationTime;
    int snapshottedTime;

    Td(long id) {
      this.id = id;
    }

    void load(byte[] d) {
      ByteBuffer b = ByteBuffer.wrap(d).order(ByteOrder.LITTLE_ENDIAN);
      mappedBlocks = b.getLong(0);
      transactionId = b.getLong(8);
      creationTime = b.getInt(16);
      snapshottedTime = b.getInt(20);
    }

    byte[] details() {
      ByteBuffer b = ByteBuffer.allocate(DETAILS_SIZE).order(ByteOrder.LITTLE_ENDIAN);
      b.putLong(0, mappedBlocks);
      b.putLong(8, transactionId);
      b.putInt(16, creationTime);
      b.putInt(20, snapshottedTime);
      return b.array();
    }

    private void ensureOpen() {
      if (openCount == 0 || closed) {
        throw new IllegalStateException("thin device " + id + " is closed");
      }
    }

    @Override
    public long id() {
      return id;
    }

    private Lookup unpack(byte[] v) {
      long bt = ValueType.le64(v);
      return new Lookup(BlockTime.block(bt), snapshottedTime > BlockTime.time(bt));
    }

    @Override
    public Lookup findBlock(long block) throws IOException {
      return read(
          "find block " + block + " of thin " + id,
          () -> {
            ensureOpen();
            byte[] v = info.lookup(root, id, block);
            return v == null ? null : unpack(v);
          });
    }

    @Override
    public MappedRange findMappedRange(long begin, long end) throws IOException {
      return read(
          "find mapped range of thin " + id,
          () -> {
            ensureOpen();
            if (Long.compareUnsigned(end, begin) < 0) {
              return null;
            }
            BTree.Entry e = info.lookupNext(root, id, begin);
            if (e == null || Long.compareUnsigned(e.key(), end) >= 0) {
              return null;
            }
            Lookup first = unpack(e.value());
            long thinBegin = e.key();
            long poolEnd = first.dataBlock() + 1;
            long b = thinBegin + 1;
            while (b != end) {
              byte[] v = info.lookup(root, id, b);
              if (v == null) {
                break;
              }
              Lookup l = unpack(v);
              if (l.dataBlock() != poolEnd || l.shared() != first.shared()) {
                break;
              }
              poolEnd++;
              b++;
            }
            return new MappedRange(thinBegin, b, first.dataBlock(), first.shared());
          });
    }

    @Override
    public void insertBlock(long block, long dataBlock) throws IOException {
      write(
          "insert block " + block + " of thin " + id,
          () -> {
            ensureOpen();
            if (dataBlock < 0 || dataBlock >= 1L << 40) {
              throw new PoolMetadataException(
                  Errno.EINVAL, "data block " + dataBlock + " (expected: 0 <= block < 2^40)");
            }
            long bt = BlockTime.pack(dataBlock, time);
            BTree.Inserted r = info.insert(root, new long[] {id, block}, ValueType.le64(bt));
            root = r.root();
            changed = true;
            if (r.inserted()) {
              mappedBlocks++;
            }
            return null;
          });
    }

    @Override
    public void removeRange(long begin, long end) throws IOException {
      write(
          "remove blocks " + begin + ".." + end + " of thin " + id,
          () -> {
            ensureOpen();
            byte[] v = tlInfo.lookup(root, id);
            if (v == null) {
              throw new PoolMetadataException(Errno.EINVAL, "thin " + id + " has no mappings tree");
            }
            long mappingRoot = ValueType.le64(v);
            tm.inc(mappingRoot);
            root = tlInfo.remove(root, id);
            long count = 0;
            long b = begin;
            while (Long.compareUnsigned(b, end) < 0) {
              BTree.Entry e = blInfo.lookupNext(mappingRoot, b);
              if (e == null || Long.compareUnsigned(e.key(), end) >= 0) {
                break;
              }
              mappingRoot = blInfo.remove(mappingRoot, e.key());
              count++;
              b = e.key() + 1;
              if (b == 0) {
                break;
              }
            }
            mappedBlocks -= count;
            changed = true;
            root = tlInfo.insert(root, id, ValueType.le64(mappingRoot));
            return null;
          });
    }

    @Override
    public boolean changedThisTransaction() {
      return readLocked(() -> changed);
    }

    @Override
    public boolean abortedChanges() {
      return readLocked(() -> abortedWithChanges);
    }

    @Override
    public long highestMappedBlock() throws IOException {
      return read(
          "highest mapped block of thin " + id,
          () -> {
            ensureOpen();
            byte[] v = tlInfo.lookup(root, id);
            if (v == null) {
              return -1L;
            }
            OptionalLong h = blInfo.findHighestKey(ValueType.le64(v));
            return h.isPresent() ? h.getAsLong() : -1L;
          });
    }

    @Override
    public long mappedCount() throws IOException {
      return read(
          "mapped count of thin " + id,
          () -> {
            ensureOpen();
            return mappedBlocks;
          });
    }

    @Override
    public void close() {
      lock.writeLock().lock();
      try {
        if (openCount > 0) {
          openCount--;
        }
      } finally {
        lock.writeLock().unlock();
      }
    }

    @Override
    public String toString() {
      return "thin " + id + " (" + mappedBlocks + " mapped)";
    }
  }

  /** {@code __open_device}: the in-core device, read from the details tree or created. */
  private Td openDevice(long id, boolean create) throws IOException {
    Td td = devices.get(id);
    if (td != null) {
      if (create) {
        throw new PoolMetadataException(Errno.EEXIST, "thin " + id + " exists already");
      }
      return td;
    }
    byte[] d = detailsInfo.lookup(detailsRoot, id);
    td = new Td(id);
    if (d == null) {
      if (!create) {
        throw new PoolMetadataException(Errno.EINVAL, "thin " + id + " does not exist");
      }
      td.changed = true;
      td.transactionId = transId;
      td.creationTime = time;
      td.snapshottedTime = time;
    } else {
      td.load(d);
    }
    devices.put(id, td);
    return td;
  }

  private boolean exists(long id) throws IOException {
    return devices.containsKey(id) || detailsInfo.lookup(detailsRoot, id) != null;
  }

  @Override
  public void createThin(long devId) throws IOException {
    write(
        "create thin " + devId,
        () -> {
          checkId(devId);
          if (exists(devId)) {
            throw new PoolMetadataException(Errno.EEXIST, "thin " + devId + " exists already");
          }
          long devRoot = blInfo.empty();
          root = tlInfo.insert(root, devId, ValueType.le64(devRoot));
          openDevice(devId, true);
          return null;
        });
  }

  @Override
  public void createSnap(long devId, long originId) throws IOException {
    write(
        "create snapshot " + devId + " of thin " + originId,
        () -> {
          checkId(devId);
          checkId(originId);
          if (exists(devId)) {
            throw new PoolMetadataException(Errno.EEXIST, "thin " + devId + " exists already");
          }
          byte[] v = tlInfo.lookup(root, originId);
          if (v == null) {
            throw new PoolMetadataException(
                Errno.EINVAL, "origin thin " + originId + " does not exist");
          }
          long originRoot = ValueType.le64(v);
          tm.inc(originRoot);
          root = tlInfo.insert(root, devId, ValueType.le64(originRoot));
          time++;
          Td snap = openDevice(devId, true);
          Td origin = openDevice(originId, false);
          origin.changed = true;
          origin.snapshottedTime = time;
          snap.mappedBlocks = origin.mappedBlocks;
          snap.snapshottedTime = time;
          return null;
        });
  }

  @Override
  public void deleteThin(long devId) throws IOException {
    write(
        "delete thin " + devId,
        () -> {
          checkId(devId);
          Td td = openDevice(devId, false);
          if (td.openCount > 0) {
            throw new PoolMetadataException(Errno.EBUSY, "thin " + devId + " is open");
          }
          devices.remove(devId);
          detailsRoot = detailsInfo.remove(detailsRoot, devId);
          root = tlInfo.remove(root, devId);
          return null;
        });
  }

  @Override
  public ThinDeviceMetadata openThin(long devId) throws IOException {
    lock.writeLock().lock();
    try {
      ensureUsable();
      checkId(devId);
      Td td = openDevice(devId, false);
      if (td.openCount > 0) {
        throw new PoolMetadataException(Errno.EBUSY, "thin " + devId + " is open already");
      }
      td.openCount = 1;
      return td;
    } catch (IOException | RuntimeException e) {
      if (e instanceof IllegalStateException ise) {
        throw ise; // closed pool or device: a caller's mistake, not an I/O error
      }
      throw translate(e, "open thin " + devId);
    } finally {
      lock.writeLock().unlock();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Transactions

  @Override
  public void commit() throws IOException {
    write(
        "commit",
        () -> {
          commitTransaction();
          beginTransaction();
          return null;
        });
  }

  private void commitTransaction() throws IOException {
    if (preCommit != null) {
      preCommit.run();
    }
    for (Iterator<Td> it = devices.values().iterator(); it.hasNext(); ) {
      Td td = it.next();
      if (!td.changed) {
        continue;
      }
      detailsRoot = detailsInfo.insert(detailsRoot, td.id, td.details());
      if (td.openCount > 0) {
        td.changed = false;
      } else {
        it.remove();
      }
    }
    dataSm.commit();
    tm.preCommit();
    byte[] mroot = metadataSm.root();
    byte[] droot = dataSm.root();
    tm.commit(
        LOCATION,
        VALIDATOR,
        b -> {
          b.putInt(TIME, time);
          b.putLong(DATA_MAPPING_ROOT, root);
          b.putLong(DEVICE_DETAILS_ROOT, detailsRoot);
          b.putLong(HELD_ROOT, heldRoot);
          b.putLong(TRANS_ID, transId);
          b.putInt(FLAGS, flags);
          b.put(METADATA_SM_ROOT, mroot);
          b.put(DATA_SM_ROOT, droot);
        });
  }

  @Override
  public void abort() throws IOException {
    lock.writeLock().lock();
    try {
      ensureUsable();
      for (Td td : devices.values()) {
        td.abortedWithChanges = td.changed;
      }
      try {
        openMetadata();
        beginTransaction();
        for (Iterator<Td> it = devices.values().iterator(); it.hasNext(); ) {
          Td td = it.next();
          byte[] d = detailsInfo.lookup(detailsRoot, td.id);
          if (td.openCount == 0) {
            it.remove();
          } else if (d != null) {
            td.load(d);
          } else {
            td.mappedBlocks = 0;
          }
          td.changed = false;
        }
      } catch (IOException | RuntimeException e) {
        failIo = true;
        throw e;
      }
    } catch (IOException | RuntimeException e) {
      throw translate(e, "abort");
    } finally {
      lock.writeLock().unlock();
    }
  }

  @Override
  public void setTransactionId(long current, long next) throws IOException {
    write(
        "set transaction id",
        () -> {
          if (transId != current) {
            throw new PoolMetadataException(
                Errno.EINVAL,
                "mismatched transaction id: " + current + " given, " + transId + " held");
          }
          transId = next;
          return null;
        });
  }

  @Override
  public long transactionId() {
    return readLocked(() -> transId);
  }

  @Override
  public void reserveMetadataSnap() throws IOException {
    write(
        "reserve metadata snap",
        () -> {
          if (heldRoot != 0) {
            throw new PoolMetadataException(
                Errno.EBUSY,
                "Pool metadata snapshot already exists: release this before taking another.");
          }
          commitTransaction();
          beginTransaction();
          tm.inc(LOCATION);
          TransactionManager.Shadow s = tm.shadow(LOCATION);
          ByteBuffer copy = ByteBuffer.allocate(BlockManager.BLOCK_SIZE);
          try (HeldBlock h = bm.readLock(LOCATION, VALIDATOR)) {
            copy.put(0, h.data(), 0, BlockManager.BLOCK_SIZE);
          }
          copy.order(ByteOrder.LITTLE_ENDIAN);
          copy.put(DATA_SM_ROOT, new byte[SM_ROOT_SIZE]);
          copy.put(METADATA_SM_ROOT, new byte[SM_ROOT_SIZE]);
          tm.inc(copy.getLong(DATA_MAPPING_ROOT));
          tm.inc(copy.getLong(DEVICE_DETAILS_ROOT));
          tm.write(s.block(), VALIDATOR, copy);
          heldRoot = s.block();
          return null;
        });
  }

  @Override
  public void releaseMetadataSnap() throws IOException {
    write(
        "release metadata snap",
        () -> {
          if (heldRoot == 0) {
            throw new PoolMetadataException(
                Errno.EINVAL, "No pool metadata snapshot found: nothing to release.");
          }
          long mapping;
          long details;
          try (HeldBlock h = bm.readLock(heldRoot, VALIDATOR)) {
            mapping = h.data().getLong(DATA_MAPPING_ROOT);
            details = h.data().getLong(DEVICE_DETAILS_ROOT);
          }
          long held = heldRoot;
          heldRoot = 0;
          info.del(mapping);
          detailsInfo.del(details);
          tm.dec(held);
          return null;
        });
  }

  @Override
  public long metadataSnap() {
    return readLocked(() -> heldRoot);
  }

  // ---------------------------------------------------------------------------------------------
  // Space

  @Override
  public long allocDataBlock() throws IOException {
    return write("allocate a data block", () -> dataSm.newBlock());
  }

  @Override
  public boolean changedThisTransaction() {
    lock.readLock().lock();
    try {
      for (Td td : devices.values()) {
        if (td.changed) {
          return true;
        }
      }
      return false;
    } finally {
      lock.readLock().unlock();
    }
  }

  @Override
  public long freeDataBlocks() throws IOException {
    return read("free data blocks", () -> dataSm.nrFree());
  }

  @Override
  public long freeMetadataBlocks() throws IOException {
    return read(
        "free metadata blocks",
        () -> {
          long free = metadataSm.nrFree();
          return free < metadataReserve ? 0 : free - metadataReserve;
        });
  }

  @Override
  public long dataBlocks() throws IOException {
    return read("data device size", () -> dataSm.nrBlocks());
  }

  @Override
  public long metadataBlocks() throws IOException {
    return read("metadata device size", () -> metadataSm.nrBlocks());
  }

  @Override
  public boolean blockIsShared(long dataBlock) throws IOException {
    return read("block is shared", () -> dataSm.countIsMoreThanOne(dataBlock));
  }

  @Override
  public void incDataRange(long begin, long end) throws IOException {
    write(
        "inc data range",
        () -> {
          dataSm.inc(begin, end);
          return null;
        });
  }

  @Override
  public void decDataRange(long begin, long end) throws IOException {
    write(
        "dec data range",
        () -> {
          dataSm.dec(begin, end);
          return null;
        });
  }

  @Override
  public void resizeDataDev(long newBlocks) throws IOException {
    write(
        "resize data device",
        () -> {
          long old = dataSm.nrBlocks();
          if (newBlocks < old) {
            throw new PoolMetadataException(
                Errno.EINVAL,
                "cannot reduce size of space map (from "
                    + old
                    + " to "
                    + newBlocks
                    + " data blocks)");
          }
          dataSm.extend(newBlocks - old);
          return null;
        });
  }

  @Override
  public void resizeMetadataDev(long newBlocks) throws IOException {
    write(
        "resize metadata device",
        () -> {
          long old = metadataSm.nrBlocks();
          if (newBlocks < old) {
            throw new PoolMetadataException(
                Errno.EINVAL,
                "cannot reduce size of space map (from "
                    + old
                    + " to "
                    + newBlocks
                    + " metadata blocks)");
          }
          if (newBlocks > bm.blocks()) {
            throw new PoolMetadataException(
                Errno.EINVAL,
                "metadata device "
                    + device.name()
                    + " has "
                    + bm.blocks()
                    + " blocks, not "
                    + newBlocks);
          }
          metadataSm.extend(newBlocks - old);
          setMetadataReserve();
          return null;
        });
  }

  @Override
  public void setReadOnly(boolean readOnly) {
    lock.writeLock().lock();
    try {
      bm.setReadOnly(readOnly);
    } finally {
      lock.writeLock().unlock();
    }
  }

  @Override
  public void registerMetadataThreshold(long threshold, Runnable callback) {
    lock.writeLock().lock();
    try {
      thresholdBlocks = threshold;
      thresholdCallback = callback;
      if (metadataSm != null) {
        metadataSm.registerThreshold(threshold, callback);
      }
    } finally {
      lock.writeLock().unlock();
    }
  }

  @Override
  public void setNeedsCheck() throws IOException {
    write(
        "set needs_check",
        () -> {
          flags |= NEEDS_CHECK_FLAG;
          try (HeldBlock h = bm.writeLock(LOCATION, VALIDATOR)) {
            h.data().putInt(FLAGS, flags);
            h.markDirty();
          }
          bm.flush();
          return null;
        });
  }

  @Override
  public boolean needsCheck() {
    return readLocked(() -> (flags & NEEDS_CHECK_FLAG) != 0);
  }

  @Override
  public void registerPreCommit(PreCommit hook) {
    lock.writeLock().lock();
    try {
      preCommit = hook;
    } finally {
      lock.writeLock().unlock();
    }
  }

  @Override
  public void close() throws IOException {
    lock.writeLock().lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      OPEN.remove(device);
      bm.close();
    } finally {
      lock.writeLock().unlock();
    }
  }

  @Override
  public String toString() {
    return "pool metadata on " + device.name();
  }

  // ---------------------------------------------------------------------------------------------
  // For the tests and tools of this package

  /** The committed and current roots, for checks: mapping tree, details tree, held root. */
  long[] roots() {
    lock.readLock().lock();
    try {
      return new long[] {root, detailsRoot, heldRoot};
    } finally {
      lock.readLock().unlock();
    }
  }
}
