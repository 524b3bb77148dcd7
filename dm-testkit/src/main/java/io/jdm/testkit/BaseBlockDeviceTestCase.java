package io.jdm.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockIOException;
import io.jdm.core.BlockStatus;
import io.jdm.core.IoLimits;
import io.jdm.testkit.DeviceCapabilities.Data;
import io.jdm.testkit.DeviceCapabilities.Discard;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The conformance suite every {@link BlockDevice} passes. A concrete test is one factory method and
 * a {@link DeviceCapabilities} declaration; tests that do not apply to the declared capabilities
 * skip themselves.
 *
 * <p>What it checks: seeded random reads, writes, flushes, FUA and pre-flush writes, discards and
 * write-zeroes against a {@link ReferenceModel}, through the synchronous helpers and through many
 * outstanding asynchronous bios; heap and direct buffers at odd offsets; I/O at the last block,
 * past the end and across the end (which must fail and change nothing); unaligned and zero-length
 * requests; verified I/O from several threads at once; the {@link java.nio.channels.FileChannel}
 * view; closing twice and use after close. After every test it checks that every bio completed
 * exactly once, closes the devices the test made, runs {@link #afterDevicesClosed()} (where
 * subclasses check for leaks) and checks no {@code jdm-} worker thread outlived them.
 *
 * <p>Randomness comes from one seed per test, printed when the test fails; rerun with {@code
 * -Djdm.seed=N} to replay it.
 */
@ExtendWith(SeedReporter.class)
public abstract class BaseBlockDeviceTestCase {
  /** System property that fixes the seed. */
  public static final String SEED_PROPERTY = "jdm.seed";

  private static final int SECTOR = Bio.SECTOR_SIZE;

  private long seed;
  protected Random random;
  protected final BioTracker bios = new BioTracker();
  private final List<BlockDevice> devices = new ArrayList<>();

  protected BaseBlockDeviceTestCase() {}

  /**
   * Makes a fresh device that reads as zeros, of about {@code sectors} sectors (it may round to
   * what the device needs; tests use {@link BlockDevice#sectors()}).
   */
  protected abstract BlockDevice createDevice(long sectors) throws IOException;

  /** What the devices from {@link #createDevice} do. */
  protected abstract DeviceCapabilities capabilities();

  /** Size the tests ask for; default 4096 sectors (2 MiB). */
  protected long deviceSectors() {
    return 4096;
  }

  /** Called after each test has closed its devices; check for leaked resources here. */
  protected void afterDevicesClosed() throws Exception {}

  public final long seed() {
    return seed;
  }

  protected final BlockDevice newDevice() throws IOException {
    return newDevice(deviceSectors());
  }

  protected final BlockDevice newDevice(long sectors) throws IOException {
    BlockDevice d = createDevice(sectors);
    devices.add(d);
    return d;
  }

  @BeforeEach
  final void initSeed() {
    Long fixed = Long.getLong(SEED_PROPERTY);
    seed = fixed != null ? fixed : new Random().nextLong();
    random = new Random(seed);
  }

  @AfterEach
  final void closeAndCheckLeaks() throws Exception {
    try {
      bios.assertAllCompletedOnce();
    } finally {
      for (BlockDevice d : devices) {
        d.close();
      }
      devices.clear();
    }
    afterDevicesClosed();
    assertNoWorkerThreads();
  }

  private static void assertNoWorkerThreads() throws InterruptedException {
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith("jdm-") && t.isAlive()) {
        t.join(TimeUnit.SECONDS.toMillis(30));
        assertThat(t.isAlive()).as("worker thread %s outlived its device", t.getName()).isFalse();
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  /** Logical block size in sectors. */
  protected static int blockSectors(BlockDevice dev) {
    return dev.limits().logicalBlockSectors();
  }

  /** A buffer of {@code bytes} random bytes at a random offset of a heap or direct buffer. */
  protected ByteBuffer randomData(int bytes) {
    return randomData(bytes, random);
  }

  protected static ByteBuffer randomData(int bytes, Random rnd) {
    ByteBuffer b = buffer(bytes, rnd);
    byte[] data = new byte[bytes];
    rnd.nextBytes(data);
    b.put(b.position(), data);
    return b;
  }

  /** An empty (zero-filled, then poisoned) buffer of {@code bytes} at a random offset. */
  protected ByteBuffer buffer(int bytes) {
    return buffer(bytes, random);
  }

  protected static ByteBuffer buffer(int bytes, Random rnd) {
    int offset = rnd.nextInt(64);
    ByteBuffer b =
        rnd.nextBoolean()
            ? ByteBuffer.allocateDirect(bytes + offset + 64)
            : ByteBuffer.allocate(bytes + offset + 64);
    for (int i = 0; i < b.capacity(); i++) {
      b.put(i, (byte) 0xA5);
    }
    b.position(offset).limit(offset + bytes);
    return b;
  }

  /** Submits a bio built with a tracked callback and waits for it. */
  protected BlockStatus submitAndWait(BlockDevice dev, Bio bio, BioTracker.Completion c) {
    dev.submit(bio);
    return c.await();
  }

  protected BlockStatus readBio(BlockDevice dev, long sector, ByteBuffer dst) {
    BioTracker.Completion c = bios.completion();
    return submitAndWait(dev, Bio.read(sector, dst, c), c);
  }

  protected BlockStatus writeBio(BlockDevice dev, long sector, ByteBuffer src, int flags) {
    BioTracker.Completion c = bios.completion();
    return submitAndWait(dev, Bio.write(sector, src, flags, c), c);
  }

  protected BlockStatus rangeBio(BlockDevice dev, Bio.Op op, long sector, int sectors) {
    BioTracker.Completion c = bios.completion();
    return submitAndWait(dev, Bio.of(op, 0, sector, sectors, null, c), c);
  }

  protected BlockStatus flushBio(BlockDevice dev) {
    BioTracker.Completion c = bios.completion();
    return submitAndWait(dev, Bio.flush(c), c);
  }

  /** The status a write is expected to complete with on this kind of device. */
  protected BlockStatus expectedWriteStatus() {
    return capabilities().writesSucceed() ? BlockStatus.OK : BlockStatus.IOERR;
  }

  protected BlockStatus expectedReadStatus() {
    return capabilities().data() == Data.FAILS ? BlockStatus.IOERR : BlockStatus.OK;
  }

  /**
   * Reads {@code [sector, sector + count)} and checks it against the model (for devices whose reads
   * are checkable).
   */
  protected void verify(BlockDevice dev, ReferenceModel model, long sector, int count) {
    verify(dev, model, sector, count, random);
  }

  protected void verify(BlockDevice dev, ReferenceModel model, long sector, int count, Random rnd) {
    ByteBuffer got = buffer(count * SECTOR, rnd);
    BlockStatus s = readBio(dev, sector, got);
    assertThat(s).as("read of %d sectors at %d", count, sector).isEqualTo(expectedReadStatus());
    if (s != BlockStatus.OK) {
      return;
    }
    Data data = capabilities().data();
    if (data == Data.PERSISTENT) {
      String diff = model.check(sector, got);
      if (diff != null) {
        fail("read %d sectors at %d: %s", count, sector, diff);
      }
    } else if (data == Data.ZEROS) {
      for (int i = 0; i < got.remaining(); i++) {
        if (got.get(got.position() + i) != 0) {
          fail("zero device returned a non-zero byte at offset %d of sector %d", i, sector);
        }
      }
    }
  }

  /**
   * One random operation inside {@code [lo, hi)} (sectors, block aligned), checked and modelled.
   */
  protected void randomOp(BlockDevice dev, ReferenceModel model, long lo, long hi, Random rnd) {
    int bs = blockSectors(dev);
    long blocks = (hi - lo) / bs;
    long startBlock = rnd.nextInt(10) == 0 ? blocks - 1 : (long) (rnd.nextDouble() * blocks);
    int maxBlocks = (int) Math.min(blocks - startBlock, Math.max(1, 128 / bs));
    int count = (1 + rnd.nextInt(maxBlocks)) * bs;
    long sector = lo + startBlock * bs;
    DeviceCapabilities caps = capabilities();
    int choice = rnd.nextInt(100);
    if (choice < 35) {
      verify(dev, model, sector, count, rnd);
    } else if (choice < 75) {
      int flags = choice < 65 ? 0 : choice < 70 ? Bio.FUA : Bio.PREFLUSH;
      ByteBuffer data = randomData(count * SECTOR, rnd);
      BlockStatus s = writeBio(dev, sector, data, flags);
      assertThat(s).as("write of %d sectors at %d", count, sector).isEqualTo(expectedWriteStatus());
      if (s == BlockStatus.OK && caps.data() == Data.PERSISTENT) {
        model.write(sector, data);
      }
    } else if (choice < 82) {
      assertThat(flushBio(dev)).as("flush").isEqualTo(BlockStatus.OK);
    } else if (choice < 91) {
      BlockStatus s = rangeBio(dev, Bio.Op.DISCARD, sector, count);
      assertThat(s).as("discard of %d sectors at %d", count, sector).isEqualTo(expectedDiscard());
      modelRangeOp(model, Bio.Op.DISCARD, sector, count, s);
    } else {
      BlockStatus s = rangeBio(dev, Bio.Op.WRITE_ZEROES, sector, count);
      assertThat(s)
          .as("write-zeroes of %d sectors at %d", count, sector)
          .isEqualTo(expectedWriteZeroes());
      modelRangeOp(model, Bio.Op.WRITE_ZEROES, sector, count, s);
    }
  }

  /**
   * Records a discard or write-zeroes that completed with {@code status} in the model: zeros, or
   * unspecified contents for a discard that does not promise zeros.
   */
  protected void modelRangeOp(
      ReferenceModel model, Bio.Op op, long sector, long count, BlockStatus status) {
    if (status != BlockStatus.OK || capabilities().data() != Data.PERSISTENT) {
      return;
    }
    if (op == Bio.Op.DISCARD && capabilities().discard() != Discard.ZEROES) {
      model.unspecified(sector, count);
    } else {
      model.zero(sector, count);
    }
  }

  /** Writes random data over the first {@code count} sectors (if writes succeed) and models it. */
  protected void prefill(BlockDevice dev, ReferenceModel model, int count) throws IOException {
    if (capabilities().writesSucceed()) {
      ByteBuffer data = randomData(count * SECTOR);
      dev.write(data.duplicate(), 0);
      model.write(0, data);
    }
  }

  protected BlockStatus expectedDiscard() {
    DeviceCapabilities caps = capabilities();
    if (caps.discard() == Discard.UNSUPPORTED) {
      return BlockStatus.NOTSUPP;
    }
    if (caps.readOnly() || caps.discard() == Discard.FAILS) {
      return BlockStatus.IOERR;
    }
    return BlockStatus.OK;
  }

  protected BlockStatus expectedWriteZeroes() {
    DeviceCapabilities caps = capabilities();
    if (!caps.writeZeroes()) {
      return BlockStatus.NOTSUPP;
    }
    return caps.readOnly() ? BlockStatus.IOERR : BlockStatus.OK;
  }

  // ---------------------------------------------------------------------------------------------
  // Tests

  @Test
  public void testGeometry() throws IOException {
    BlockDevice dev = newDevice();
    IoLimits l = dev.limits();
    assertThat(dev.sectors()).isPositive();
    assertThat(dev.size()).isEqualTo(dev.sectors() * SECTOR);
    assertThat(Integer.bitCount(l.logicalBlockSize())).isEqualTo(1);
    assertThat(l.logicalBlockSize()).isBetween(512, 65536);
    assertThat(l.physicalBlockSize()).isGreaterThanOrEqualTo(l.logicalBlockSize());
    assertThat(dev.sectors() % blockSectors(dev)).isZero();
    assertThat(dev.isReadOnly()).isEqualTo(capabilities().readOnly());
    assertThat(dev.name()).isNotEmpty();
  }

  @Test
  public void testWriteThenReadBack() throws IOException {
    assumeTrue(
        capabilities().writesSucceed(),
        "the device does not keep writes (capabilities: writesSucceed false)");
    BlockDevice dev = newDevice();
    int bs = blockSectors(dev);
    ReferenceModel model = new ReferenceModel(dev.sectors());
    long[] positions = {0, bs, dev.sectors() / 2, dev.sectors() - 4L * bs};
    for (long sector : positions) {
      ByteBuffer data = randomData(4 * bs * SECTOR);
      dev.write(data.duplicate(), sector * SECTOR);
      model.write(sector, data);
    }
    for (long sector : positions) {
      verify(dev, model, sector, 4 * bs);
    }
  }

  @Test
  public void testSyncHelpersAdvanceBufferPosition() throws IOException {
    assumeTrue(
        capabilities().writesSucceed(),
        "the device does not keep writes (capabilities: writesSucceed false)");
    BlockDevice dev = newDevice();
    int bytes = blockSectors(dev) * SECTOR;
    ByteBuffer src = randomData(bytes);
    int start = src.position();
    dev.write(src, 0);
    assertThat(src.position()).isEqualTo(start + bytes);
    ByteBuffer dst = buffer(bytes);
    int dstStart = dst.position();
    dev.read(dst, 0);
    assertThat(dst.position()).isEqualTo(dstStart + bytes);
  }

  @Test
  public void testRandomIoAgainstModel() throws IOException {
    BlockDevice dev = newDevice();
    ReferenceModel model = new ReferenceModel(dev.sectors());
    for (int i = 0; i < 1000; i++) {
      randomOp(dev, model, 0, dev.sectors(), random);
    }
    // a final full read-back
    int bs = blockSectors(dev);
    for (long s = 0; s < dev.sectors(); s += 256L * bs) {
      verify(dev, model, s, (int) Math.min(256L * bs, dev.sectors() - s));
    }
  }

  @Test
  public void testManyOutstandingBios() throws IOException {
    assumeTrue(
        capabilities().writesSucceed(),
        "the device does not keep writes (capabilities: writesSucceed false)");
    BlockDevice dev = newDevice();
    int bs = blockSectors(dev);
    int n = (int) Math.min(512, dev.sectors() / bs);
    List<ByteBuffer> written = new ArrayList<>();
    List<BioTracker.Completion> cs = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ByteBuffer data = randomData(bs * SECTOR);
      written.add(data);
      BioTracker.Completion c = bios.completion();
      cs.add(c);
      dev.submit(Bio.write((long) i * bs, data, c));
    }
    for (BioTracker.Completion c : cs) {
      assertThat(c.await()).isEqualTo(BlockStatus.OK);
    }
    cs.clear();
    List<ByteBuffer> read = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ByteBuffer b = buffer(bs * SECTOR);
      read.add(b);
      BioTracker.Completion c = bios.completion();
      cs.add(c);
      dev.submit(Bio.read((long) i * bs, b, c));
    }
    for (int i = 0; i < n; i++) {
      assertThat(cs.get(i).await()).isEqualTo(BlockStatus.OK);
      if (capabilities().data() == Data.PERSISTENT) {
        assertThat(read.get(i)).as("block %d", i).isEqualTo(written.get(i));
      }
    }
  }

  @Test
  public void testIoAtLastBlock() throws IOException {
    BlockDevice dev = newDevice();
    int bs = blockSectors(dev);
    long last = dev.sectors() - bs;
    ReferenceModel model = new ReferenceModel(dev.sectors());
    ByteBuffer data = randomData(bs * SECTOR);
    assertThat(writeBio(dev, last, data, 0)).isEqualTo(expectedWriteStatus());
    if (expectedWriteStatus() == BlockStatus.OK && capabilities().data() == Data.PERSISTENT) {
      model.write(last, data);
    }
    verify(dev, model, last, bs);
  }

  @Test
  public void testIoBeyondEndFails() throws IOException {
    BlockDevice dev = newDevice();
    int bs = blockSectors(dev);
    long end = dev.sectors();
    assertThat(readBio(dev, end, buffer(bs * SECTOR))).isEqualTo(BlockStatus.IOERR);
    assertThat(writeBio(dev, end, randomData(bs * SECTOR), 0)).isEqualTo(BlockStatus.IOERR);
    assertThat(readBio(dev, end + 1000L * bs, buffer(bs * SECTOR))).isEqualTo(BlockStatus.IOERR);
    assertThat(readBio(dev, Long.MAX_VALUE - bs, buffer(bs * SECTOR))).isEqualTo(BlockStatus.IOERR);
    assertThatThrownBy(() -> dev.read(buffer(bs * SECTOR), end * SECTOR))
        .isInstanceOf(BlockIOException.class)
        .satisfies(e -> assertThat(((BlockIOException) e).status()).isEqualTo(BlockStatus.IOERR));
  }

  @Test
  public void testIoAcrossEndFailsAndChangesNothing() throws IOException {
    BlockDevice dev = newDevice();
    int bs = blockSectors(dev);
    long last = dev.sectors() - bs;
    ReferenceModel model = new ReferenceModel(dev.sectors());
    if (capabilities().writesSucceed()) {
      ByteBuffer before = randomData(bs * SECTOR);
      dev.write(before.duplicate(), last * SECTOR);
      model.write(last, before);
    }
    assertThat(writeBio(dev, last, randomData(2 * bs * SECTOR), 0)).isEqualTo(BlockStatus.IOERR);
    assertThat(readBio(dev, last, buffer(2 * bs * SECTOR))).isEqualTo(BlockStatus.IOERR);
    if (capabilities().data() != Data.FAILS && !capabilities().readOnly()) {
      BlockStatus d = rangeBio(dev, Bio.Op.DISCARD, last, 2 * bs);
      assertThat(d).isIn(BlockStatus.IOERR, BlockStatus.NOTSUPP);
      BlockStatus z = rangeBio(dev, Bio.Op.WRITE_ZEROES, last, 2 * bs);
      assertThat(z).isIn(BlockStatus.IOERR, BlockStatus.NOTSUPP);
    }
    verify(dev, model, last, bs);
  }

  @Test
  public void testNegativeSectorFails() throws IOException {
    BlockDevice dev = newDevice();
    int bs = blockSectors(dev);
    assertThat(readBio(dev, -bs, buffer(bs * SECTOR))).isEqualTo(BlockStatus.IOERR);
  }

  @Test
  public void testUnalignedBioFails() throws IOException {
    BlockDevice dev = newDevice();
    int bs = blockSectors(dev);
    assumeTrue(bs > 1, "logical block size is one sector: every bio is aligned");
    assertThat(readBio(dev, 1, buffer(bs * SECTOR))).isEqualTo(BlockStatus.INVAL);
    assertThat(writeBio(dev, 0, randomData(SECTOR), 0)).isIn(BlockStatus.INVAL, BlockStatus.IOERR);
  }

  @Test
  public void testUnalignedSyncCallsAreCallerMistakes() throws IOException {
    BlockDevice dev = newDevice();
    int lbs = dev.limits().logicalBlockSize();
    assertThatThrownBy(() -> dev.read(ByteBuffer.allocate(lbs), 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("logical block size");
    assertThatThrownBy(() -> dev.write(ByteBuffer.allocate(lbs + 1), 0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> dev.read(ByteBuffer.allocate(lbs), -lbs))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> dev.discard(0, -lbs)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Bio.read(0, ByteBuffer.allocate(100), b -> {}))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  public void testZeroLengthIo() throws IOException {
    BlockDevice dev = newDevice();
    dev.read(ByteBuffer.allocate(0), 0);
    if (!capabilities().readOnly()) {
      dev.write(ByteBuffer.allocate(0), 0);
    }
    BlockStatus s = readBio(dev, 0, ByteBuffer.allocate(0));
    assertThat(s).isIn(BlockStatus.OK, expectedReadStatus());
  }

  @Test
  public void testFlush() throws IOException {
    BlockDevice dev = newDevice();
    assertThat(flushBio(dev)).isEqualTo(BlockStatus.OK);
    dev.flush();
    // a flush's sector is meaningless and must be ignored
    BioTracker.Completion c = bios.completion();
    Bio f = Bio.flush(c);
    f.setSector(dev.sectors() + 12345);
    assertThat(submitAndWait(dev, f, c)).isEqualTo(BlockStatus.OK);
  }

  @Test
  public void testFuaAndPreflushWritesPersist() throws IOException {
    BlockDevice dev = newDevice();
    int bs = blockSectors(dev);
    ReferenceModel model = new ReferenceModel(dev.sectors());
    ByteBuffer a = randomData(bs * SECTOR);
    ByteBuffer b = randomData(bs * SECTOR);
    ByteBuffer c = randomData(2 * bs * SECTOR);
    assertThat(writeBio(dev, 0, a, Bio.FUA)).isEqualTo(expectedWriteStatus());
    assertThat(writeBio(dev, bs, b, Bio.PREFLUSH)).isEqualTo(expectedWriteStatus());
    assertThat(writeBio(dev, 2L * bs, c, Bio.PREFLUSH | Bio.FUA)).isEqualTo(expectedWriteStatus());
    if (capabilities().writesSucceed() && capabilities().data() == Data.PERSISTENT) {
      model.write(0, a);
      model.write(bs, b);
      model.write(2L * bs, c);
    }
    verify(dev, model, 0, 4 * bs);
  }

  @Test
  public void testDiscard() throws IOException {
    BlockDevice dev = newDevice();
    int bs = blockSectors(dev);
    ReferenceModel model = new ReferenceModel(dev.sectors());
    int count = 16 * bs;
    prefill(dev, model, count);
    BlockStatus s = rangeBio(dev, Bio.Op.DISCARD, 4L * bs, 8 * bs);
    assertThat(s).isEqualTo(expectedDiscard());
    modelRangeOp(model, Bio.Op.DISCARD, 4L * bs, 8L * bs, s);
    verify(dev, model, 0, count);
    if (s == BlockStatus.OK) {
      dev.discard(0, (long) bs * SECTOR);
    } else {
      assertThatThrownBy(() -> dev.discard(0, (long) bs * SECTOR))
          .isInstanceOf(BlockIOException.class);
    }
  }

  @Test
  public void testWriteZeroes() throws IOException {
    BlockDevice dev = newDevice();
    int bs = blockSectors(dev);
    ReferenceModel model = new ReferenceModel(dev.sectors());
    int count = 16 * bs;
    prefill(dev, model, count);
    BlockStatus s = rangeBio(dev, Bio.Op.WRITE_ZEROES, 3L * bs, 9 * bs);
    assertThat(s).isEqualTo(expectedWriteZeroes());
    modelRangeOp(model, Bio.Op.WRITE_ZEROES, 3L * bs, 9L * bs, s);
    verify(dev, model, 0, count);
  }

  @Test
  public void testReadOnlyDeviceRejectsWrites() throws IOException {
    assumeTrue(capabilities().readOnly(), "the device is writable (capabilities: readOnly false)");
    BlockDevice dev = newDevice();
    int bs = blockSectors(dev);
    ByteBuffer before = buffer(bs * SECTOR);
    readBio(dev, 0, before);
    assertThat(writeBio(dev, 0, randomData(bs * SECTOR), 0)).isEqualTo(BlockStatus.IOERR);
    assertThatThrownBy(() -> dev.write(randomData(bs * SECTOR), 0))
        .isInstanceOf(BlockIOException.class);
    ByteBuffer after = buffer(bs * SECTOR);
    readBio(dev, 0, after);
    assertThat(after).isEqualTo(before);
  }

  @Test
  public void testConcurrentVerifiedIo() throws Exception {
    assumeTrue(
        capabilities().concurrent(),
        "the device is not safe for concurrent I/O (capabilities: concurrent false)");
    BlockDevice dev = newDevice();
    int threads = 4;
    int bs = blockSectors(dev);
    long region = dev.sectors() / threads / bs * bs;
    assumeTrue(region >= bs, "device too small to share");
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        long lo = t * region;
        Random rnd = new Random(seed + t);
        futures.add(
            pool.submit(
                () -> {
                  ReferenceModel model = new ReferenceModel(dev.sectors());
                  for (int i = 0; i < 300; i++) {
                    randomOp(dev, model, lo, lo + region, rnd);
                  }
                  verify(dev, model, lo, (int) Math.min(region, 256L * bs), rnd);
                  return null;
                }));
      }
      for (Future<?> f : futures) {
        f.get(5, TimeUnit.MINUTES);
      }
    } finally {
      pool.shutdownNow();
      assertThat(pool.awaitTermination(1, TimeUnit.MINUTES)).isTrue();
    }
  }

  @Test
  public void testFileChannelView() throws IOException {
    assumeTrue(
        capabilities().writesSucceed() && capabilities().data() == Data.PERSISTENT,
        "the device does not keep what is written (capabilities: writesSucceed and data PERSISTENT)");
    BlockDevice dev = newDevice();
    FileChannel fc = dev.asFileChannel();
    assertThat(fc.size()).isEqualTo(dev.size());
    byte[] bytes = new byte[3000];
    random.nextBytes(bytes);
    long pos = 1000 + random.nextInt(5000);
    assertThat(fc.write(ByteBuffer.wrap(bytes), pos)).isEqualTo(bytes.length);
    ByteBuffer back = ByteBuffer.allocate(bytes.length);
    assertThat(fc.read(back, pos)).isEqualTo(bytes.length);
    assertThat(back.array()).isEqualTo(bytes);
    // bytes around the write are untouched (read-modify-write kept them)
    ByteBuffer around = ByteBuffer.allocate(10);
    fc.read(around, pos - 10);
    assertThat(around.array()).containsOnly(0);
    // relative I/O and position
    fc.position(dev.size() - 100);
    ByteBuffer tail = ByteBuffer.allocate(200);
    assertThat(fc.read(tail)).isEqualTo(100);
    assertThat(fc.position()).isEqualTo(dev.size());
    assertThat(fc.read(ByteBuffer.allocate(1))).isEqualTo(-1);
    assertThatThrownBy(() -> fc.write(ByteBuffer.allocate(1), dev.size()))
        .isInstanceOf(IOException.class);
    assertThatThrownBy(() -> fc.truncate(dev.size() - 512)).isInstanceOf(IOException.class);
    fc.truncate(dev.size());
    fc.force(true);
    try (var lock = fc.tryLock()) {
      assertThat(lock.isValid()).isTrue();
    }
    fc.close();
    assertThat(fc.isOpen()).isFalse();
    // closing the view leaves the device usable
    dev.read(ByteBuffer.allocate(dev.limits().logicalBlockSize()), 0);
  }

  @Test
  public void testCloseTwice() throws IOException {
    BlockDevice dev = createDevice(deviceSectors());
    dev.close();
    dev.close();
  }

  @Test
  public void testUseAfterCloseIsRejected() throws IOException {
    BlockDevice dev = createDevice(deviceSectors());
    int bytes = dev.limits().logicalBlockSize();
    dev.close();
    assertThatThrownBy(() -> dev.read(ByteBuffer.allocate(bytes), 0))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> dev.submit(Bio.flush(b -> {})))
        .isInstanceOf(IllegalStateException.class);
  }
}
