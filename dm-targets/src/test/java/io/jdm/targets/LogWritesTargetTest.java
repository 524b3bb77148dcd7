package io.jdm.targets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.TargetException;
import io.jdm.testkit.BaseTargetTestCase;
import io.jdm.testkit.BioTracker;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.TargetFixture;
import io.jdm.testkit.crash.WriteLog;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@code log-writes}: the suite on the data path, then the log, byte by byte. */
class LogWritesTargetTest extends BaseTargetTestCase {
  @Override
  protected String targetType() {
    return "log-writes";
  }

  @Override
  protected String targetArgs(TargetFixture f, long length) {
    return f.memory(length) + " " + f.memory(1L << 24);
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk().withWriteZeroes(false);
  }

  @Override
  protected List<BadArguments> badArguments(TargetFixture f) {
    String d = f.memory(1024);
    String log = f.memory(1024);
    return List.of(
        new BadArguments(64, "", "Invalid argument count"),
        new BadArguments(64, d, "Invalid argument count"),
        new BadArguments(64, "/no/such " + log, "Device lookup failed"),
        new BadArguments(64, d + " /no/such", "Log device lookup failed"),
        new BadArguments(64, d + " " + f.memory(2), "Log device too small: 2 sectors"),
        new BadArguments(
            64, f.memory(1024, 4096) + " " + f.memory(16, 4096), "Log device too small: 16"),
        new BadArguments(2048, d + " " + log, "too small for target"));
  }

  // ---------------------------------------------------------------------------------------------

  /** The data device: a disk with a volatile cache, so that flushes and FUA reach the target. */
  private static MemoryBlockDevice disk(String name, long sectors, int blockSize) {
    return MemoryBlockDevice.builder(name, sectors)
        .logicalBlockSize(blockSize)
        .writeCache(true)
        .build();
  }

  private final BioTracker tracker = new BioTracker();

  private BlockStatus submit(MappedDevice md, Bio bio, BioTracker.Completion c) {
    md.submit(bio);
    return c.await();
  }

  private BlockStatus write(MappedDevice md, long sector, byte[] data, int flags) {
    BioTracker.Completion c = tracker.completion();
    return submit(md, Bio.write(sector, ByteBuffer.wrap(data), flags, c), c);
  }

  private BlockStatus flush(MappedDevice md) {
    BioTracker.Completion c = tracker.completion();
    return submit(md, Bio.flush(c), c);
  }

  private BlockStatus discard(MappedDevice md, long sector, int sectors) {
    BioTracker.Completion c = tracker.completion();
    return submit(md, Bio.discard(sector, sectors, c), c);
  }

  /** Waits for the log worker to log {@code n} entries. */
  private static void awaitEntries(MappedDevice md, long n) {
    awaitStatus(md, st -> st.startsWith("0 " + md.sectors() + " log-writes " + n + " "));
  }

  /**
   * Waits until the log's super block says {@code n} entries (yielding, a minute at most). The
   * status counts an entry before the worker writes the super block, so the first reads may find no
   * super block yet: that is "not yet", not a failure.
   */
  private static void awaitSuperBlock(MemoryBlockDevice log, int n) {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
    Object last = null;
    while (true) {
      try {
        List<?> entries = WriteLog.read(log).entries();
        if (entries.size() == n) {
          return;
        }
        last = entries;
      } catch (IOException notYet) {
        last = notYet.getMessage();
      }
      assertThat(System.nanoTime() - deadline).as("log %s", last).isNegative();
      Thread.yield();
    }
  }

  /**
   * Waits until the status satisfies {@code done}: the log worker runs on its own thread and the
   * target offers no other signal. No time is assumed: the minute is only a safety net, and the
   * loop yields instead of sleeping.
   */
  private static void awaitStatus(MappedDevice md, java.util.function.Predicate<String> done) {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
    while (!done.test(md.status())) {
      assertThat(System.nanoTime() - deadline).as("status %s", md.status()).isNegative();
      Thread.yield();
    }
  }

  static byte[] pattern(int bytes, int seed) {
    byte[] b = new byte[bytes];
    new Random(seed).nextBytes(b);
    return b;
  }

  /** The log a workload must leave, built by hand from the format in dm-log-writes.c. */
  private static final class ExpectedLog {
    final int s;
    final ByteBuffer buf;
    int block = 1;
    int entries;

    ExpectedLog(int s, int blocks) {
      this.s = s;
      this.buf = ByteBuffer.allocate(s * blocks).order(ByteOrder.LITTLE_ENDIAN);
    }

    ExpectedLog entry(long sector, long nr, long flags, long dataLen, byte[] after) {
      int at = block * s;
      buf.putLong(at, sector).putLong(at + 8, nr).putLong(at + 16, flags).putLong(at + 24, dataLen);
      block++;
      entries++;
      return data(after);
    }

    ExpectedLog data(byte[] data) {
      if (data != null) {
        buf.put(block * s, data);
        block += data.length / s;
      }
      return this;
    }

    ExpectedLog mark(String name) {
      byte[] n = name.getBytes(StandardCharsets.US_ASCII);
      entry(0, 0, 8, n.length, null);
      buf.put((block - 1) * s + 32, n);
      return this;
    }

    ExpectedLog superBlock(long count) {
      buf.putLong(0, 0x6a736677736872L).putLong(8, 1).putLong(16, count).putInt(24, s);
      return this;
    }
  }

  private static byte[] head(BlockDevice log, int bytes) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(bytes);
    log.read(b, 0);
    return b.array();
  }

  @Test
  void theLogIsTheKernelsByteForByte() throws Exception {
    try (DeviceMapper dm = DeviceMapper.create();
        MemoryBlockDevice data = disk("data", 1024, 512);
        MemoryBlockDevice log = MemoryBlockDevice.create("log", 4096)) {
      dm.registerDevice("data", data);
      dm.registerDevice("log", log);
      MappedDevice md = dm.create("lw", "0 1024 log-writes data log");
      assertThat(md.table()).isEqualTo("0 1024 log-writes 240:0 240:1\n");
      assertThat(md.status()).isEqualTo("0 1024 log-writes 0 0\n");
      byte[] a = pattern(1024, 1);
      byte[] b = pattern(512, 2);
      byte[] c = pattern(512, 3);
      assertThat(write(md, 10, a, 0)).isEqualTo(BlockStatus.OK);
      assertThat(write(md, 20, b, Bio.META)).isEqualTo(BlockStatus.OK);
      assertThat(md.status()).as("writes wait for a flush").isEqualTo("0 1024 log-writes 0 0\n");
      assertThat(flush(md)).isEqualTo(BlockStatus.OK);
      awaitEntries(md, 3);
      assertThat(write(md, 30, c, Bio.FUA)).isEqualTo(BlockStatus.OK);
      awaitEntries(md, 4);
      md.message(0, "mark", "m1");
      awaitEntries(md, 5);
      assertThat(discard(md, 40, 8)).isEqualTo(BlockStatus.OK);
      assertThat(flush(md)).isEqualTo(BlockStatus.OK);
      awaitEntries(md, 7);
      // blocks: super, a + 2, b + 1, flush, c + 1, m1, discard, flush: next free is 12
      assertThat(md.status()).isEqualTo("0 1024 log-writes 7 11\n");
      assertThat(write(md, 50, b, 0)).isEqualTo(BlockStatus.OK); // never flushed
      dm.remove("lw");
      ExpectedLog expected =
          new ExpectedLog(512, 16)
              .entry(10, 2, 0, 0, a)
              .entry(20, 1, 16, 0, b)
              .entry(0, 0, 1, 0, null)
              .entry(30, 1, 2, 0, c)
              .mark("m1")
              .entry(40, 8, 4, 0, null)
              .entry(0, 0, 1, 0, null)
              .entry(50, 1, 0, 0, b) // logged unflushed at removal
              .mark("dm-log-writes-end")
              .superBlock(9);
      assertThat(head(log, 16 * 512)).isEqualTo(expected.buf.array());
    }
  }

  @Test
  void theSuperBlockIsOnlyRewrittenAfterFuaAndMarks() throws Exception {
    try (DeviceMapper dm = DeviceMapper.create();
        MemoryBlockDevice data = disk("data", 1024, 512);
        MemoryBlockDevice log = MemoryBlockDevice.create("log", 4096)) {
      dm.registerDevice("data", data);
      dm.registerDevice("log", log);
      MappedDevice md = dm.create("lw", "0 1024 log-writes data log");
      write(md, 1, pattern(512, 1), 0);
      flush(md);
      awaitEntries(md, 2);
      assertThat(WriteLog.MAGIC)
          .isNotEqualTo(ByteBuffer.wrap(head(log, 512)).order(ByteOrder.LITTLE_ENDIAN).getLong(0));
      write(md, 2, pattern(512, 2), Bio.FUA);
      awaitEntries(md, 3);
      awaitSuperBlock(log, 3);
      flush(md);
      awaitEntries(md, 4);
      assertThat(WriteLog.read(log).entries()).as("a flush does not update it").hasSize(3);
      md.message(0, "MARK", "x");
      awaitEntries(md, 5);
      awaitSuperBlock(log, 5); // the status counts an entry before its super block is written
      md.close();
    }
  }

  @Test
  void unitsAreTheDataDevicesLogicalBlocks() throws Exception {
    try (DeviceMapper dm = DeviceMapper.create();
        MemoryBlockDevice data = disk("data", 1024, 4096);
        MemoryBlockDevice log =
            MemoryBlockDevice.builder("log", 4096).logicalBlockSize(4096).build()) {
      dm.registerDevice("data", data);
      dm.registerDevice("log", log);
      MappedDevice md = dm.create("lw", "0 1024 log-writes data log");
      assertThat(md.limits().logicalBlockSize()).isEqualTo(4096);
      byte[] a = pattern(8192, 5);
      write(md, 16, a, Bio.FUA);
      awaitEntries(md, 1);
      String longName = "m".repeat(5000);
      md.message(0, "mark", longName);
      dm.remove("lw");
      ExpectedLog expected =
          new ExpectedLog(4096, 8)
              .entry(2, 2, 2, 0, a)
              .mark("m".repeat(4096 - 33))
              .mark("dm-log-writes-end")
              .superBlock(3);
      assertThat(head(log, 8 * 4096)).isEqualTo(expected.buf.array());
      // blocks: super, entry, 2 data, mark, end mark
      WriteLog parsed = WriteLog.read(log);
      assertThat(parsed.blockSize()).isEqualTo(4096);
      assertThat(parsed.entries().get(0).sector()).isEqualTo(16);
      assertThat(parsed.entries().get(0).sectors()).isEqualTo(16);
    }
  }

  @Test
  void replayingTheLogRebuildsTheDeviceAtEveryFlush() throws Exception {
    Random rnd = new Random(7);
    try (DeviceMapper dm = DeviceMapper.create();
        MemoryBlockDevice data = disk("data", 2048, 512);
        MemoryBlockDevice log = MemoryBlockDevice.create("log", 1 << 20)) {
      dm.registerDevice("data", data);
      dm.registerDevice("log", log);
      MappedDevice md = dm.create("lw", "0 2048 log-writes data log");
      List<byte[]> atFlush = new ArrayList<>();
      for (int i = 0; i < 300; i++) {
        int op = rnd.nextInt(10);
        long sector = rnd.nextInt(2000);
        int n = 1 + rnd.nextInt(40);
        if (op < 5) {
          write(md, sector, pattern(n * 512, rnd.nextInt()), 0);
        } else if (op < 6) {
          // FUA after a flush, as journals commit (REQ_PREFLUSH | REQ_FUA): the log cannot order
          // a FUA write after an unflushed write it overwrites, in the kernel as here
          atFlush.add(head(data, 2048 * 512));
          write(md, sector, pattern(n * 512, rnd.nextInt()), Bio.PREFLUSH | Bio.FUA);
        } else if (op < 7) {
          discard(md, sector, n);
        } else {
          flush(md);
          atFlush.add(head(data, 2048 * 512));
        }
      }
      dm.remove("lw");
      WriteLog parsed = WriteLog.read(log);
      MemoryBlockDevice replayed = MemoryBlockDevice.create("replayed", 2048);
      int flushes = 0;
      for (WriteLog.Entry e : parsed.entries()) {
        parsed.replay(replayed, e.index() + 1);
        if (e.isFlush()) {
          assertThat(head(replayed, 2048 * 512))
              .as("replayed up to flush %d (entry %d)", flushes, e.index())
              .isEqualTo(atFlush.get(flushes));
          flushes++;
        }
        replayed.close();
        replayed = MemoryBlockDevice.create("replayed", 2048);
      }
      assertThat(flushes).isEqualTo(atFlush.size());
      parsed.replay(replayed, parsed.entries().size());
      assertThat(head(replayed, 2048 * 512)).isEqualTo(head(data, 2048 * 512));
      assertThat(parsed.entries().get(parsed.entries().size() - 1).mark())
          .isEqualTo(WriteLog.END_MARK);
    }
  }

  @Test
  void aDiscardTheDeviceCannotDoIsLoggedAndCompleted() throws Exception {
    try (DeviceMapper dm = DeviceMapper.create();
        CountingBlockDevice data =
            new CountingBlockDevice(MemoryBlockDevice.create("data", 1024), false);
        MemoryBlockDevice log = MemoryBlockDevice.create("log", 4096)) {
      dm.registerDevice("data", data);
      dm.registerDevice("log", log);
      MappedDevice md = dm.create("lw", "0 1024 log-writes data log");
      assertThat(md.limits().supportsDiscard()).as("the target takes discards itself").isTrue();
      assertThat(discard(md, 8, 16)).isEqualTo(BlockStatus.OK);
      assertThat(data.count(Bio.Op.DISCARD)).isZero();
      dm.remove("lw");
      WriteLog.Entry e = WriteLog.read(log).entries().get(0);
      assertThat(e.isDiscard()).isTrue();
      assertThat(e.sector()).isEqualTo(8);
      assertThat(e.sectors()).isEqualTo(16);
    }
  }

  @Test
  void aFullLogTurnsLoggingOffAndIoGoesOn() throws Exception {
    try (DeviceMapper dm = DeviceMapper.create();
        MemoryBlockDevice data = disk("data", 1024, 512);
        MemoryBlockDevice log = MemoryBlockDevice.create("log", 8)) {
      dm.registerDevice("data", data);
      dm.registerDevice("log", log);
      MappedDevice md = dm.create("lw", "0 1024 log-writes data log");
      for (int i = 0; i < 3; i++) {
        assertThat(write(md, i * 2L, pattern(1024, i), Bio.FUA)).isEqualTo(BlockStatus.OK);
      }
      awaitStatus(md, st -> st.endsWith(" logging_disabled\n"));
      // 3 blocks an entry: the first takes blocks 1-3, the second 4-6; the third would end at
      // block 10, past the end (8), and the kernel leaves next_sector there (status shows it - 1)
      assertThat(md.status()).isEqualTo("0 1024 log-writes 2 9 logging_disabled\n");
      byte[] more = pattern(512, 9);
      assertThat(write(md, 100, more, 0)).isEqualTo(BlockStatus.OK);
      assertThat(flush(md)).isEqualTo(BlockStatus.OK);
      ByteBuffer got = ByteBuffer.allocate(512);
      data.read(got, 100 * 512);
      assertThat(got.array()).isEqualTo(more);
      md.close();
    }
  }

  @Test
  void messagesAreTheKernels() {
    try (DeviceMapper dm = DeviceMapper.create()) {
      dm.registerDevice("data", MemoryBlockDevice.create("data", 1024));
      dm.registerDevice("log", MemoryBlockDevice.create("log", 1024));
      MappedDevice md = dm.create("lw", "0 1024 log-writes data log");
      assertThatThrownBy(() -> md.message(0, "mark"))
          .isInstanceOf(TargetException.class)
          .hasMessage("Invalid log-writes message arguments, expect 2 arguments, got 1");
      assertThatThrownBy(() -> md.message(0, "mark", "a", "b"))
          .hasMessage("Invalid log-writes message arguments, expect 2 arguments, got 3");
      assertThatThrownBy(() -> md.message(0, "note", "a"))
          .hasMessage("Unrecognised log writes target message received: note");
      assertThat(md.message(0, "mark", "ok")).isEmpty();
      md.close();
    }
  }
}
