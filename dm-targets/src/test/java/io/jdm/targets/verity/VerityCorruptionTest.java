package io.jdm.targets.verity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.Bio;
import io.jdm.core.BlockIOException;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.TableException;
import io.jdm.core.TableSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What {@code verity} does with corrupt data and hash blocks in each mode, with read errors under
 * {@code restart_on_error}, with {@code check_at_most_once} and {@code ignore_zero_blocks}, and the
 * exact status and table text. A 64-block data device (4 KiB blocks, random contents from a fixed
 * seed, block 5 all zeros) with a two-level tree: 64 digests fit one level-0 block, so the tree is
 * the level-0 block 1 under the root.
 */
class VerityCorruptionTest {
  private static final long SEED = Long.getLong("jdm.seed", 1203L);
  private static final int BS = 4096;
  private static final int BLOCKS = 64;
  private static final String SALT = "5a17";

  private DeviceMapper dm;
  private MemoryBlockDevice data;
  private MemoryBlockDevice hash;
  private byte[] image;
  private String root;

  @BeforeEach
  void format() throws IOException {
    dm = DeviceMapper.create();
    image = new byte[BLOCKS * BS];
    new Random(SEED).nextBytes(image);
    Arrays.fill(image, 5 * BS, 6 * BS, (byte) 0);
    data = MemoryBlockDevice.create("data", BLOCKS * BS / 512);
    data.write(ByteBuffer.wrap(image), 0);
    VerityFormat fmt = VerityFormat.builder().salt(HexFormat.of().parseHex(SALT)).build();
    hash = MemoryBlockDevice.create("hash", fmt.hashDeviceBytes(BLOCKS) / 512);
    root = fmt.format(data, hash).rootHashHex();
    dm.registerDevice("data", data);
    dm.registerDevice("hash", hash);
  }

  @AfterEach
  void close() throws IOException {
    dm.close();
    data.close();
    hash.close();
  }

  private String args(String options) {
    return "1 data hash 4096 4096 64 1 sha256 " + root + " " + SALT + options;
  }

  private MappedDevice open(String options) {
    return dm.create("v", null, TableSpec.parse("0 512 verity " + args(options)), true);
  }

  private byte[] read(MappedDevice v, int block) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(BS);
    v.read(b, (long) block * BS);
    return b.array();
  }

  private byte[] expected(int block) {
    return Arrays.copyOfRange(image, block * BS, (block + 1) * BS);
  }

  private void flipData(int block, int offset) throws IOException {
    flip(data, (long) block * BS + offset);
  }

  private static void flip(MemoryBlockDevice dev, long pos) throws IOException {
    long sector = pos / 512 * 512;
    ByteBuffer b = ByteBuffer.allocate(512);
    dev.read(b, sector);
    b.put((int) (pos - sector), (byte) (b.get((int) (pos - sector)) ^ 0x40));
    b.clear();
    dev.write(b, sector);
  }

  private static VerityTarget target(MappedDevice v) {
    return (VerityTarget) v.liveTable().orElseThrow().target(0);
  }

  @Test
  void everyBlockReadsBackVerified() throws IOException {
    MappedDevice v = open("");
    ByteBuffer all = ByteBuffer.allocate(BLOCKS * BS);
    v.read(all, 0);
    assertThat(all.array()).isEqualTo(image);
    assertThat(v.status()).isEqualTo("0 512 verity V\n");
  }

  @Test
  void corruptDataFailsWithEioByDefaultAndIsReported() throws IOException {
    flipData(7, 100);
    MappedDevice v = open("");
    int events = v.eventNr();
    assertThatThrownBy(() -> read(v, 7))
        .isInstanceOf(BlockIOException.class)
        .extracting(e -> ((BlockIOException) e).status())
        .isEqualTo(BlockStatus.IOERR);
    assertThat(read(v, 8)).isEqualTo(expected(8));
    assertThat(v.status()).isEqualTo("0 512 verity C\n");
    assertThat(target(v).corruptionReports()).containsExactly("DM_VERITY_ERR_BLOCK_NR=0,7");
    assertThat(v.eventNr()).isGreaterThan(events);
    assertThat(target(v).halted()).isFalse();
    // a multi-block read containing the bad block fails as a whole
    ByteBuffer span = ByteBuffer.allocate(4 * BS);
    assertThatThrownBy(() -> v.read(span, 6L * BS)).isInstanceOf(BlockIOException.class);
  }

  @Test
  void corruptHashBlockIsMetadataCorruption() throws IOException {
    flip(hash, BS + 32 * 9 + 3); // level-0 block 1, digest of data block 9
    MappedDevice v = open("");
    assertThatThrownBy(() -> read(v, 0)).isInstanceOf(BlockIOException.class);
    assertThat(target(v).corruptionReports()).containsExactly("DM_VERITY_ERR_BLOCK_NR=1,1");
    assertThat(v.status()).isEqualTo("0 512 verity C\n");
  }

  @Test
  void ignoreCorruptionCountsAndPassesTheDataAsRead() throws IOException {
    flipData(7, 100);
    flip(hash, BS + 32 * 40);
    MappedDevice v = open(" 1 ignore_corruption");
    byte[] got = read(v, 7);
    byte[] want = expected(7);
    want[100] ^= 0x40;
    assertThat(got).isEqualTo(want);
    assertThat(v.status()).isEqualTo("0 512 verity C\n");
    // the hash block is corrupt too: every block under it is reported, the data still passes
    assertThat(read(v, 9)).isEqualTo(expected(9));
    assertThat(read(v, 40)).isEqualTo(expected(40)); // its digest is the one changed
    assertThat(target(v).corruptionReports())
        .startsWith("DM_VERITY_ERR_BLOCK_NR=1,1")
        .contains("DM_VERITY_ERR_BLOCK_NR=0,40");
  }

  @Test
  void onlyTheFirstHundredCorruptionsAreReported() throws IOException {
    flip(hash, BS + 3000); // in the zero tail of the level-0 block: every lookup reports it
    MappedDevice v = open(" 1 ignore_corruption");
    for (int i = 0; i < 120; i++) {
      read(v, i % BLOCKS);
    }
    assertThat(target(v).corruptionReports())
        .hasSize(VerityTarget.MAX_CORRUPTED_ERRS)
        .allMatch(r -> r.equals("DM_VERITY_ERR_BLOCK_NR=1,1"));
  }

  @Test
  void restartAndPanicHaltTheDevice() throws IOException {
    for (String mode : new String[] {"restart_on_corruption", "panic_on_corruption"}) {
      flipData(7, 1);
      MappedDevice v = open(" 1 " + mode);
      assertThat(read(v, 8)).isEqualTo(expected(8));
      int events = v.eventNr();
      assertThatThrownBy(() -> read(v, 7)).isInstanceOf(BlockIOException.class);
      assertThat(target(v).halted()).isTrue();
      assertThat(v.eventNr()).isGreaterThan(events);
      assertThatThrownBy(() -> read(v, 8))
          .as("after the restart nothing is served")
          .isInstanceOf(BlockIOException.class);
      assertThat(v.status()).isEqualTo("0 512 verity C\n");
      // a reload is a new start
      flipData(7, 1);
      v.load("0 512 verity " + args(" 1 " + mode), true);
      v.resume();
      assertThat(read(v, 7)).isEqualTo(expected(7));
      assertThat(target(v).halted()).isFalse();
      dm.remove("v");
    }
  }

  @Test
  void readErrorsHaltOnlyWithAnErrorMode() throws IOException {
    dm.create("dusty", "0 512 dust data 0 4096");
    dm.message("dusty", 0, "addbadblock", "3");
    dm.message("dusty", 0, "enable");
    String line = "0 512 verity 1 dusty hash 4096 4096 64 1 sha256 " + root + " " + SALT;
    MappedDevice plain = dm.create("v", null, TableSpec.parse(line), true);
    assertThatThrownBy(() -> read(plain, 3)).isInstanceOf(BlockIOException.class);
    assertThat(target(plain).halted()).isFalse();
    assertThat(plain.status()).as("an I/O error is not corruption").isEqualTo("0 512 verity V\n");
    dm.remove("v");
    for (String mode : new String[] {"restart_on_error", "panic_on_error"}) {
      MappedDevice v = dm.create("v", null, TableSpec.parse(line + " 1 " + mode), true);
      assertThat(read(v, 2)).isEqualTo(expected(2));
      assertThatThrownBy(() -> read(v, 3)).isInstanceOf(BlockIOException.class);
      assertThat(target(v).halted()).isTrue();
      assertThatThrownBy(() -> read(v, 2)).isInstanceOf(BlockIOException.class);
      assertThat(v.status()).isEqualTo("0 512 verity V\n");
      dm.remove("v");
    }
  }

  @Test
  void inlineVerificationFallsBackToTheWorkqueueForReadsAndErrors() throws IOException {
    flipData(7, 100);
    MappedDevice v = open(" 1 try_verify_in_tasklet");
    assertThat(read(v, 8)).isEqualTo(expected(8)); // hash block not cached yet: workqueue
    assertThat(read(v, 9)).isEqualTo(expected(9)); // cached: verified where it completed
    assertThatThrownBy(() -> read(v, 7)).isInstanceOf(BlockIOException.class);
    assertThat(target(v).corruptionReports()).containsExactly("DM_VERITY_ERR_BLOCK_NR=0,7");
    ByteBuffer all = ByteBuffer.allocate(7 * BS);
    v.read(all, 0);
    assertThat(all.array()).isEqualTo(Arrays.copyOf(image, 7 * BS));
  }

  @Test
  void checkAtMostOnceTrustsBlocksVerifiedBefore() throws IOException {
    MappedDevice v = open(" 1 check_at_most_once");
    assertThat(read(v, 7)).isEqualTo(expected(7));
    flipData(7, 1);
    flipData(8, 1);
    byte[] got = read(v, 7);
    assertThat(got).isNotEqualTo(expected(7)); // not checked again, as in the kernel
    assertThatThrownBy(() -> read(v, 8)).isInstanceOf(BlockIOException.class);
    assertThat(v.status()).isEqualTo("0 512 verity C\n");
  }

  @Test
  void ignoreZeroBlocksReturnsZerosWithoutReading() throws IOException {
    flipData(5, 9); // block 5 was zeros when formatted
    MappedDevice v = open(" 1 ignore_zero_blocks");
    assertThat(read(v, 5)).isEqualTo(new byte[BS]);
    assertThat(v.status()).isEqualTo("0 512 verity V\n");
    dm.remove("v");
    MappedDevice strict = open("");
    assertThatThrownBy(() -> read(strict, 5)).isInstanceOf(BlockIOException.class);
  }

  @Test
  void writesUnalignedAndOutOfRangeIoFail() throws Exception {
    MappedDevice v = open("");
    assertThatThrownBy(() -> v.write(ByteBuffer.allocate(BS), 0))
        .isInstanceOf(BlockIOException.class);
    assertThat(v.limits().logicalBlockSize()).isEqualTo(BS);
    // below the block layer's own alignment check: the target's map sees it
    VerityTarget t = target(v);
    CompletableFuture<BlockStatus> done = new CompletableFuture<>();
    Bio b = Bio.read(1, ByteBuffer.allocate(512), x -> done.complete(x.status()));
    assertThat(t.map(b)).isEqualTo(io.jdm.core.MapResult.KILL);
    Bio far = Bio.read(512, ByteBuffer.allocate(BS), x -> done.complete(x.status()));
    assertThat(t.map(far)).isEqualTo(io.jdm.core.MapResult.KILL);
    assertThat(read(v, 63)).isEqualTo(expected(63));
    assertThat(done.isDone()).isFalse();
    done.complete(BlockStatus.OK);
    assertThat(done.get(1, TimeUnit.SECONDS)).isEqualTo(BlockStatus.OK);
  }

  @Test
  void smallReadsWithCachedHashBlocksAreVerifiedWhereTheyComplete() throws Exception {
    MappedDevice v = open("");
    Thread[] on = new Thread[1];
    ByteBuffer small = ByteBuffer.allocate(BS);
    CompletableFuture<BlockStatus> first = new CompletableFuture<>();
    // the level-0 hash block is not cached yet: the workqueue reads and verifies it
    v.submit(
        Bio.read(
            3 * 8,
            small,
            x -> {
              on[0] = Thread.currentThread();
              first.complete(x.status());
            }));
    assertThat(first.get(10, TimeUnit.SECONDS)).isEqualTo(BlockStatus.OK);
    assertThat(on[0]).isNotSameAs(Thread.currentThread());
    // now it is: a 4 KiB read is verified on the thread where it completes (here, this one)
    CompletableFuture<BlockStatus> second = new CompletableFuture<>();
    small.clear();
    v.submit(
        Bio.read(
            4 * 8,
            small,
            x -> {
              on[0] = Thread.currentThread();
              second.complete(x.status());
            }));
    assertThat(second.get(10, TimeUnit.SECONDS)).isEqualTo(BlockStatus.OK);
    assertThat(on[0]).isSameAs(Thread.currentThread());
    assertThat(small.array()).isEqualTo(expected(4));
    // larger reads still go to the workqueue
    CompletableFuture<BlockStatus> third = new CompletableFuture<>();
    ByteBuffer big = ByteBuffer.allocate(4 * BS);
    v.submit(
        Bio.read(
            8 * 8,
            big,
            x -> {
              on[0] = Thread.currentThread();
              third.complete(x.status());
            }));
    assertThat(third.get(10, TimeUnit.SECONDS)).isEqualTo(BlockStatus.OK);
    assertThat(on[0]).isNotSameAs(Thread.currentThread());
    // and a corrupt block found inline is handled there, with the usual error
    flipData(6, 10);
    assertThatThrownBy(() -> read(v, 6)).isInstanceOf(BlockIOException.class);
    assertThat(v.status()).isEqualTo("0 512 verity C\n");
  }

  @Test
  void tableAndStatusTextAreTheKernels() {
    MappedDevice v =
        open(
            " 5 try_verify_in_tasklet check_at_most_once ignore_zero_blocks restart_on_error"
                + " ignore_corruption");
    String d = v.liveTable().orElseThrow().devices().get(0).name();
    String h = v.liveTable().orElseThrow().devices().get(1).name();
    assertThat(v.table())
        .isEqualTo(
            "0 512 verity 1 "
                + d
                + " "
                + h
                + " 4096 4096 64 1 sha256 "
                + root
                + " "
                + SALT
                + " 5 ignore_corruption restart_on_error ignore_zero_blocks check_at_most_once"
                + " try_verify_in_tasklet\n");
    assertThat(v.status()).isEqualTo("0 512 verity V\n");
    dm.remove("v");
    // options in any order and case print in the kernel's order; no salt prints "-"
    MappedDevice w =
        dm.create(
            "w",
            null,
            TableSpec.parse(
                "0 512 verity 1 data hash 4096 4096 64 1 sha256 "
                    + root
                    + " "
                    + SALT
                    + " 2 CHECK_AT_MOST_ONCE Panic_On_Corruption"),
            true);
    assertThat(w.table()).endsWith(" " + SALT + " 2 panic_on_corruption check_at_most_once\n");
  }

  @Test
  void aWritableTableIsRefused() {
    assertThatThrownBy(() -> dm.create("v", "0 512 verity " + args("")))
        .isInstanceOf(TableException.class)
        .hasMessage("line 1: verity: Device must be readonly");
    assertThat(dm.find("v")).isEmpty();
  }

  @Test
  void verityIsASingletonAndImmutable() {
    assertThatThrownBy(
            () ->
                dm.create(
                    "v", null, TableSpec.parse("0 512 verity " + args("") + "\n512 8 zero"), true))
        .hasMessageContaining("target type verity must appear alone in table");
    MappedDevice v = open("");
    assertThatThrownBy(() -> v.load("0 512 linear data 0", true))
        .hasMessageContaining("can't replace immutable target type verity");
  }

  @Test
  void wrongRootHashFailsEveryRead() {
    String bad = root.substring(0, 63) + (root.charAt(63) == '0' ? '1' : '0');
    MappedDevice v =
        dm.create(
            "v",
            null,
            TableSpec.parse("0 512 verity 1 data hash 4096 4096 64 1 sha256 " + bad + " " + SALT),
            true);
    assertThatThrownBy(() -> read(v, 0)).isInstanceOf(BlockIOException.class);
    assertThat(target(v).corruptionReports()).containsExactly("DM_VERITY_ERR_BLOCK_NR=1,1");
  }
}
