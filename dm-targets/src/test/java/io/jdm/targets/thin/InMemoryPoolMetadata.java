package io.jdm.targets.thin;

import io.jdm.core.BlockDevice;
import io.jdm.core.Errno;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.zip.CRC32;

/**
 * The reference model of {@link PoolMetadata}: the kernel's {@code dm-thin-metadata.c} semantics in
 * plain maps, for the targets' tests now and, after the persistent metadata is merged, as the model
 * it is checked against.
 *
 * <ul>
 *   <li>reference counts per data block; a snapshot raises every mapped block's count and stamps
 *       both devices with a new snapshot time; a lookup says {@code shared} when the device was
 *       snapshotted after the block was mapped ({@code __snapshotted_since}), {@link
 *       #blockIsShared} when the count is above one;
 *   <li>a block freed in this transaction is not allocated again before the commit (as the kernel's
 *       disk space map, which looks for blocks free in the old and the new counts);
 *   <li>{@link #commit} keeps a copy that {@link #abort} returns to, and writes it to the metadata
 *       device (two alternating slots behind a header written last with FUA, in a format of this
 *       model's own), so crash tests that keep only what was flushed reopen the last commit;
 *   <li>errors as the kernel's: {@code EEXIST}, {@code EINVAL} (no such device, wrong transaction
 *       id, no held snapshot), {@code EBUSY} (open twice, delete while open, second metadata
 *       snapshot), {@code ENOSPC} (no free data block), {@code EROFS} (read-only).
 * </ul>
 *
 * <p>Thread-safe: every method holds the model's monitor.
 */
final class InMemoryPoolMetadata implements PoolMetadata {
  private static final long MAGIC = 0x4a444d5448494e4dL; // "JDMTHINM"
  private static final int HEADER = 4096;
  private static final long MAX_METADATA_SECTORS = Pool.METADATA_MAX_SECTORS;

  /** One device's details and mappings ({@code struct disk_device_details} and its tree). */
  private static final class Dev {
    long snapshottedTime;
    long transactionId;
    final TreeMap<Long, long[]> map = new TreeMap<>(); // virtual -> {data block, time}

    Dev copy() {
      Dev d = new Dev();
      d.snapshottedTime = snapshottedTime;
      d.transactionId = transactionId;
      for (Map.Entry<Long, long[]> e : map.entrySet()) {
        d.map.put(e.getKey(), e.getValue().clone());
      }
      return d;
    }
  }

  /** Everything a transaction changes. */
  private static final class State {
    long transactionId;
    long time;
    long dataBlocks;
    long metadataBlocks;
    long heldRoot;
    int[] refs = new int[0];
    TreeMap<Long, Dev> devices = new TreeMap<>();

    State copy() {
      State s = new State();
      s.transactionId = transactionId;
      s.time = time;
      s.dataBlocks = dataBlocks;
      s.metadataBlocks = metadataBlocks;
      s.heldRoot = heldRoot;
      s.refs = refs.clone();
      for (Map.Entry<Long, Dev> e : devices.entrySet()) {
        s.devices.put(e.getKey(), e.getValue().copy());
      }
      return s;
    }

    long mappings() {
      long n = 0;
      for (Dev d : devices.values()) {
        n += d.map.size();
      }
      return n;
    }
  }

  private final BlockDevice device;
  private final long dataBlockSectors;
  private State state;
  private State committed;
  private int slot; // the slot the last commit went to
  private boolean needsCheck;
  private boolean readOnly;
  private boolean closed;
  private boolean changed;
  private long allocCursor;
  private long freeCount = -1; // blocks free now and at the last commit; -1: count again
  private final Set<Long> changedDevices = new HashSet<>();
  private final Set<Long> abortedDevices = new HashSet<>();
  private final Map<Long, Handle> open = new HashMap<>();
  private PreCommit preCommit;
  private long threshold = -1;
  private Runnable thresholdCallback;
  private boolean thresholdFired;

  /** Commits so far (for tests of commit triggers). */
  private long commits;

  private InMemoryPoolMetadata(BlockDevice device, long dataBlockSectors) {
    this.device = device;
    this.dataBlockSectors = dataBlockSectors;
  }

  /** The {@link PoolMetadataOpener} of this model. */
  static PoolMetadata open(BlockDevice metadata, long dataBlockSectors, boolean formatIfEmpty)
      throws IOException {
    InMemoryPoolMetadata m = new InMemoryPoolMetadata(metadata, dataBlockSectors);
    ByteBuffer h = ByteBuffer.allocate(HEADER);
    metadata.read(h, 0);
    h.flip();
    long magic = h.getLong(0);
    if (magic != MAGIC) {
      for (int i = 0; i < HEADER; i++) {
        if (h.get(i) != 0) {
          throw new PoolMetadataException(
              Errno.EINVAL, "superblock validator check failed for block 0");
        }
      }
      if (!formatIfEmpty) {
        throw new PoolMetadataException(Errno.EINVAL, "could not access metadata: no superblock");
      }
      m.state = new State();
      m.state.metadataBlocks = m.deviceMetadataBlocks();
      m.committed = m.state.copy();
      m.slot = 1;
      m.writeCommitted();
      return m;
    }
    long bs = h.getLong(8);
    if (bs != dataBlockSectors) {
      throw new PoolMetadataException(
          Errno.EINVAL,
          "changing the data block size (from "
              + bs
              + " to "
              + dataBlockSectors
              + ") is not supported");
    }
    int slot = h.getInt(16);
    int len = h.getInt(20);
    long crc = h.getLong(24);
    m.needsCheck = h.get(32) != 0;
    byte[] payload = new byte[len];
    ByteBuffer p = ByteBuffer.allocate(Math.max(512, (len + 511) & ~511));
    metadata.read(p, m.slotOffset(slot));
    p.get(0, payload);
    CRC32 c = new CRC32();
    c.update(payload);
    if (c.getValue() != crc) {
      throw new PoolMetadataException(Errno.EIO, "metadata slot " + slot + " fails its checksum");
    }
    m.state = decode(payload);
    m.committed = m.state.copy();
    m.slot = slot;
    return m;
  }

  private long deviceMetadataBlocks() {
    return Math.min(device.sectors(), MAX_METADATA_SECTORS) / Pool.METADATA_BLOCK_SECTORS;
  }

  private long slotOffset(int s) {
    long slotBytes = (device.sectors() * 512 - HEADER) / 2 / 512 * 512;
    return HEADER + s * slotBytes;
  }

  private long slotBytes() {
    return (device.sectors() * 512 - HEADER) / 2 / 512 * 512;
  }

  private void writeCommitted() throws IOException {
    byte[] payload = encode(committed);
    int next = slot ^ 1;
    if (payload.length > slotBytes()) {
      throw new PoolMetadataException(Errno.ENOSPC, "metadata device full");
    }
    int padded = (payload.length + 511) & ~511;
    ByteBuffer p = ByteBuffer.allocate(Math.max(512, padded));
    p.put(payload).clear();
    device.write(p, slotOffset(next));
    device.flush();
    slot = next;
    writeHeader(payload);
  }

  private void writeHeader(byte[] payload) throws IOException {
    CRC32 c = new CRC32();
    c.update(payload);
    ByteBuffer h = ByteBuffer.allocate(HEADER);
    h.putLong(0, MAGIC).putLong(8, dataBlockSectors).putInt(16, slot).putInt(20, payload.length);
    h.putLong(24, c.getValue()).put(32, (byte) (needsCheck ? 1 : 0));
    device.write(h, 0);
    device.flush();
  }

  private static byte[] encode(State s) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeLong(s.transactionId);
      out.writeLong(s.time);
      out.writeLong(s.dataBlocks);
      out.writeLong(s.metadataBlocks);
      out.writeLong(s.heldRoot);
      out.writeInt(s.refs.length);
      for (int r : s.refs) {
        out.writeInt(r);
      }
      out.writeInt(s.devices.size());
      for (Map.Entry<Long, Dev> e : s.devices.entrySet()) {
        Dev d = e.getValue();
        out.writeLong(e.getKey());
        out.writeLong(d.snapshottedTime);
        out.writeLong(d.transactionId);
        out.writeInt(d.map.size());
        for (Map.Entry<Long, long[]> m : d.map.entrySet()) {
          out.writeLong(m.getKey());
          out.writeLong(m.getValue()[0]);
          out.writeLong(m.getValue()[1]);
        }
      }
    }
    return bytes.toByteArray();
  }

  private static State decode(byte[] payload) throws IOException {
    State s = new State();
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(payload))) {
      s.transactionId = in.readLong();
      s.time = in.readLong();
      s.dataBlocks = in.readLong();
      s.metadataBlocks = in.readLong();
      s.heldRoot = in.readLong();
      s.refs = new int[in.readInt()];
      for (int i = 0; i < s.refs.length; i++) {
        s.refs[i] = in.readInt();
      }
      int devs = in.readInt();
      for (int i = 0; i < devs; i++) {
        long id = in.readLong();
        Dev d = new Dev();
        d.snapshottedTime = in.readLong();
        d.transactionId = in.readLong();
        int n = in.readInt();
        for (int j = 0; j < n; j++) {
          long v = in.readLong();
          d.map.put(v, new long[] {in.readLong(), in.readLong()});
        }
        s.devices.put(id, d);
      }
    }
    return s;
  }

  // ---------------------------------------------------------------------------------------------

  private void ensureOpen() throws PoolMetadataException {
    if (closed) {
      throw new PoolMetadataException(Errno.EINVAL, "pool metadata is closed");
    }
  }

  private void ensureWritable() throws PoolMetadataException {
    ensureOpen();
    if (readOnly) {
      throw new PoolMetadataException(Errno.EROFS, "pool metadata is read-only");
    }
  }

  private void touch(long devId) {
    changed = true;
    changedDevices.add(devId);
  }

  private Dev dev(long id) throws PoolMetadataException {
    Dev d = state.devices.get(id);
    if (d == null) {
      throw new PoolMetadataException(Errno.EINVAL, "thin device " + id + " does not exist");
    }
    return d;
  }

  private boolean isFree(long b) {
    return state.refs[(int) b] == 0 && (b >= committed.refs.length || committed.refs[(int) b] == 0);
  }

  private void inc(long b) {
    if (freeCount >= 0 && isFree(b)) {
      freeCount--;
    }
    state.refs[(int) b]++;
  }

  private void dec(long b) throws PoolMetadataException {
    if (state.refs[(int) b] == 0) {
      throw new PoolMetadataException(Errno.EINVAL, "reference count of data block " + b + " < 0");
    }
    state.refs[(int) b]--;
    if (freeCount >= 0 && isFree(b)) {
      freeCount++;
    }
  }

  @Override
  public synchronized void createThin(long devId) throws IOException {
    ensureWritable();
    if (state.devices.containsKey(devId)) {
      throw new PoolMetadataException(Errno.EEXIST, "thin device " + devId + " exists");
    }
    Dev d = new Dev();
    d.snapshottedTime = state.time;
    state.devices.put(devId, d);
    touch(devId);
  }

  @Override
  public synchronized void createSnap(long devId, long originId) throws IOException {
    ensureWritable();
    if (state.devices.containsKey(devId)) {
      throw new PoolMetadataException(Errno.EEXIST, "thin device " + devId + " exists");
    }
    Dev origin = dev(originId);
    state.time++;
    Dev snap = origin.copy();
    for (long[] m : origin.map.values()) {
      inc(m[0]);
    }
    origin.snapshottedTime = state.time;
    snap.snapshottedTime = state.time;
    state.devices.put(devId, snap);
    touch(devId);
    touch(originId);
  }

  @Override
  public synchronized void deleteThin(long devId) throws IOException {
    ensureWritable();
    if (open.containsKey(devId)) {
      throw new PoolMetadataException(Errno.EBUSY, "thin device " + devId + " is open");
    }
    Dev d = dev(devId);
    for (long[] m : d.map.values()) {
      dec(m[0]);
    }
    state.devices.remove(devId);
    touch(devId);
  }

  @Override
  public synchronized void commit() throws IOException {
    ensureWritable();
    if (preCommit != null) {
      preCommit.run();
    }
    committed = state.copy();
    freeCount = -1;
    writeCommitted();
    changed = false;
    changedDevices.clear();
    abortedDevices.clear();
    commits++;
  }

  /** Commits so far. */
  synchronized long commits() {
    return commits;
  }

  @Override
  public synchronized void abort() throws IOException {
    ensureOpen();
    abortedDevices.addAll(changedDevices);
    changedDevices.clear();
    state = committed.copy();
    freeCount = -1;
    changed = false;
  }

  @Override
  public synchronized void setTransactionId(long current, long next) throws IOException {
    ensureWritable();
    if (state.transactionId != current) {
      throw new PoolMetadataException(
          Errno.EINVAL,
          "mismatched transaction id: expected " + state.transactionId + ", got " + current);
    }
    state.transactionId = next;
    changed = true;
  }

  @Override
  public synchronized long transactionId() {
    return state.transactionId;
  }

  @Override
  public synchronized void reserveMetadataSnap() throws IOException {
    ensureWritable();
    if (state.heldRoot != 0) {
      throw new PoolMetadataException(Errno.EBUSY, "metadata snapshot already held");
    }
    state.heldRoot = 1 + usedMetadataBlocks(state); // a block number of the model's choosing
    changed = true;
  }

  @Override
  public synchronized void releaseMetadataSnap() throws IOException {
    ensureWritable();
    if (state.heldRoot == 0) {
      throw new PoolMetadataException(Errno.EINVAL, "no metadata snapshot held");
    }
    state.heldRoot = 0;
    changed = true;
  }

  @Override
  public synchronized long metadataSnap() {
    return state.heldRoot;
  }

  @Override
  public synchronized ThinDeviceMetadata openThin(long devId) throws IOException {
    ensureOpen();
    dev(devId);
    if (open.containsKey(devId)) {
      throw new PoolMetadataException(Errno.EBUSY, "thin device " + devId + " is open");
    }
    Handle h = new Handle(devId);
    open.put(devId, h);
    return h;
  }

  @Override
  public synchronized long allocDataBlock() throws IOException {
    ensureWritable();
    long n = state.dataBlocks;
    for (long i = 0; i < n; i++) {
      long b = (allocCursor + i) % n;
      if (isFree(b)) {
        if (freeCount > 0) {
          freeCount--;
        }
        state.refs[(int) b] = 1;
        allocCursor = b + 1;
        changed = true;
        return b;
      }
    }
    throw new PoolMetadataException(Errno.ENOSPC, "no free data block");
  }

  @Override
  public synchronized boolean changedThisTransaction() {
    return changed || !changedDevices.isEmpty();
  }

  @Override
  public synchronized long freeDataBlocks() {
    if (freeCount < 0) {
      long free = 0;
      for (int i = 0; i < state.dataBlocks; i++) {
        if (isFree(i)) {
          free++;
        }
      }
      freeCount = free;
    }
    return freeCount;
  }

  private long usedMetadataBlocks(State s) {
    long bytes = 64 + 48L * s.devices.size() + 24 * s.mappings() + 4 * s.dataBlocks;
    return 1 + (bytes + 4095) / 4096;
  }

  @Override
  public synchronized long freeMetadataBlocks() {
    long free = state.metadataBlocks - usedMetadataBlocks(state);
    if (free < threshold && !thresholdFired && thresholdCallback != null) {
      thresholdFired = true;
      thresholdCallback.run();
    }
    return Math.max(0, free);
  }

  @Override
  public synchronized long dataBlocks() {
    return state.dataBlocks;
  }

  @Override
  public synchronized long metadataBlocks() {
    return state.metadataBlocks;
  }

  @Override
  public synchronized boolean blockIsShared(long dataBlock) {
    return state.refs[(int) dataBlock] > 1;
  }

  @Override
  public synchronized void incDataRange(long begin, long end) throws IOException {
    ensureWritable();
    for (long b = begin; b < end; b++) {
      inc(b);
    }
    changed = true;
  }

  @Override
  public synchronized void decDataRange(long begin, long end) throws IOException {
    ensureWritable();
    for (long b = begin; b < end; b++) {
      dec(b);
    }
    changed = true;
  }

  @Override
  public synchronized void resizeDataDev(long newBlocks) throws IOException {
    ensureWritable();
    if (newBlocks < state.dataBlocks) {
      for (long b = newBlocks; b < state.dataBlocks; b++) {
        if (state.refs[(int) b] != 0) {
          throw new PoolMetadataException(Errno.ENOSPC, "cannot shrink over allocated blocks");
        }
      }
    }
    state.refs = java.util.Arrays.copyOf(state.refs, (int) newBlocks);
    state.dataBlocks = newBlocks;
    freeCount = -1;
    changed = true;
  }

  @Override
  public synchronized void resizeMetadataDev(long newBlocks) throws IOException {
    ensureWritable();
    state.metadataBlocks = newBlocks;
    changed = true;
  }

  @Override
  public synchronized void setReadOnly(boolean readOnly) {
    this.readOnly = readOnly;
  }

  @Override
  public synchronized void registerMetadataThreshold(long threshold, Runnable callback) {
    this.threshold = threshold;
    this.thresholdCallback = callback;
    this.thresholdFired = false;
  }

  @Override
  public synchronized void setNeedsCheck() throws IOException {
    ensureOpen();
    needsCheck = true;
    writeHeader(encode(committed));
  }

  @Override
  public synchronized boolean needsCheck() {
    return needsCheck;
  }

  @Override
  public synchronized void registerPreCommit(PreCommit hook) {
    this.preCommit = hook;
  }

  @Override
  public synchronized void close() {
    closed = true;
    open.clear();
  }

  /** Every device's mappings now, for tests: id to (virtual block to data block). */
  synchronized Map<Long, Map<Long, Long>> mappings() {
    Map<Long, Map<Long, Long>> all = new TreeMap<>();
    for (Map.Entry<Long, Dev> e : state.devices.entrySet()) {
      Map<Long, Long> m = new TreeMap<>();
      for (Map.Entry<Long, long[]> x : e.getValue().map.entrySet()) {
        m.put(x.getKey(), x.getValue()[0]);
      }
      all.put(e.getKey(), m);
    }
    return all;
  }

  /** Checks that every reference count is the number of mappings to the block. */
  synchronized List<String> checkReferenceCounts() {
    int[] counted = new int[state.refs.length];
    for (Dev d : state.devices.values()) {
      for (long[] m : d.map.values()) {
        counted[(int) m[0]]++;
      }
    }
    List<String> wrong = new ArrayList<>();
    for (int i = 0; i < counted.length; i++) {
      if (counted[i] != state.refs[i]) {
        wrong.add("block " + i + ": count " + state.refs[i] + ", mapped " + counted[i]);
      }
    }
    return wrong;
  }

  /** {@code struct dm_thin_device}: the device is looked up by id on every call. */
  private final class Handle implements ThinDeviceMetadata {
    private final long id;
    private boolean handleClosed;

    Handle(long id) {
      this.id = id;
    }

    private Dev d() throws PoolMetadataException {
      ensureOpen();
      if (handleClosed) {
        throw new PoolMetadataException(Errno.EINVAL, "thin device " + id + " is closed");
      }
      return dev(id);
    }

    @Override
    public long id() {
      return id;
    }

    @Override
    public Lookup findBlock(long block) throws IOException {
      synchronized (InMemoryPoolMetadata.this) {
        Dev d = d();
        long[] m = d.map.get(block);
        return m == null ? null : new Lookup(m[0], d.snapshottedTime > m[1]);
      }
    }

    @Override
    public MappedRange findMappedRange(long begin, long end) throws IOException {
      synchronized (InMemoryPoolMetadata.this) {
        Dev d = d();
        Map.Entry<Long, long[]> first = d.map.ceilingEntry(begin);
        if (first == null || first.getKey() >= end) {
          return null;
        }
        long tb = first.getKey();
        long pb = first.getValue()[0];
        boolean shared = d.snapshottedTime > first.getValue()[1];
        long te = tb + 1;
        while (te < end) {
          long[] m = d.map.get(te);
          if (m == null || m[0] != pb + (te - tb)) {
            break;
          }
          shared |= d.snapshottedTime > m[1];
          te++;
        }
        return new MappedRange(tb, te, pb, shared);
      }
    }

    @Override
    public void insertBlock(long block, long dataBlock) throws IOException {
      synchronized (InMemoryPoolMetadata.this) {
        ensureWritable();
        Dev d = d();
        long[] old = d.map.put(block, new long[] {dataBlock, state.time});
        if (old != null) {
          dec(old[0]);
        }
        touch(id);
      }
    }

    @Override
    public void removeRange(long begin, long end) throws IOException {
      synchronized (InMemoryPoolMetadata.this) {
        ensureWritable();
        Dev d = d();
        List<Long> keys = new ArrayList<>(d.map.subMap(begin, end).keySet());
        for (long k : keys) {
          dec(d.map.remove(k)[0]);
        }
        touch(id);
      }
    }

    @Override
    public boolean changedThisTransaction() {
      synchronized (InMemoryPoolMetadata.this) {
        return changedDevices.contains(id);
      }
    }

    @Override
    public boolean abortedChanges() {
      synchronized (InMemoryPoolMetadata.this) {
        return abortedDevices.contains(id);
      }
    }

    @Override
    public long highestMappedBlock() throws IOException {
      synchronized (InMemoryPoolMetadata.this) {
        Dev d = d();
        return d.map.isEmpty() ? -1 : d.map.lastKey();
      }
    }

    @Override
    public long mappedCount() throws IOException {
      synchronized (InMemoryPoolMetadata.this) {
        return d().map.size();
      }
    }

    @Override
    public void close() {
      synchronized (InMemoryPoolMetadata.this) {
        handleClosed = true;
        open.remove(id, this);
      }
    }
  }
}
