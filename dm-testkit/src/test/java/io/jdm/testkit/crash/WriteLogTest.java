package io.jdm.testkit.crash;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading logs built byte by byte from the format, and refusing broken or foreign ones. */
class WriteLogTest {
  private static MemoryBlockDevice device(byte[] bytes, int blockSize) throws IOException {
    MemoryBlockDevice d =
        MemoryBlockDevice.builder("log", bytes.length / 512).logicalBlockSize(blockSize).build();
    d.write(ByteBuffer.wrap(bytes), 0);
    return d;
  }

  private static LogBuilder sample(int s) {
    return new LogBuilder(s, 64)
        .entry(10, 2, 0, LogBuilder.pattern(2 * s, 1))
        .entry(20, 1, WriteLog.METADATA, LogBuilder.pattern(s, 2))
        .entry(0, 0, WriteLog.FLUSH, null)
        .entry(30, 4, WriteLog.FUA, LogBuilder.pattern(4 * s, 3))
        .mark("one")
        .entry(40, 2, WriteLog.DISCARD, null)
        .entry(50, 3, 0, LogBuilder.pattern(3 * s, 4))
        .mark("two")
        .entry(10, 1, WriteLog.FLUSH | WriteLog.FUA, LogBuilder.pattern(s, 5))
        .superBlock();
  }

  @Test
  void readsEveryKindOfEntry() throws IOException {
    for (int s : new int[] {512, 4096}) {
      WriteLog log = WriteLog.read(device(sample(s).bytes(), s));
      int u = s / 512; // 512-byte sectors per log block
      assertThat(log.blockSize()).isEqualTo(s);
      assertThat(log.entries()).hasSize(9);
      WriteLog.Entry a = log.entries().get(0);
      assertThat(a.sector()).isEqualTo(10L * u);
      assertThat(a.sectors()).isEqualTo(2L * u);
      assertThat(a.logBlock()).isEqualTo(1);
      assertThat(a.data()).isEqualTo(ByteBuffer.wrap(LogBuilder.pattern(2 * s, 1)));
      assertThat(a.changesData()).isTrue();
      assertThat(log.entries().get(1).isMetadata()).isTrue();
      assertThat(log.entries().get(1).logBlock()).isEqualTo(4);
      WriteLog.Entry flush = log.entries().get(2);
      assertThat(flush.isFlush()).isTrue();
      assertThat(flush.changesData()).isFalse();
      assertThat(log.entries().get(3).isFua()).isTrue();
      assertThat(log.entries().get(4).mark()).isEqualTo("one");
      assertThat(log.entries().get(4).logBlock()).isEqualTo(12);
      WriteLog.Entry discard = log.entries().get(5);
      assertThat(discard.isDiscard()).isTrue();
      assertThat(discard.sectors()).isEqualTo(2L * u);
      assertThat(discard.data().remaining()).isZero();
      assertThat(log.entries().get(6).logBlock()).as("a discard has no data blocks").isEqualTo(14);
      assertThat(log.indexOfMark("two")).isEqualTo(7);
      assertThat(log.indexOfMark("three")).isEqualTo(-1);
      assertThat(log.entries().get(8).toString())
          .isEqualTo("entry 8 write " + u + " sectors at " + 10 * u + " flush fua");
    }
  }

  @Test
  void replaysAPrefixAsReplayLogDoes() throws IOException {
    int s = 512;
    WriteLog log = WriteLog.read(device(sample(s).bytes(), s));
    MemoryBlockDevice target = MemoryBlockDevice.create("t", 128);
    target.write(ByteBuffer.wrap(LogBuilder.pattern(2 * s, 9)), 40 * 512L);
    log.replay(target, 5); // up to and including mark "one"
    assertThat(read(target, 10, 2)).isEqualTo(LogBuilder.pattern(2 * s, 1));
    assertThat(read(target, 30, 4)).isEqualTo(LogBuilder.pattern(4 * s, 3));
    assertThat(read(target, 40, 2)).isEqualTo(LogBuilder.pattern(2 * s, 9));
    log.replay(target, 9);
    assertThat(read(target, 40, 2)).as("a discard replays as zeros").isEqualTo(new byte[2 * s]);
    assertThat(read(target, 10, 1)).isEqualTo(LogBuilder.pattern(s, 5));
    assertThat(read(target, 11, 1))
        .isEqualTo(java.util.Arrays.copyOfRange(LogBuilder.pattern(2 * s, 1), s, 2 * s));
    assertThatThrownBy(() -> log.replay(target, 10)).isInstanceOf(IllegalArgumentException.class);
  }

  private static byte[] read(MemoryBlockDevice d, long sector, int sectors) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(sectors * 512);
    d.read(b, sector * 512);
    return b.array();
  }

  @Test
  void onlyTheEntriesTheSuperBlockCountsAreRead() throws IOException {
    LogBuilder b = sample(512);
    b.superBlock(WriteLog.MAGIC, 1, 3, 512);
    assertThat(WriteLog.read(device(b.bytes(), 512)).entries()).hasSize(3);
  }

  @Test
  void readsFromAFile(@TempDir Path dir) throws IOException {
    Path f = dir.resolve("log.img");
    Files.write(f, sample(512).bytes());
    assertThat(WriteLog.read(f).entries()).hasSize(9);
  }

  private static void assertRefused(LogBuilder b, String message) {
    assertThatThrownBy(() -> WriteLog.read(device(b.bytes(), 512)))
        .isInstanceOf(IOException.class)
        .hasMessage(message);
  }

  @Test
  void refusesAForeignOrCorruptSuperBlock() {
    assertRefused(
        sample(512).superBlock(0x12345678L, 1, 9, 512),
        "log-writes log: super block: magic 0x12345678 is not the log-writes magic"
            + " 0x6a736677736872: not a log-writes log");
    assertRefused(
        new LogBuilder(512, 8),
        "log-writes log: super block: magic 0x0 is not the log-writes magic"
            + " 0x6a736677736872: not a log-writes log");
    assertRefused(
        sample(512).superBlock(WriteLog.MAGIC, 2, 9, 512),
        "log-writes log: super block: version 2, only version 1 is known");
    assertRefused(
        sample(512).superBlock(WriteLog.MAGIC, 1, 9, 1000),
        "log-writes log: super block: sector size 1000 is not a power of two from 512 to 1 MiB");
    assertRefused(
        sample(512).superBlock(WriteLog.MAGIC, 1, 9, 256),
        "log-writes log: super block: sector size 256 is not a power of two from 512 to 1 MiB");
    assertRefused(
        sample(512).superBlock(WriteLog.MAGIC, 1, 64, 512),
        "log-writes log: super block: 64 entries cannot fit in a log device of 32768 bytes"
            + " (63 blocks of 512 after the super block)");
    assertRefused(
        sample(512).superBlock(WriteLog.MAGIC, 1, -1, 512),
        "log-writes log: super block: 18446744073709551615 entries cannot fit in a log device"
            + " of 32768 bytes (63 blocks of 512 after the super block)");
  }

  @Test
  void refusesMalformedEntries() {
    assertRefused(
        sample(512).superBlock(WriteLog.MAGIC, 1, 12, 512),
        "log-writes log: entry 9 at block 21: an entry with no flags and no sectors"
            + " (a zeroed block?)");
    assertRefused(
        sample(512).pokeByte(4 * 512 + 32, (byte) 1),
        "log-writes log: entry 1 at block 4: bytes after the 32-byte header of a non-mark entry");
    assertRefused(
        sample(512).poke(12 * 512 + 16, WriteLog.MARK | WriteLog.FLUSH),
        "log-writes log: entry 4 at block 12: a mark with other flags (0x9)");
    assertRefused(
        sample(512).poke(12 * 512 + 24, 480),
        "log-writes log: entry 4 at block 12: a mark name of 480 bytes does not fit in a block"
            + " of 512 with its header and NUL");
    assertRefused(
        sample(512).poke(12 * 512 + 24, 2),
        "log-writes log: entry 4 at block 12: the mark name is not NUL-terminated");
    assertRefused(
        sample(512).poke(14 * 512 + 8, 60),
        "log-writes log: entry 6 at block 14: 60 data blocks run past the end of the log device"
            + " (32768 bytes)");
    assertRefused(
        sample(512).poke(14 * 512 + 8, -5),
        "log-writes log: entry 6 at block 14: 18446744073709551611 sectors at sector 50 is out"
            + " of range");
  }

  @Test
  void refusesALogDeviceTooSmallForASuperBlock() throws IOException {
    MemoryBlockDevice tiny = MemoryBlockDevice.create("tiny", 0);
    assertThatThrownBy(() -> WriteLog.read(tiny))
        .hasMessage("log-writes log: the log device holds 0 bytes, too few for a super block");
  }
}
