package io.jdm.core.bufio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.Bio;
import io.jdm.core.BlockIOException;
import io.jdm.core.BlockStatus;
import io.jdm.core.FileBlockDevice;
import io.jdm.core.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.AbstractQueuedSynchronizer;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link BufioClient}: caching and its bound, write-back and its order against the flush, block
 * locks, validators, prefetch, errors from the device and from validators, and close. I/O is
 * observed on a {@link RecordingDevice}; concurrency is staged by holding bios in the device and
 * waiting until threads park, never by sleeping.
 */
class BufioClientTest {
  private static final long SEED = Long.getLong("jdm.seed", System.nanoTime());

  @RegisterExtension
  static final TestWatcher SEED_REPORTER =
      new TestWatcher() {
        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
          System.err.printf(
              "%s failed; reproduce with -Djdm.seed=%d%n", context.getDisplayName(), SEED);
        }
      };

  private static final int BS = 4096;
  private static final int SPB = BS / Bio.SECTOR_SIZE;
  private static final long BLOCKS = 1024;
  private static final ChecksumValidator NODE = ChecksumValidator.of("btree_node", 121107, 8);
  private static final ChecksumValidator SB = ChecksumValidator.of("superblock", 160774, 8);

  private final Random rnd = new Random(SEED);
  private final RecordingDevice dev = new RecordingDevice("meta", BLOCKS * SPB);

  private BufioClient client(int maxBlocks) {
    return BufioClient.builder(dev, BS).maxBlocks(maxBlocks).build();
  }

  /** The bytes the tests put in block {@code nr}, varied by {@code salt}. */
  private static byte[] pattern(long nr, int salt) {
    byte[] b = new byte[BS];
    for (int i = 0; i < BS; i++) {
      b[i] = (byte) (nr * 31 + i * 7 + salt);
    }
    return b;
  }

  private void writeDevice(long nr, byte[] bytes) throws IOException {
    dev.disk().write(ByteBuffer.wrap(bytes), nr * BS);
  }

  private byte[] readDevice(long nr) throws IOException {
    byte[] b = new byte[BS];
    dev.disk().read(ByteBuffer.wrap(b), nr * BS);
    return b;
  }

  private static byte[] bytes(HeldBlock h) {
    byte[] b = new byte[BS];
    h.data().get(0, b);
    return b;
  }

  /** A block valid for {@code v} at {@code nr}, written straight to the device. */
  private byte[] writeValid(ChecksumValidator v, long nr, int salt) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(pattern(nr, salt)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    v.prepareForWrite(b, nr);
    writeDevice(nr, b.array());
    return b.array();
  }

  /** A thread running {@code work}, with its result. */
  private static final class Job<T> {
    final CompletableFuture<T> result = new CompletableFuture<>();
    final Thread thread;

    Job(String name, Callable<T> work) {
      thread =
          new Thread(
              () -> {
                try {
                  result.complete(work.call());
                } catch (Throwable e) {
                  result.completeExceptionally(e);
                }
              },
              name);
      thread.setDaemon(true);
      thread.start();
    }

    /**
     * Waits until the thread parks (on a block's condition, or in a synchronous I/O) or ends: it
     * then waits for something only the test can give. Parking on a lock (the client's) does not
     * count: whoever holds it lets go by itself.
     */
    Job<T> awaitParked() {
      while (true) {
        Thread.State s = thread.getState();
        if (s == Thread.State.TERMINATED
            || (s == Thread.State.WAITING
                && !(LockSupport.getBlocker(thread) instanceof AbstractQueuedSynchronizer))) {
          return this;
        }
        Thread.onSpinWait();
      }
    }

    T get() throws Exception {
      return result.get(1, TimeUnit.MINUTES); // a safety net for a hang, not a timing assertion
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Reading and the cache bound

  @Test
  void readReturnsTheDeviceBytesAndCachesThem() throws Exception {
    writeDevice(5, pattern(5, 1));
    BufioClient c = client(16);
    try (HeldBlock h = c.read(5, null)) {
      assertThat(h.number()).isEqualTo(5);
      assertThat(h.isExclusive()).isFalse();
      assertThat(bytes(h)).isEqualTo(pattern(5, 1));
      assertThat(h.data().isReadOnly()).isTrue();
      assertThat(h.data().order()).isEqualTo(java.nio.ByteOrder.LITTLE_ENDIAN);
    }
    try (HeldBlock h = c.read(5, null)) {
      assertThat(bytes(h)).isEqualTo(pattern(5, 1));
    }
    assertThat(dev.readsAt(5 * SPB)).isEqualTo(1);
    assertThat(dev.log()).contains("submit READ 40+8");
    assertThat(c.cachedBlocks()).containsExactly(5);
    c.close();
  }

  @Test
  void residentBlocksNeverExceedTheBoundWhenNothingIsHeld() throws Exception {
    for (long nr = 0; nr < 256; nr++) {
      writeDevice(nr, pattern(nr, 3));
    }
    BufioClient c = client(16);
    for (int i = 0; i < 2000; i++) {
      long nr = rnd.nextInt(256);
      try (HeldBlock h = rnd.nextBoolean() ? c.read(nr, null) : c.readForWrite(nr, null)) {
        assertThat(bytes(h)).as("block %d", nr).isEqualTo(pattern(nr, 3));
      }
      assertThat(c.residentBlocks()).isLessThanOrEqualTo(16);
    }
    assertThat(c.residentBlocks()).isEqualTo(16);
    assertThat(dev.submitted(Bio.Op.READ)).isGreaterThan(256); // evicted blocks were read again
    assertThat(dev.submitted(Bio.Op.WRITE)).isZero();
    c.close();
  }

  @Test
  void heldBlocksAreNeverEvictedAndTheBoundReturnsWhenReleased() throws Exception {
    for (long nr = 0; nr < 64; nr++) {
      writeDevice(nr, pattern(nr, 4));
    }
    BufioClient c = client(8);
    List<HeldBlock> held = new ArrayList<>();
    for (long nr = 0; nr < 20; nr++) {
      held.add(c.read(nr, null));
    }
    assertThat(c.residentBlocks()).isEqualTo(20); // over the bound: nobody waits for room
    for (long nr = 20; nr < 64; nr++) {
      c.read(nr, null).release();
    }
    for (HeldBlock h : held) {
      assertThat(bytes(h)).isEqualTo(pattern(h.number(), 4));
      h.release();
    }
    assertThat(dev.submitted(Bio.Op.READ)).isEqualTo(64); // no held block was read twice
    assertThat(c.residentBlocks()).isLessThanOrEqualTo(8);
    c.close();
  }

  @Test
  void dirtyBlocksSurviveEvictionAndAnotherClientReadsThem() throws Exception {
    BufioClient c = client(8);
    int n = 200;
    int[] salts = new int[n];
    for (int nr = 0; nr < n; nr++) {
      salts[nr] = rnd.nextInt(256);
      try (HeldBlock h = c.newBlock(nr, null)) {
        assertThat(bytes(h)).containsOnly(0);
        h.data().put(0, pattern(nr, salts[nr]));
        h.markDirty();
      }
      assertThat(c.residentBlocks()).isLessThanOrEqualTo(8);
    }
    assertThat(dev.submitted(Bio.Op.READ)).isZero(); // newBlock never reads
    assertThat(dev.submitted(Bio.Op.FLUSH)).isZero();
    long[] cached = c.cachedBlocks();
    // Every block no longer cached reached the device before it was dropped.
    try (BufioClient other = client(4)) {
      for (int nr = 0; nr < n; nr++) {
        if (java.util.Arrays.binarySearch(cached, nr) < 0) {
          try (HeldBlock h = other.read(nr, null)) {
            assertThat(bytes(h)).as("block %d", nr).isEqualTo(pattern(nr, salts[nr]));
          }
        }
      }
    }
    c.writeDirty();
    for (int nr = 0; nr < n; nr++) {
      assertThat(readDevice(nr)).as("block %d", nr).isEqualTo(pattern(nr, salts[nr]));
    }
    c.close();
  }

  @Test
  void evictingADirtyBlockWritesItFirst() throws Exception {
    BufioClient c = client(8);
    // Nine exclusive holds: the background write-back skips them, the bound cannot be kept.
    List<HeldBlock> held = new ArrayList<>();
    for (long nr = 0; nr < 9; nr++) {
      HeldBlock h = c.newBlock(nr, null);
      h.data().put(0, pattern(nr, 17));
      held.add(h);
    }
    for (HeldBlock h : held) {
      h.release();
    }
    assertThat(c.residentBlocks()).isEqualTo(9); // all dirty: nothing could be dropped
    assertThat(dev.submitted(Bio.Op.WRITE)).isZero();
    c.read(100, null).release(); // needs room: the oldest dirty blocks go to the device first
    assertThat(c.residentBlocks()).isLessThanOrEqualTo(8);
    long[] cached = c.cachedBlocks();
    for (long nr = 0; nr < 9; nr++) {
      if (java.util.Arrays.binarySearch(cached, nr) < 0) {
        assertThat(readDevice(nr)).as("evicted block %d", nr).isEqualTo(pattern(nr, 17));
      }
    }
    assertThat(cached).doesNotContain(0, 1);
    assertThat(dev.submitted(Bio.Op.FLUSH)).isZero(); // eviction writes, it does not flush
    c.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Write-back

  @Test
  void writeDirtyCompletesEveryWriteBeforeItFlushes() throws Exception {
    BufioClient c = client(64);
    for (long nr = 0; nr < 10; nr++) {
      try (HeldBlock h = c.newBlock(nr, null)) {
        h.data().put(0, pattern(nr, 5));
      }
    }
    assertThat(c.dirtyBlocks()).isEqualTo(10);
    dev.clearLog();
    dev.hold(Bio.Op.WRITE);
    dev.hold(Bio.Op.FLUSH);
    Job<Void> sync =
        new Job<>(
            "writeDirty",
            () -> {
              c.writeDirty();
              return null;
            });
    sync.awaitParked();
    assertThat(dev.submitted(Bio.Op.WRITE)).isEqualTo(10); // all at once, not one by one
    assertThat(dev.submitted(Bio.Op.FLUSH)).as("flush before the writes completed").isZero();
    dev.releaseOneByOne(
        rnd,
        () -> {
          sync.awaitParked();
          assertThat(dev.submitted(Bio.Op.FLUSH)).as("flush with writes in flight").isZero();
        });
    sync.get();
    List<String> log = dev.log();
    int flush = log.indexOf("submit FLUSH 0+0");
    assertThat(log.stream().filter(e -> e.startsWith("submit FLUSH"))).hasSize(1);
    for (int i = 0; i < log.size(); i++) {
      if (log.get(i).startsWith("done WRITE")) {
        assertThat(i).as("%s comes before the flush in %s", log.get(i), log).isLessThan(flush);
      }
    }
    assertThat(log.subList(flush, log.size())).containsExactly("submit FLUSH 0+0", "done FLUSH 0");
    assertThat(c.dirtyBlocks()).isZero();
    for (long nr = 0; nr < 10; nr++) {
      assertThat(readDevice(nr)).isEqualTo(pattern(nr, 5));
    }
    c.close();
  }

  @Test
  void writeDirtyAsyncStartsWritesWithoutWaitingAndWriteDirtyThenOnlyFlushes() throws Exception {
    BufioClient c = client(64);
    for (long nr = 0; nr < 4; nr++) {
      try (HeldBlock h = c.newBlock(nr, null)) {
        h.data().put(0, pattern(nr, 6));
      }
    }
    dev.clearLog();
    dev.hold(Bio.Op.WRITE);
    c.writeDirtyAsync();
    assertThat(dev.waiting()).isEqualTo(4);
    assertThat(c.dirtyBlocks()).isZero();
    Job<Void> sync =
        new Job<>(
            "writeDirty",
            () -> {
              c.writeDirty(); // must wait for the four writes in flight
              return null;
            });
    sync.awaitParked();
    assertThat(dev.submitted(Bio.Op.FLUSH)).isZero();
    dev.releaseAll(rnd);
    sync.get();
    assertThat(dev.submitted(Bio.Op.WRITE)).isEqualTo(4);
    assertThat(dev.log().get(dev.log().size() - 2)).isEqualTo("submit FLUSH 0+0");
    c.close();
  }

  @Test
  void partOfABlockIsWrittenRoundedOutTo4KiB() throws Exception {
    int bs = 16384;
    BufioClient c = BufioClient.builder(dev, bs).maxBlocks(8).build();
    try (HeldBlock h = c.readForWrite(2, null)) {
      h.data().put(5000, (byte) 1);
      h.data().put(5100, (byte) 2);
      h.markDirty(5000, 5101);
    }
    dev.clearLog();
    c.writeDirty();
    // block 2 starts at sector 64; bytes [4096, 8192) are sectors 72..79
    assertThat(dev.log())
        .containsExactly("submit WRITE 72+8", "done WRITE 72", "submit FLUSH 0+0", "done FLUSH 0");
    try (HeldBlock h = c.readForWrite(3, null)) {
      h.markDirty(0, 1);
      h.markDirty(bs - 1, bs); // two ranges make one write of their span
    }
    dev.clearLog();
    c.writeDirty();
    assertThat(dev.log()).startsWith("submit WRITE 96+32");
    c.close();
  }

  @Test
  void aBlockWithAValidatorIsWrittenWhole() throws Exception {
    BufioClient c = BufioClient.builder(dev, 16384).maxBlocks(8).build();
    try (HeldBlock h = c.newBlock(1, NODE)) {
      h.markDirty(100, 200);
    }
    dev.clearLog();
    c.writeDirty();
    assertThat(dev.log()).startsWith("submit WRITE 32+32");
    c.close();
  }

  @Test
  void aFailedWriteKeepsTheBlockDirtyUntilAWriteSucceeds() throws Exception {
    BufioClient c = client(4);
    try (HeldBlock h = c.newBlock(3, null)) {
      h.data().put(0, pattern(3, 7));
    }
    dev.failWrites(3 * SPB, true);
    assertThatThrownBy(c::writeDirty)
        .isInstanceOf(BlockIOException.class)
        .hasMessage("I/O error, dev meta, sector 24 (bufio write of block 3)")
        .satisfies(e -> assertThat(((BlockIOException) e).status()).isEqualTo(BlockStatus.IOERR));
    assertThat(c.dirtyBlocks()).isEqualTo(1);
    // Not evicted either: reading many other blocks leaves it cached, the cache over its bound.
    for (long nr = 10; nr < 30; nr++) {
      c.read(nr, null).release();
    }
    assertThat(c.cachedBlocks()).contains(3);
    dev.failWrites(3 * SPB, false);
    c.writeDirty();
    assertThat(c.dirtyBlocks()).isZero();
    assertThat(readDevice(3)).isEqualTo(pattern(3, 7));
    c.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Validators

  @Test
  void aCorruptBlockFailsEveryReadAndIsNeverCached() throws Exception {
    byte[] good = writeValid(SB, 5, 8);
    byte[] bad = good.clone();
    bad[1000] ^= 0x10;
    writeDevice(5, bad);
    int stored = ByteBuffer.wrap(bad).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(0);
    int computed = BlockChecksumTest.kernelCrc32c(bad, 4, BS - 4) ^ 160774;
    String expected =
        String.format(
            "superblock block 5 on meta (sector 40): checksum mismatch (stored 0x%08x, computed 0x%08x)",
            stored, computed);
    BufioClient c = client(16);
    for (int attempt = 1; attempt <= 3; attempt++) {
      assertThatThrownBy(() -> c.read(5, SB))
          .isInstanceOf(CorruptBlockException.class)
          .hasMessage(expected)
          .satisfies(
              e -> {
                CorruptBlockException ce = (CorruptBlockException) e;
                assertThat(ce.structure()).isEqualTo("superblock");
                assertThat(ce.block()).isEqualTo(5);
                assertThat(ce.device()).isEqualTo("meta");
                assertThat(ce.sector()).isEqualTo(40);
                assertThat(ce.status()).isEqualTo(BlockStatus.PROTECTION);
              });
      assertThat(dev.readsAt(40)).as("each read goes to the device again").isEqualTo(attempt);
      assertThat(c.cachedBlocks()).doesNotContain(5);
      assertThat(c.tryRead(5, SB)).isNull();
    }
    assertThatThrownBy(() -> c.readForWrite(5, SB)).isInstanceOf(CorruptBlockException.class);
    writeDevice(5, good); // repaired on the device: the next read sees it
    try (HeldBlock h = c.read(5, SB)) {
      assertThat(bytes(h)).isEqualTo(good);
    }
    c.close();
  }

  @Test
  void aBlockFromAnotherPlaceFailsItsBlockNumberCheck() throws Exception {
    byte[] three = writeValid(NODE, 3, 9);
    writeDevice(17, three); // a misdirected write: block 3's bytes at block 17
    BufioClient c = client(16);
    assertThatThrownBy(() -> c.read(17, NODE))
        .isInstanceOf(CorruptBlockException.class)
        .hasMessage("btree_node block 17 on meta (sector 136): block number mismatch (says 3)");
    c.close();
  }

  @Test
  void theValidatorPreparesOnWriteAndChecksOnceOnRead() throws Exception {
    AtomicInteger prepares = new AtomicInteger();
    AtomicInteger checks = new AtomicInteger();
    List<Long> prepared = new ArrayList<>();
    BlockValidator counting =
        new BlockValidator() {
          @Override
          public String name() {
            return "counted";
          }

          @Override
          public void prepareForWrite(ByteBuffer block, long blockNr) {
            prepares.incrementAndGet();
            prepared.add(blockNr);
            NODE.prepareForWrite(block, blockNr);
          }

          @Override
          public void check(ByteBuffer block, long blockNr) throws CorruptBlockException {
            checks.incrementAndGet();
            assertThat(block.isReadOnly()).isTrue();
            NODE.check(block, blockNr);
          }
        };
    BufioClient c = client(16);
    try (HeldBlock h = c.newBlock(9, counting)) {
      h.data().put(100, pattern(9, 10), 100, 1000);
      assertThat(prepares).hasValue(0);
    }
    assertThat(prepares).hasValue(1);
    assertThat(prepared).containsExactly(9L);
    try (HeldBlock h = c.readForWrite(9, counting)) {
      assertThat(h.data().getLong(8)).isEqualTo(9); // the cache holds what was prepared
    } // released without markDirty: nothing to prepare
    assertThat(prepares).hasValue(1);
    c.writeDirty();
    byte[] onDisk = readDevice(9);
    ByteBuffer disk = ByteBuffer.wrap(onDisk).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    assertThat(disk.getLong(8)).isEqualTo(9);
    assertThat(disk.getInt(0))
        .isEqualTo(BlockChecksumTest.kernelCrc32c(onDisk, 4, BS - 4) ^ 121107);
    assertThat(checks).hasValue(0); // a new block is never checked
    c.close();

    BufioClient fresh = client(16);
    for (int i = 0; i < 3; i++) {
      fresh.read(9, counting).release();
    }
    assertThat(checks).as("checked when read from the device, not on every hold").hasValue(1);
    fresh.close();
  }

  @Test
  void aBlockCachedAsOneStructureCannotBeReadAsAnother() throws Exception {
    writeValid(NODE, 4, 11);
    BufioClient c = client(16);
    c.read(4, NODE).release();
    assertThatThrownBy(() -> c.read(4, SB))
        .isInstanceOf(CorruptBlockException.class)
        .hasMessage(
            "superblock block 4 on meta (sector 32): validator mismatch (old=btree_node vs new=superblock)");
    assertThatThrownBy(() -> c.read(4, null))
        .hasMessageContaining("validator mismatch (old=btree_node vs new=none)");
    // A block first read unchecked is checked when a validator first asks for it.
    c.read(6, null).release();
    assertThatThrownBy(() -> c.read(6, SB)).hasMessageContaining("block number mismatch (says 0)");
    c.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Locks and concurrency

  @Test
  void concurrentReadersOfOneBlockShareOneRead() throws Exception {
    writeValid(NODE, 7, 12);
    BufioClient c = client(16);
    dev.hold(Bio.Op.READ);
    List<Job<byte[]>> readers = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      readers.add(
          new Job<>(
              "reader-" + t,
              () -> {
                try (HeldBlock h = c.read(7, NODE)) {
                  return bytes(h);
                }
              }));
    }
    for (Job<byte[]> r : readers) {
      r.awaitParked();
    }
    assertThat(dev.readsAt(7 * SPB)).isEqualTo(1);
    assertThat(readers).noneMatch(r -> r.result.isDone());
    dev.releaseAll(rnd);
    for (Job<byte[]> r : readers) {
      assertThat(r.get()).isEqualTo(readDevice(7));
    }
    assertThat(dev.readsAt(7 * SPB)).isEqualTo(1);
    c.close();
  }

  @Test
  void anExclusiveHoldKeepsReadersAndWritersWaiting() throws Exception {
    writeDevice(3, pattern(3, 13));
    BufioClient c = client(16);
    HeldBlock w = c.readForWrite(3, null);
    assertThat(w.isExclusive()).isTrue();
    Job<byte[]> reader =
        new Job<>(
            "reader",
            () -> {
              try (HeldBlock h = c.read(3, null)) {
                return bytes(h);
              }
            });
    Job<byte[]> writer =
        new Job<>(
            "writer",
            () -> {
              try (HeldBlock h = c.readForWrite(3, null)) {
                return bytes(h);
              }
            });
    reader.awaitParked();
    writer.awaitParked();
    assertThat(reader.result).isNotDone();
    assertThat(writer.result).isNotDone();
    assertThat(new Job<>("try", () -> c.tryRead(3, null)).get()).isNull();
    assertThat(new Job<>("try", () -> c.tryReadForWrite(3, null)).get()).isNull();
    w.data().put(0, (byte) 99);
    w.markDirty(0, 1);
    w.release();
    assertThat(reader.get()[0]).isEqualTo((byte) 99);
    assertThat(writer.get()[0]).isEqualTo((byte) 99);
    c.close();
  }

  @Test
  void sharedHoldsKeepWritersWaitingButNotOtherReaders() throws Exception {
    BufioClient c = client(16);
    HeldBlock r1 = c.read(2, null);
    HeldBlock r2 = new Job<>("reader", () -> c.read(2, null)).get();
    Job<HeldBlock> writer = new Job<>("writer", () -> c.readForWrite(2, null));
    writer.awaitParked();
    assertThat(writer.result).isNotDone();
    assertThat(new Job<>("try", () -> c.tryReadForWrite(2, null)).get()).isNull();
    HeldBlock r3 = new Job<>("try", () -> c.tryRead(2, null)).get();
    assertThat(r3).isNotNull();
    r1.release();
    r2.release();
    writer.awaitParked();
    assertThat(writer.result).isNotDone();
    r3.release();
    HeldBlock w = writer.get();
    assertThat(w.isExclusive()).isTrue();
    w.release();
    c.close();
  }

  @Test
  void aThreadThatAsksAgainForABlockItHoldsIsRefused() throws Exception {
    BufioClient c = client(16);
    HeldBlock r = c.read(1, null);
    assertThatThrownBy(() -> c.read(1, null))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("block 1 is already held by this thread; it would wait for itself");
    assertThatThrownBy(() -> c.readForWrite(1, null)).isInstanceOf(IllegalStateException.class);
    r.release();
    HeldBlock w = c.newBlock(1, null);
    assertThatThrownBy(() -> c.tryRead(1, null)).isInstanceOf(IllegalStateException.class);
    w.release();
    c.read(1, null).release(); // fine once released
    c.close();
  }

  @Test
  void exclusiveHoldsSerializeConcurrentUpdatesWhileTheCacheEvicts() throws Exception {
    int threads = 4;
    int operations = 2000;
    int blocks = 24;
    BufioClient c = client(6);
    for (long nr = 0; nr < blocks; nr++) {
      c.newBlock(nr, NODE).release();
    }
    c.writeDirty();
    List<Job<Long>> jobs = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      Random r = new Random(SEED + t);
      jobs.add(
          new Job<>(
              "updater-" + t,
              () -> {
                long increments = 0;
                for (int i = 0; i < operations; i++) {
                  long nr = r.nextInt(blocks);
                  if (r.nextInt(4) == 0) {
                    try (HeldBlock h = c.read(nr, NODE)) {
                      assertThat(h.data().getLong(8)).isEqualTo(nr);
                    }
                    continue;
                  }
                  try (HeldBlock h = c.readForWrite(nr, NODE)) {
                    ByteBuffer d = h.data();
                    d.putLong(16, d.getLong(16) + 1); // without exclusion, updates get lost
                    h.markDirty();
                  }
                  increments++;
                  if (r.nextInt(200) == 0) {
                    c.writeDirty();
                  }
                }
                return increments;
              }));
    }
    long expected = 0;
    for (Job<Long> j : jobs) {
      expected += j.get();
    }
    assertThat(c.residentBlocks()).isLessThanOrEqualTo(6);
    c.close();
    BufioClient fresh = client(blocks);
    long total = 0;
    for (long nr = 0; nr < blocks; nr++) {
      try (HeldBlock h = fresh.read(nr, NODE)) {
        total += h.data().getLong(16);
      }
    }
    fresh.close();
    assertThat(total).isEqualTo(expected);
    assertThat(dev.submitted(Bio.Op.WRITE)).isGreaterThan(blocks); // evictions wrote back
  }

  @Test
  void prefetchStartsReadsWithoutWaitingAndReadsUseThem() throws Exception {
    for (long nr = 10; nr < 15; nr++) {
      writeDevice(nr, pattern(nr, 14));
    }
    BufioClient c = client(16);
    c.read(11, null).release();
    dev.clearLog();
    dev.hold(Bio.Op.READ);
    c.prefetch(10, 5);
    assertThat(dev.waiting()).isEqualTo(4); // 11 is cached already
    assertThat(dev.readsAt(11 * SPB)).isZero();
    Job<byte[]> reader =
        new Job<>(
            "reader",
            () -> {
              try (HeldBlock h = c.read(12, null)) {
                return bytes(h);
              }
            });
    reader.awaitParked();
    assertThat(reader.result).isNotDone(); // waits for the prefetch, issues no read of its own
    dev.releaseAll(rnd);
    assertThat(reader.get()).isEqualTo(pattern(12, 14));
    for (long nr = 10; nr < 15; nr++) {
      try (HeldBlock h = c.read(nr, null)) {
        assertThat(bytes(h)).isEqualTo(pattern(nr, 14));
      }
    }
    assertThat(dev.submitted(Bio.Op.READ)).isEqualTo(4);
    c.prefetch(BLOCKS - 2, 100); // cut at the device's end
    assertThat(c.cachedBlocks()).contains(BLOCKS - 2, BLOCKS - 1);
    c.close();
  }

  @Test
  void prefetchStaysWithinTheBoundAndWritesNothingBack() throws Exception {
    BufioClient c = client(4);
    for (long nr = 0; nr < 4; nr++) {
      try (HeldBlock h = c.newBlock(nr, null)) {
        h.markDirty();
      }
    }
    dev.clearLog();
    c.prefetch(100, 10);
    assertThat(dev.submitted(Bio.Op.WRITE)).isZero();
    assertThat(c.residentBlocks()).isLessThanOrEqualTo(4);
    c.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Device errors

  @Test
  void aReadErrorReachesEveryWaiterAndTheNextReadTriesAgain() throws Exception {
    writeDevice(6, pattern(6, 15));
    BufioClient c = client(16);
    dev.failReads(6 * SPB, true);
    dev.hold(Bio.Op.READ);
    List<Job<byte[]>> readers = new ArrayList<>();
    for (int t = 0; t < 3; t++) {
      readers.add(
          new Job<>(
              "reader-" + t,
              () -> {
                try (HeldBlock h = c.read(6, null)) {
                  return bytes(h);
                }
              }));
    }
    for (Job<byte[]> r : readers) {
      r.awaitParked();
    }
    dev.releaseAll(rnd);
    for (Job<byte[]> r : readers) {
      assertThatThrownBy(r::get)
          .hasCauseInstanceOf(BlockIOException.class)
          .hasRootCauseMessage(
              "critical medium error, dev meta, sector 48 (bufio read of block 6)");
    }
    assertThat(dev.readsAt(48)).isEqualTo(1);
    assertThat(c.cachedBlocks()).doesNotContain(6);
    assertThatThrownBy(() -> c.read(6, null))
        .isInstanceOf(BlockIOException.class)
        .satisfies(e -> assertThat(((BlockIOException) e).status()).isEqualTo(BlockStatus.MEDIUM));
    assertThat(dev.readsAt(48)).isEqualTo(2);
    dev.failReads(6 * SPB, false);
    try (HeldBlock h = c.read(6, null)) {
      assertThat(bytes(h)).isEqualTo(pattern(6, 15));
    }
    c.close();
  }

  @Test
  void aFailedPrefetchIsNotCached() throws Exception {
    BufioClient c = client(16);
    dev.failReads(8 * SPB, true);
    c.prefetch(8, 1);
    assertThat(c.cachedBlocks()).isEmpty();
    dev.failReads(8 * SPB, false);
    c.read(8, null).release();
    assertThat(dev.readsAt(8 * SPB)).isEqualTo(2);
    c.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Cache contents

  @Test
  void forgetAndEvictDropOnlyIdleCleanBlocks() throws Exception {
    BufioClient c = client(16);
    c.read(1, null).release();
    c.read(2, null).release();
    HeldBlock held = c.read(3, null);
    try (HeldBlock h = c.newBlock(4, null)) {
      h.markDirty();
    }
    assertThat(c.cachedBlocks()).containsExactly(1, 2, 3, 4);
    assertThat(c.dirtyBlocks()).isEqualTo(1);
    assertThat(c.forget(1)).isTrue();
    assertThat(c.forget(1)).isFalse();
    assertThat(c.forget(3)).as("held").isFalse();
    assertThat(c.forget(4)).as("dirty").isFalse();
    assertThat(c.evict()).isEqualTo(1); // block 2
    assertThat(c.cachedBlocks()).containsExactly(3, 4);
    held.release();
    c.writeDirty();
    assertThat(c.forget(0, 10)).isEqualTo(2);
    assertThat(c.residentBlocks()).isZero();
    c.read(1, null).release();
    assertThat(dev.readsAt(SPB)).isEqualTo(2);
    c.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Close

  @Test
  void closeWritesDirtyBlocksBackAndFlushes() throws Exception {
    BufioClient c = client(16);
    for (long nr = 0; nr < 3; nr++) {
      try (HeldBlock h = c.newBlock(nr, NODE)) {
        h.data().put(100, pattern(nr, 16), 100, 500);
      }
    }
    dev.clearLog();
    c.close();
    List<String> log = dev.log();
    assertThat(log.stream().filter(e -> e.startsWith("submit WRITE"))).hasSize(3);
    assertThat(log.get(log.size() - 2)).isEqualTo("submit FLUSH 0+0");
    BufioClient fresh = client(16);
    for (long nr = 0; nr < 3; nr++) {
      try (HeldBlock h = fresh.read(nr, NODE)) {
        assertThat(java.util.Arrays.copyOfRange(bytes(h), 100, 600))
            .isEqualTo(java.util.Arrays.copyOfRange(pattern(nr, 16), 100, 600));
      }
    }
    fresh.close();
    dev.clearLog();
    c.close(); // a second close does nothing
    assertThat(dev.log()).isEmpty();
  }

  @Test
  void closeRefusesWhileABlockIsHeldAndChangesNothing() throws Exception {
    BufioClient c = client(16);
    HeldBlock h = c.newBlock(2, null);
    dev.clearLog();
    assertThatThrownBy(c::close)
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(
            "cannot close bufio client on meta (4096-byte blocks from sector 0): blocks [2] are still held");
    assertThat(dev.log()).isEmpty();
    h.data().put(0, (byte) 5);
    h.release();
    c.close();
    assertThat(readDevice(2)[0]).isEqualTo((byte) 5);
  }

  @Test
  void closeReportsAFailedWriteAndClosesAnyway() throws Exception {
    BufioClient c = client(16);
    c.newBlock(2, null).release();
    dev.failWrites(2 * SPB, true);
    assertThatThrownBy(c::close)
        .hasMessage("I/O error, dev meta, sector 16 (bufio write of block 2)");
    assertThatThrownBy(() -> c.read(2, null)).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void everyOperationAfterCloseIsRefused() throws Exception {
    BufioClient c = client(16);
    c.close();
    String closed = "bufio client on meta (4096-byte blocks from sector 0) is closed";
    assertThatThrownBy(() -> c.read(0, null)).hasMessage(closed);
    assertThatThrownBy(() -> c.newBlock(0, null)).hasMessage(closed);
    assertThatThrownBy(() -> c.tryRead(0, null)).hasMessage(closed);
    assertThatThrownBy(() -> c.prefetch(0, 1)).hasMessage(closed);
    assertThatThrownBy(c::writeDirty).hasMessage(closed);
    assertThatThrownBy(c::writeDirtyAsync).hasMessage(closed);
    assertThatThrownBy(c::flush).hasMessage(closed);
    assertThatThrownBy(() -> c.forget(0)).hasMessage(closed);
  }

  // ---------------------------------------------------------------------------------------------
  // Caller mistakes and geometry

  @Test
  void holdsAreUsedAsTheirModeAllows() throws Exception {
    BufioClient c = client(16);
    HeldBlock r = c.read(0, null);
    assertThatThrownBy(r::markDirty)
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("block 0 is held shared; markDirty needs an exclusive hold");
    assertThatThrownBy(() -> r.data().put(0, (byte) 1))
        .isInstanceOf(java.nio.ReadOnlyBufferException.class);
    r.release();
    assertThatThrownBy(r::release)
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("shared hold on block 0 was already released");
    HeldBlock w = c.readForWrite(0, null);
    assertThatThrownBy(() -> w.markDirty(10, 10))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("dirty range [10, 10) (expected: 0 <= from < to <= 4096)");
    assertThatThrownBy(() -> w.markDirty(0, 4097)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> w.markDirty(-1, 3)).isInstanceOf(IllegalArgumentException.class);
    assertThat(c.dirtyBlocks()).isZero(); // rejected calls changed nothing
    w.close();
    assertThatThrownBy(() -> c.read(-1, null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("block -1 (expected: >= 0)");
    c.close();
  }

  @Test
  void blocksBeyondTheDeviceAreIoErrors() throws Exception {
    BufioClient c = client(16);
    assertThat(c.blocks()).isEqualTo(BLOCKS);
    assertThatThrownBy(() -> c.read(BLOCKS, null))
        .isInstanceOf(BlockIOException.class)
        .hasMessage(
            "I/O error, dev meta, sector 8192 (bufio: block 1024 is beyond the end (1024 blocks of 4096 bytes from sector 0))");
    assertThatThrownBy(() -> c.newBlock(Long.MAX_VALUE, null))
        .isInstanceOf(BlockIOException.class)
        .hasMessageContaining("sector " + Long.MAX_VALUE);
    assertThat(c.tryRead(BLOCKS, null)).isNull();
    assertThat(dev.log()).isEmpty();
    c.close();
  }

  @Test
  void blocksStartAtTheStartSector() throws Exception {
    BufioClient c = BufioClient.builder(dev, 1536).startSector(100).maxBlocks(4).build();
    assertThat(c.blocks()).isEqualTo((BLOCKS * SPB - 100) / 3);
    try (HeldBlock h = c.newBlock(2, null)) {
      h.data().put(0, (byte) 42);
    }
    c.writeDirty();
    assertThat(dev.log()).contains("submit WRITE 106+3"); // 100 + 2 * 3
    byte[] sector = new byte[512];
    dev.disk().read(ByteBuffer.wrap(sector), 106 * 512);
    assertThat(sector[0]).isEqualTo((byte) 42);
    c.close();
  }

  @Test
  void blockSizesAndStartSectorsAreChecked() {
    assertThat(BufioClient.builder(dev, 512).build().maxBlocks()).isEqualTo(32768);
    assertThat(BufioClient.builder(dev, 1 << 20).build().maxBlocks()).isEqualTo(16);
    assertThat(BufioClient.builder(dev, 4 << 20).build().maxBlocks())
        .isEqualTo(BufioClient.MIN_BUFFERS);
    assertThatThrownBy(() -> BufioClient.builder(dev, 1000).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "bufio on meta: block size 1000 (expected: a multiple of 512 and of the logical block size 512, at most 1073741824)");
    assertThatThrownBy(() -> BufioClient.builder(dev, 0).build())
        .isInstanceOf(IllegalArgumentException.class);
    MemoryBlockDevice big = MemoryBlockDevice.builder("big", 1024).logicalBlockSize(4096).build();
    assertThatThrownBy(() -> BufioClient.builder(big, 512).build())
        .hasMessageContaining("logical block size 4096");
    assertThatThrownBy(() -> BufioClient.builder(big, 4096).startSector(4).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("bufio on big: start sector 4 (expected: 0 <= start <= 1024, a multiple of 8)");
    assertThatThrownBy(() -> BufioClient.builder(dev, 4096).maxBlocks(0))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aReadOnlyDeviceGivesNoExclusiveHolds(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("meta.img");
    Files.write(file, new byte[64 * 1024]);
    try (FileBlockDevice ro = FileBlockDevice.builder(file).readOnly(true).open()) {
      BufioClient c = BufioClient.builder(ro, BS).build();
      c.read(1, null).release();
      assertThatThrownBy(() -> c.readForWrite(1, null))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("is read-only");
      assertThatThrownBy(() -> c.newBlock(1, null)).isInstanceOf(IllegalStateException.class);
      c.close();
    }
  }
}
