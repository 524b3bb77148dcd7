package io.jdm.targets.thin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.TableException;
import io.jdm.testkit.BioTracker;
import io.jdm.testkit.ManualClock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What {@code thin-pool} and {@code thin} do beyond a disk: status and table text, messages and
 * their errors, provisioning with and without zeroing, snapshots, discards, external origins, the
 * low water mark, running out of data space (queue or error), commits on flush and on the clock,
 * read-only pools. The pool has 64 KiB blocks (128 sectors); time is a {@link ManualClock}.
 */
abstract class BaseThinBehaviourTestCase {
  static final int BS = 128;

  protected abstract PoolMetadataOpener opener();

  ManualClock clock;
  DeviceMapper dm;
  MemoryBlockDevice meta;
  MemoryBlockDevice data;
  MappedDevice pool;
  final BioTracker bios = new BioTracker();

  @BeforeEach
  void setUp() {
    clock = new ManualClock();
    dm = ThinMappers.create(42, opener(), clock);
    meta = MemoryBlockDevice.builder("meta", 8192).volatileCache(true).build();
    data = MemoryBlockDevice.builder("data", 64 * BS).volatileCache(true).build();
    dm.registerDevice("meta", meta);
    dm.registerDevice("data", data);
  }

  @AfterEach
  void tearDown() throws IOException {
    dm.close();
    meta.close();
    data.close();
  }

  MappedDevice pool(long dataSectors, long lowWater, String features) {
    pool =
        dm.create(
            "pool",
            "0 " + dataSectors + " thin-pool meta data " + BS + " " + lowWater + " " + features);
    return pool;
  }

  MappedDevice thin(String name, long id, long sectors) {
    return dm.create(name, "0 " + sectors + " thin pool " + id);
  }

  static ByteBuffer pattern(int sectors, int seed) {
    ByteBuffer b = ByteBuffer.allocate(sectors * 512);
    for (int i = 0; i < b.capacity(); i++) {
      b.put(i, (byte) (seed * 31 + i * 7 + (i >> 9)));
    }
    return b;
  }

  static ByteBuffer read(MappedDevice d, long sector, int sectors) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(sectors * 512);
    d.read(b, sector * 512);
    return b.clear();
  }

  static boolean isZero(ByteBuffer b) {
    for (int i = 0; i < b.capacity(); i++) {
      if (b.get(i) != 0) {
        return false;
      }
    }
    return true;
  }

  String poolDev() {
    return pool.number().toString();
  }

  // ---------------------------------------------------------------------------------------------

  @Test
  void tableAndStatusTextAreTheKernels() throws IOException {
    pool(40 * BS, 10, "");
    assertThat(pool.table()).isEqualTo("0 5120 thin-pool 240:0 240:1 128 10 0 \n");
    assertThat(pool.status())
        .matches(
            "0 5120 thin-pool 0 \\d+/1024 0/40 - rw discard_passdown queue_if_no_space - 256 \n");
    pool.message(0, "create_thin", "7");
    MappedDevice t = thin("t", 7, 1024);
    assertThat(t.table()).isEqualTo("0 1024 thin " + poolDev() + " 7\n");
    assertThat(t.status()).isEqualTo("0 1024 thin 0 -\n");
    t.write(pattern(8, 1), 3 * BS * 512 + 4096);
    assertThat(t.status()).isEqualTo("0 1024 thin 128 511\n");
    assertThat(pool.status()).contains(" 1/40 - rw ");
    t.remove();
    pool.remove();
    pool(40 * BS, 0, "4 skip_block_zeroing ignore_discard no_discard_passdown error_if_no_space");
    assertThat(pool.table())
        .isEqualTo(
            "0 5120 thin-pool 240:0 240:1 128 0 4 skip_block_zeroing ignore_discard"
                + " no_discard_passdown error_if_no_space \n");
    assertThat(pool.status()).endsWith(" - rw ignore_discard error_if_no_space - 256 \n");
  }

  @Test
  void featureCountOfFiveIsRefusedAsTheKernelDoes() {
    assertThatThrownBy(
            () ->
                pool(
                    40 * BS,
                    0,
                    "5 skip_block_zeroing ignore_discard no_discard_passdown read_only"
                        + " error_if_no_space"))
        .isInstanceOf(TableException.class)
        .hasMessageContaining("Invalid number of pool feature arguments");
  }

  @Test
  void messagesAndTheirErrors() {
    pool(40 * BS, 0, "");
    pool.message(0, "create_thin", "1");
    assertThatThrownBy(() -> pool.message(0, "create_thin", "1"))
        .hasMessageContaining("Creation of new thinly-provisioned device with id 1 failed.");
    assertThatThrownBy(() -> pool.message(0, "create_thin", "16777216"))
        .hasMessageContaining("Message received with invalid device id: 16777216");
    pool.message(0, "create_thin", "16777215");
    assertThatThrownBy(() -> pool.message(0, "create_thin"))
        .hasMessageContaining("Message received with 1 arguments instead of 2.");
    assertThatThrownBy(() -> pool.message(0, "create_snap", "2", "9"))
        .hasMessageContaining("Creation of new snapshot 2 of device 9 failed.");
    assertThatThrownBy(() -> pool.message(0, "create_snap", "2", "16777216"))
        .hasMessageContaining("Message received with invalid device id: 16777216");
    pool.message(0, "create_snap", "2", "1");
    assertThatThrownBy(() -> pool.message(0, "delete", "3"))
        .hasMessageContaining("Deletion of thin device 3 failed.");
    MappedDevice t = thin("t", 2, 1024);
    assertThatThrownBy(() -> pool.message(0, "delete", "2"))
        .hasMessageContaining("Deletion of thin device 2 failed.");
    t.remove();
    pool.message(0, "delete", "2");
    assertThatThrownBy(() -> pool.message(0, "set_transaction_id", "1", "2"))
        .hasMessageContaining("Failed to change transaction id from 1 to 2.");
    assertThatThrownBy(() -> pool.message(0, "set_transaction_id", "x", "2"))
        .hasMessageContaining("set_transaction_id message: Unrecognised id x.");
    assertThatThrownBy(() -> pool.message(0, "set_transaction_id", "0", "y"))
        .hasMessageContaining("set_transaction_id message: Unrecognised new id y.");
    pool.message(0, "set_transaction_id", "0", "5");
    assertThat(pool.status()).startsWith("0 5120 thin-pool 5 ");
    assertThatThrownBy(() -> pool.message(0, "release_metadata_snap"))
        .hasMessageContaining("release_metadata_snap message failed.");
    pool.message(0, "reserve_metadata_snap");
    assertThat(pool.status()).doesNotContain(" - rw ");
    assertThatThrownBy(() -> pool.message(0, "reserve_metadata_snap"))
        .hasMessageContaining("reserve_metadata_snap message failed.");
    pool.message(0, "release_metadata_snap");
    assertThat(pool.status()).contains(" - rw ");
    assertThatThrownBy(() -> pool.message(0, "bogus"))
        .hasMessageContaining("Unrecognised thin pool target message received: bogus");
    pool.message(0, "CREATE_THIN", "3");
  }

  @Test
  void thinConstructorErrorsThatNeedAPool() {
    pool(40 * BS, 0, "");
    pool.message(0, "create_thin", "1");
    assertThatThrownBy(() -> thin("t", 16777216, 1024)).hasMessageContaining("Invalid device id");
    assertThatThrownBy(() -> thin("t", 2, 1024))
        .hasMessageContaining("Couldn't open thin internal device");
    dm.create("lin", "0 1024 linear data 0");
    assertThatThrownBy(() -> dm.create("t", "0 1024 thin lin 1"))
        .hasMessageContaining("Couldn't find pool object");
    pool.suspend();
    assertThatThrownBy(() -> thin("t", 1, 1024))
        .hasMessageContaining("Unable to activate thin device while pool is suspended");
    pool.resume();
    assertThat(dm.find("t")).isEmpty();
  }

  @Test
  void firstWritesProvisionAndZeroTheRestOfTheBlock() throws IOException {
    data.write(pattern(64 * BS, 9), 0); // garbage where blocks will be provisioned
    pool(40 * BS, 0, "");
    pool.message(0, "create_thin", "1");
    MappedDevice t = thin("t", 1, 4 * BS);
    t.write(pattern(8, 1), (BS + 16) * 512);
    ByteBuffer block = read(t, BS, BS);
    assertThat(isZero(block.slice(0, 16 * 512))).isTrue();
    assertThat(block.slice(16 * 512, 8 * 512)).isEqualTo(pattern(8, 1));
    assertThat(isZero(block.slice(24 * 512, (BS - 24) * 512))).isTrue();
    assertThat(isZero(read(t, 0, BS))).as("unprovisioned reads zeros").isTrue();
  }

  @Test
  void skipBlockZeroingLeavesWhatTheDataDeviceHeld() throws IOException {
    data.write(pattern(64 * BS, 9), 0);
    pool(40 * BS, 0, "1 skip_block_zeroing");
    pool.message(0, "create_thin", "1");
    MappedDevice t = thin("t", 1, 4 * BS);
    t.write(pattern(8, 1), 0);
    ByteBuffer block = read(t, 0, BS);
    assertThat(block.slice(0, 8 * 512)).isEqualTo(pattern(8, 1));
    assertThat(isZero(block.slice(8 * 512, (BS - 8) * 512))).isFalse();
  }

  @Test
  void snapshotsShareBlocksUntilWritten() throws IOException {
    pool(40 * BS, 0, "");
    pool.message(0, "create_thin", "1");
    MappedDevice origin = thin("origin", 1, 4 * BS);
    origin.write(pattern(4 * BS, 1), 0);
    assertThat(pool.status()).contains(" 4/40 ");
    origin.suspend();
    pool.message(0, "create_snap", "2", "1");
    origin.resume();
    MappedDevice snap = thin("snap", 2, 4 * BS);
    assertThat(pool.status()).contains(" 4/40 ");
    origin.write(pattern(8, 2), 0); // breaks sharing of block 0: copied, then written
    assertThat(pool.status()).contains(" 5/40 ");
    assertThat(read(snap, 0, 4 * BS)).isEqualTo(pattern(4 * BS, 1));
    ByteBuffer expected = pattern(4 * BS, 1);
    expected.put(0, pattern(8, 2), 0, 8 * 512);
    assertThat(read(origin, 0, 4 * BS)).isEqualTo(expected);
    snap.write(pattern(BS, 3), 2 * BS * 512); // a whole-block overwrite of a shared block
    assertThat(read(origin, 2 * BS, BS))
        .isEqualTo(pattern(4 * BS, 1).slice(2 * BS * 512, BS * 512));
    assertThat(read(snap, 2 * BS, BS)).isEqualTo(pattern(BS, 3));
    assertThat(pool.status()).contains(" 6/40 ");
    snap.remove();
    pool.message(0, "delete", "2");
    assertThat(pool.status()).contains(" 4/40 ");
  }

  @Test
  void discardsUnmapWholeBlocksAndPassDown() throws IOException {
    pool(40 * BS, 0, "");
    pool.message(0, "create_thin", "1");
    MappedDevice t = thin("t", 1, 4 * BS);
    t.write(pattern(4 * BS, 1), 0);
    assertThat(t.status()).isEqualTo("0 512 thin 512 511\n");
    t.discard(BS * 512 + 512, 2L * BS * 512); // covers block 2 only
    assertThat(t.status()).isEqualTo("0 512 thin 384 511\n");
    assertThat(isZero(read(t, 2 * BS, BS))).isTrue();
    assertThat(read(t, BS, BS)).isEqualTo(pattern(4 * BS, 1).slice(BS * 512, BS * 512));
    long zeroBlocks = 0;
    for (int b = 0; b < 40; b++) {
      ByteBuffer x = ByteBuffer.allocate(BS * 512);
      data.read(x, (long) b * BS * 512);
      zeroBlocks += isZero(x.clear()) ? 1 : 0;
    }
    assertThat(zeroBlocks).as("the discard reached the data device").isEqualTo(40 - 3);
  }

  @Test
  void noDiscardPassdownKeepsTheDataDevicesBlocks() throws IOException {
    pool(40 * BS, 0, "1 no_discard_passdown");
    assertThat(pool.status()).contains(" no_discard_passdown ");
    pool.message(0, "create_thin", "1");
    MappedDevice t = thin("t", 1, 4 * BS);
    t.write(pattern(BS, 1), 0);
    t.discard(0, BS * 512L);
    assertThat(t.status()).isEqualTo("0 512 thin 0 -\n");
    ByteBuffer x = ByteBuffer.allocate(BS * 512);
    data.read(x, 0);
    assertThat(x.clear()).isEqualTo(pattern(BS, 1));
  }

  @Test
  void externalOriginIsReadUntilBlocksAreWritten() throws IOException {
    MemoryBlockDevice ext = MemoryBlockDevice.create("ext", 3 * BS + 64);
    ext.write(pattern(3 * BS + 64, 5), 0);
    dm.registerDevice("ext", ext);
    pool(40 * BS, 0, "");
    pool.message(0, "create_thin", "1");
    MappedDevice t = dm.create("t", "0 " + 4 * BS + " thin pool 1 ext");
    assertThat(t.table()).isEqualTo("0 512 thin " + poolDev() + " 1 240:2\n");
    assertThat(read(t, 0, 3 * BS + 64)).isEqualTo(pattern(3 * BS + 64, 5));
    assertThat(isZero(read(t, 3 * BS + 64, BS - 64))).isTrue();
    t.write(pattern(8, 1), 8 * 512); // partial write: the rest of the block comes from the origin
    ByteBuffer expected = pattern(3 * BS + 64, 5).slice(0, BS * 512);
    ByteBuffer b0 = read(t, 0, BS);
    assertThat(b0.slice(0, 8 * 512)).isEqualTo(expected.slice(0, 8 * 512));
    assertThat(b0.slice(8 * 512, 8 * 512)).isEqualTo(pattern(8, 1));
    assertThat(b0.slice(16 * 512, (BS - 16) * 512))
        .isEqualTo(expected.slice(16 * 512, (BS - 16) * 512));
    t.write(pattern(8, 2), (3L * BS + 100) * 512); // the origin ends inside this block
    ByteBuffer b3 = read(t, 3 * BS, BS);
    assertThat(b3.slice(0, 64 * 512))
        .isEqualTo(pattern(3 * BS + 64, 5).slice(3 * BS * 512, 64 * 512));
    assertThat(isZero(b3.slice(64 * 512, 36 * 512))).isTrue();
    assertThat(t.status()).isEqualTo("0 512 thin 256 511\n");
    t.remove();
    ext.close();
  }

  @Test
  void lowWaterMarkRaisesAnEventOnce() throws IOException {
    pool(8 * BS, 5, "");
    pool.message(0, "create_thin", "1");
    MappedDevice t = thin("t", 1, 8 * BS);
    int e0 = pool.eventNr();
    t.write(pattern(BS, 1), 0);
    t.write(pattern(BS, 1), BS * 512L);
    t.write(pattern(BS, 1), 2 * BS * 512L);
    assertThat(pool.eventNr()).isEqualTo(e0);
    t.write(pattern(BS, 1), 3 * BS * 512L); // 5 free before this allocation
    assertThat(pool.eventNr()).isEqualTo(e0 + 1);
    t.write(pattern(BS, 1), 4 * BS * 512L);
    assertThat(pool.eventNr()).isEqualTo(e0 + 1);
  }

  @Test
  void outOfDataSpaceQueuesUntilThePoolGrows() throws Exception {
    MemoryBlockDevice big = MemoryBlockDevice.create("big", 8 * BS);
    dm.registerDevice("big", big);
    MappedDevice d = dm.create("d", "0 " + 2 * BS + " linear big 0");
    pool = dm.create("pool", "0 " + 2 * BS + " thin-pool meta d " + BS + " 0");
    pool.message(0, "create_thin", "1");
    MappedDevice t = thin("t", 1, 4 * BS);
    t.write(pattern(BS, 1), 0);
    t.write(pattern(BS, 2), BS * 512L);
    BioTracker.Completion held = bios.completion();
    t.submit(Bio.write(2 * BS, pattern(BS, 3), held));
    awaitStatus("out_of_data_space discard_passdown queue_if_no_space");
    assertThat(held.isDone()).as("the write waits for space").isFalse();
    d.load("0 " + 4 * BS + " linear big 0");
    d.resume();
    pool.load("0 " + 4 * BS + " thin-pool meta d " + BS + " 0");
    pool.resume();
    assertThat(held.await()).isEqualTo(BlockStatus.OK);
    assertThat(read(t, 2 * BS, BS)).isEqualTo(pattern(BS, 3));
    assertThat(pool.status()).contains(" 3/4 - rw ");
    t.remove();
    pool.remove();
    d.remove();
    big.close();
  }

  @Test
  void outOfDataSpaceQueueGivesUpAfterTheTimeout() throws Exception {
    pool(2 * BS, 0, "");
    pool.message(0, "create_thin", "1");
    MappedDevice t = thin("t", 1, 4 * BS);
    t.write(pattern(2 * BS, 1), 0);
    BioTracker.Completion held = bios.completion();
    t.submit(Bio.write(2 * BS, pattern(8, 3), held));
    awaitStatus("out_of_data_space discard_passdown queue_if_no_space");
    clock.advance(Duration.ofSeconds(59));
    assertThat(held.isDone()).isFalse();
    clock.advance(Duration.ofSeconds(1));
    assertThat(held.await()).isEqualTo(BlockStatus.NOSPC);
    assertThat(pool.status()).contains("out_of_data_space discard_passdown error_if_no_space");
  }

  @Test
  void errorIfNoSpaceFailsAtOnce() throws IOException {
    pool(2 * BS, 0, "1 error_if_no_space");
    pool.message(0, "create_thin", "1");
    MappedDevice t = thin("t", 1, 4 * BS);
    t.write(pattern(2 * BS, 1), 0);
    BioTracker.Completion c = bios.completion();
    t.submit(Bio.write(3 * BS, pattern(8, 3), c));
    assertThat(c.await()).isEqualTo(BlockStatus.NOSPC);
    assertThat(pool.status())
        .contains(" 2/2 - out_of_data_space discard_passdown error_if_no_space ");
    assertThat(read(t, 0, 2 * BS)).isEqualTo(pattern(2 * BS, 1)); // what is mapped still serves
    t.write(pattern(8, 4), 8 * 512);
  }

  @Test
  void readOnlyPoolServesMappedBlocksAndRefusesTheRest() throws IOException {
    pool(8 * BS, 0, "");
    pool.message(0, "create_thin", "1");
    MappedDevice t = thin("t", 1, 4 * BS);
    t.write(pattern(BS, 1), 0);
    t.remove();
    pool.load("0 " + 8 * BS + " thin-pool meta data " + BS + " 0 1 read_only");
    pool.resume();
    assertThat(pool.status()).contains(" ro ");
    assertThatThrownBy(() -> pool.message(0, "create_thin", "2"))
        .hasMessageContaining("unable to service pool target messages in READ_ONLY or FAIL mode");
    t = thin("t", 1, 4 * BS);
    assertThat(read(t, 0, BS)).isEqualTo(pattern(BS, 1));
    t.write(pattern(8, 2), 0); // mapped and unshared: allowed
    BioTracker.Completion c = bios.completion();
    t.submit(Bio.write(BS, pattern(8, 3), c));
    assertThat(c.await()).isEqualTo(BlockStatus.IOERR);
  }

  @Test
  void commitsOnFlushAndOnTheClock() throws Exception {
    pool(8 * BS, 0, "");
    pool.message(0, "create_thin", "1");
    MappedDevice t = thin("t", 1, 4 * BS);
    t.write(pattern(8, 1), 0);
    assertThat(committedMappings()).as("nothing committed before a flush").isZero();
    t.flush();
    assertThat(committedMappings()).isEqualTo(1);
    t.write(pattern(8, 2), BS * 512L);
    assertThat(committedMappings()).isEqualTo(1);
    clock.advance(Duration.ofSeconds(1));
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (committedMappings() != 2 && System.nanoTime() < deadline) {
      Thread.onSpinWait();
    }
    assertThat(committedMappings()).as("the periodic commit").isEqualTo(2);
    BioTracker.Completion fua = bios.completion();
    t.submit(Bio.write(2L * BS, pattern(8, 3), Bio.FUA, fua));
    assertThat(fua.await()).isEqualTo(BlockStatus.OK);
    assertThat(committedMappings()).as("a FUA write commits").isEqualTo(3);
  }

  /** Mappings of device 1 in what a power cut now would leave on the metadata device. */
  long committedMappings() throws IOException {
    MemoryBlockDevice copy = meta.durableCopy("meta-copy");
    PoolMetadata m = opener().open(copy, BS, false);
    try (ThinDeviceMetadata td = m.openThin(1)) {
      return td.mappedCount();
    } finally {
      m.close();
    }
  }

  @Test
  void flushedWritesSurviveAPowerCutOfPoolAndThin() throws IOException {
    pool(16 * BS, 0, "");
    pool.message(0, "create_thin", "1");
    MappedDevice t = thin("t", 1, 8 * BS);
    t.write(pattern(8 * BS, 1), 0);
    t.flush();
    t.write(pattern(8, 2), 0);
    MemoryBlockDevice meta2 = meta.durableCopy("meta-copy");
    MemoryBlockDevice data2 = data.durableCopy("data-copy");
    t.remove();
    pool.remove();
    dm.registerDevice("meta2", meta2);
    dm.registerDevice("data2", data2);
    dm.create("pool2", "0 " + 16 * BS + " thin-pool meta2 data2 " + BS + " 0");
    MappedDevice again = dm.create("t2", "0 " + 8 * BS + " thin pool2 1");
    ByteBuffer got = read(again, 0, 8 * BS);
    ByteBuffer want = pattern(8 * BS, 1);
    assertThat(got.slice(8 * 512, (8 * BS - 8) * 512))
        .isEqualTo(want.slice(8 * 512, (8 * BS - 8) * 512));
    byte[] head = new byte[8 * 512];
    got.get(0, head);
    byte[] a = new byte[8 * 512];
    want.get(0, a);
    byte[] b = new byte[8 * 512];
    pattern(8, 2).get(0, b);
    assertThat(Arrays.equals(head, a) || Arrays.equals(head, b)).isTrue();
  }

  @Test
  void aFailedCommitMakesThePoolReadOnlyAndAFailedAbortFailsIt() throws Exception {
    java.util.concurrent.atomic.AtomicBoolean failCommit =
        new java.util.concurrent.atomic.AtomicBoolean();
    java.util.concurrent.atomic.AtomicBoolean failAbort =
        new java.util.concurrent.atomic.AtomicBoolean();
    PoolMetadataOpener inner = opener();
    PoolMetadataOpener failing =
        (dev, bs, format) -> {
          PoolMetadata m = inner.open(dev, bs, format);
          return (PoolMetadata)
              java.lang.reflect.Proxy.newProxyInstance(
                  PoolMetadata.class.getClassLoader(),
                  new Class<?>[] {PoolMetadata.class},
                  (proxy, method, args) -> {
                    if ((method.getName().equals("commit") && failCommit.get())
                        || (method.getName().equals("abort") && failAbort.get())) {
                      throw new PoolMetadataException(
                          io.jdm.core.Errno.EIO, "injected " + method.getName() + " failure");
                    }
                    try {
                      return method.invoke(m, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                      throw e.getCause();
                    }
                  });
        };
    dm.close();
    dm = ThinMappers.create(42, failing, clock);
    dm.registerDevice("meta", meta);
    dm.registerDevice("data", data);
    pool(8 * BS, 0, "");
    pool.message(0, "create_thin", "1");
    MappedDevice t = thin("t", 1, 4 * BS);
    t.write(pattern(BS, 1), 0);
    t.flush();
    failCommit.set(true);
    t.write(pattern(8, 2), BS * 512L);
    BioTracker.Completion flush = bios.completion();
    t.submit(Bio.flush(flush));
    assertThat(flush.await()).isEqualTo(BlockStatus.IOERR);
    assertThat(pool.status()).contains(" ro discard_passdown queue_if_no_space needs_check ");
    assertThat(read(t, 0, BS)).isEqualTo(pattern(BS, 1)); // the committed mapping serves reads
    assertThat(isZero(read(t, BS, BS))).as("the aborted mapping is gone").isTrue();
    failAbort.set(true);
    t.remove();
    pool.remove();
    failCommit.set(false);
    assertThat(pool(8 * BS, 0, "").status()).as("needs_check stays").contains(" ro ");
    pool.remove();
    meta.write(ByteBuffer.allocate(8192 * 512), 0); // new metadata
    pool(8 * BS, 0, "");
    pool.message(0, "create_thin", "1");
    t = thin("t", 1, 4 * BS);
    failCommit.set(true);
    t.write(pattern(8, 3), 2L * BS * 512);
    BioTracker.Completion f2 = bios.completion();
    t.submit(Bio.flush(f2));
    assertThat(f2.await()).isEqualTo(BlockStatus.IOERR);
    assertThat(pool.status()).isEqualTo("0 1024 thin-pool Fail\n");
    assertThat(t.status()).isEqualTo("0 512 thin Fail\n");
    BioTracker.Completion r = bios.completion();
    t.submit(Bio.read(0, ByteBuffer.allocate(4096), r));
    assertThat(r.await()).isEqualTo(BlockStatus.IOERR);
    t.remove();
    pool.remove();
  }

  void awaitStatus(String fragment) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (!pool.status().contains(fragment)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("status never showed \"" + fragment + "\": " + pool.status());
      }
      Thread.onSpinWait();
    }
  }
}
