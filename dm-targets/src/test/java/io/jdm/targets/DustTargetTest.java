package io.jdm.targets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.TargetException;
import io.jdm.testkit.BaseChunkedTargetTestCase;
import io.jdm.testkit.BioTracker;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.TargetFixture;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code dust}: with no bad blocks a pass-through (the suite, block size = chunk). */
class DustTargetTest extends BaseChunkedTargetTestCase {
  @Override
  protected String targetType() {
    return "dust";
  }

  @Override
  protected String targetArgs(TargetFixture f, long length, int chunk) {
    return f.memory(length + 64) + " 64 " + chunk * 512;
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk().withWriteZeroes(false);
  }

  @Override
  protected List<BadArguments> badArguments(TargetFixture f) {
    String d = f.memory(4096);
    return List.of(
        new BadArguments(64, "", "Invalid argument count"),
        new BadArguments(64, d + " 0", "Invalid argument count"),
        new BadArguments(64, d + " 0 512 1", "Invalid argument count"),
        new BadArguments(64, d + " 0 0", "Invalid block size parameter"),
        new BadArguments(64, d + " 0 4k", "Invalid block size parameter"),
        new BadArguments(64, d + " 0 4294967296", "Invalid block size parameter"),
        new BadArguments(64, d + " 0 256", "Block size must be at least 512"),
        new BadArguments(64, d + " 0 1536", "Block size must be a power of 2"),
        new BadArguments(8, d + " 0 8192", "Block size is too large"),
        new BadArguments(64, d + " x 512", "Invalid device offset sector"),
        new BadArguments(64, "/no/such 0 512", "Device lookup failed"),
        new BadArguments(64, d + " 4090 512", "too small for target"));
  }

  // ---------------------------------------------------------------------------------------------
  // A dust device of 256 sectors at offset 8 of a 1024-sector device, blocks of 4 KiB (8 sectors),
  // so mapped sector s is in block (s + 8) / 8 of the underlying device.

  private DeviceMapper dm;
  private MemoryBlockDevice disk;
  private MappedDevice dust;

  @BeforeEach
  void createDust() throws IOException {
    dm = DeviceMapper.create();
    disk = MemoryBlockDevice.create("disk", 1024);
    dm.registerDevice("disk", disk);
    dust = dm.create("dust", "0 256 dust disk 8 4096");
  }

  @AfterEach
  void closeDust() throws IOException {
    dm.close();
    disk.close();
  }

  private BlockStatus read(long sector, int sectors) {
    return readBio(dust, sector, ByteBuffer.allocate(sectors * 512));
  }

  private BlockStatus write(long sector, ByteBuffer data) {
    return writeBio(dust, sector, data, 0);
  }

  @Test
  void tableAndStatusTextAreTheKernels() {
    assertThat(dust.table()).isEqualTo("0 256 dust 240:0 8 4096\n");
    assertThat(dust.status()).isEqualTo("0 256 dust 240:0 bypass verbose\n");
    dust.message(0, "enable");
    assertThat(dust.status()).isEqualTo("0 256 dust 240:0 fail_read_on_bad_block verbose\n");
    dust.message(0, "quiet");
    assertThat(dust.status()).isEqualTo("0 256 dust 240:0 fail_read_on_bad_block quiet\n");
    dust.message(0, "quiet");
    dust.message(0, "disable");
    assertThat(dust.status()).isEqualTo("0 256 dust 240:0 bypass verbose\n");
  }

  @Test
  void messagesReplyAsTheKernel() {
    assertThat(dust.message(0, "countbadblocks")).isEqualTo("countbadblocks: 0 badblock(s) found");
    assertThat(dust.message(0, "listbadblocks")).isEqualTo("No blocks in badblocklist");
    assertThat(dust.message(0, "clearbadblocks"))
        .isEqualTo("dust_clear_badblocks: no badblocks found");
    assertThat(dust.message(0, "addbadblock", "60")).isEmpty();
    assertThat(dust.message(0, "addbadblock", "3", "2")).isEmpty();
    assertThat(dust.message(0, "AddBadBlock", "17")).isEmpty();
    assertThat(dust.message(0, "queryblock", "3"))
        .isEqualTo("dust_query_block: block 3 found in badblocklist");
    assertThat(dust.message(0, "queryblock", "4"))
        .isEqualTo("dust_query_block: block 4 not found in badblocklist");
    assertThat(dust.message(0, "countbadblocks")).isEqualTo("countbadblocks: 3 badblock(s) found");
    assertThat(dust.message(0, "listbadblocks")).isEqualTo("3\n17\n60\n");
    assertThat(dust.message(0, "removebadblock", "17")).isEmpty();
    assertThat(dust.message(0, "listbadblocks")).isEqualTo("3\n60\n");
    assertThat(dust.message(0, "clearbadblocks"))
        .isEqualTo("dust_clear_badblocks: badblocks cleared");
    assertThat(dust.message(0, "countbadblocks")).isEqualTo("countbadblocks: 0 badblock(s) found");
  }

  @Test
  void badMessagesAreRefusedWithTheKernelsText() {
    dust.message(0, "addbadblock", "5");
    assertMessageFails("dust_add_block: block 5 already in badblocklist", "addbadblock", "5");
    assertMessageFails(
        "dust_remove_block: block 6 not found in badblocklist", "removebadblock", "6");
    assertMessageFails("addbadblock requires an additional argument", "addbadblock");
    assertMessageFails("removebadblock requires an additional argument", "removebadblock");
    assertMessageFails("queryblock requires an additional argument", "queryblock");
    assertMessageFails("unrecognized message 'frobnicate' received", "frobnicate");
    assertMessageFails("unrecognized message 'enable' received", "enable", "1");
    assertMessageFails("unrecognized message 'queryblock' received", "queryblock", "1", "1");
    assertMessageFails("invalid number of arguments '4'", "addbadblock", "1", "1", "1");
    // strcasecmp folds ASCII only: a Kelvin sign is not a K
    assertMessageFails("unrecognized message 'addbadbloc\u212a' received", "addbadbloc\u212a", "1");
    assertMessageFails("invalid block number 'x'", "addbadblock", "x");
    assertMessageFails("invalid block number '-1'", "queryblock", "-1");
    assertMessageFails("invalid write fail count 'y'", "addbadblock", "1", "y");
    assertMessageFails("selected write fail count out of range", "addbadblock", "1", "256");
    // 1024 sectors / 8 = 128 blocks; the kernel also accepts block 128 (it compares with >)
    assertThat(dust.message(0, "addbadblock", "128")).isEmpty();
    assertMessageFails("selected block value out of range", "addbadblock", "129");
    assertMessageFails("selected block value out of range", "addbadblock", "129", "1");
    assertThat(dust.message(0, "countbadblocks")).isEqualTo("countbadblocks: 2 badblock(s) found");
  }

  private void assertMessageFails(String error, String... argv) {
    assertThatThrownBy(() -> dust.message(0, argv))
        .as(String.join(" ", argv))
        .isInstanceOf(TargetException.class)
        .hasMessage(error);
  }

  @Test
  void badBlocksFailReadsOnlyWhileEnabled() {
    dust.message(0, "addbadblock", "2"); // underlying sectors 16-23 = mapped sectors 8-15
    assertThat(read(8, 8)).isEqualTo(BlockStatus.OK);
    dust.message(0, "enable");
    assertThat(read(8, 8)).isEqualTo(BlockStatus.IOERR);
    assertThat(read(15, 1)).isEqualTo(BlockStatus.IOERR);
    assertThat(read(7, 1)).isEqualTo(BlockStatus.OK);
    assertThat(read(16, 1)).isEqualTo(BlockStatus.OK);
    assertThat(read(0, 32)).as("a read spanning the bad block").isEqualTo(BlockStatus.IOERR);
    assertThat(flushBio(dust)).isEqualTo(BlockStatus.OK);
    dust.message(0, "disable");
    assertThat(read(8, 8)).isEqualTo(BlockStatus.OK);
  }

  @Test
  void aWriteTakesTheBlockOffTheList() throws IOException {
    dust.message(0, "addbadblock", "2");
    dust.message(0, "enable");
    ByteBuffer data = randomData(8 * 512);
    assertThat(write(8, data.duplicate())).isEqualTo(BlockStatus.OK);
    assertThat(dust.message(0, "queryblock", "2"))
        .isEqualTo("dust_query_block: block 2 not found in badblocklist");
    ByteBuffer got = ByteBuffer.allocate(8 * 512);
    assertThat(readBio(dust, 8, got)).isEqualTo(BlockStatus.OK);
    assertThat(got).isEqualTo(data);
    ByteBuffer under = ByteBuffer.allocate(8 * 512);
    disk.read(under, 16 * 512);
    assertThat(under.flip()).isEqualTo(data);
  }

  @Test
  void writesFailWhileTheWriteFailCountLasts() throws IOException {
    dust.message(0, "addbadblock", "3", "2");
    dust.message(0, "enable");
    ByteBuffer data = randomData(512);
    assertThat(write(16, data.duplicate())).isEqualTo(BlockStatus.IOERR);
    assertThat(write(16, data.duplicate())).isEqualTo(BlockStatus.IOERR);
    ByteBuffer under = ByteBuffer.allocate(512);
    disk.read(under, 24 * 512);
    assertThat(under.flip()).as("failed writes change nothing").isEqualTo(ByteBuffer.allocate(512));
    assertThat(read(16, 1)).isEqualTo(BlockStatus.IOERR);
    assertThat(write(16, data.duplicate())).isEqualTo(BlockStatus.OK);
    assertThat(read(16, 1)).isEqualTo(BlockStatus.OK);
    assertThat(dust.message(0, "countbadblocks")).isEqualTo("countbadblocks: 0 badblock(s) found");
  }

  @Test
  void whileDisabledWritesLeaveTheListAlone() {
    dust.message(0, "addbadblock", "2");
    assertThat(write(8, randomData(512))).isEqualTo(BlockStatus.OK);
    assertThat(dust.message(0, "countbadblocks")).isEqualTo("countbadblocks: 1 badblock(s) found");
  }

  @Test
  void concurrentReadersAndMessagesDoNotLoseBios() throws Exception {
    dust.message(0, "enable");
    Thread t =
        new Thread(
            () -> {
              for (int i = 0; i < 2000; i++) {
                dust.message(0, "addbadblock", Integer.toString(1 + i % 32));
                dust.message(0, "removebadblock", Integer.toString(1 + i % 32));
              }
            });
    t.start();
    int done = 0;
    while (t.isAlive() || done < 100) {
      BioTracker.Completion c = bios.completion();
      dust.submit(Bio.read(random.nextInt(256), ByteBuffer.allocate(512), c));
      assertThat(c.await()).isIn(BlockStatus.OK, BlockStatus.IOERR);
      done++;
    }
    t.join();
    assertThat(dust.message(0, "countbadblocks")).isEqualTo("countbadblocks: 0 badblock(s) found");
    bios.assertAllCompletedOnce();
  }
}
