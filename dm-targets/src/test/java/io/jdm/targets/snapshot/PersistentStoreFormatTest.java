package io.jdm.targets.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.Bio;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.TableException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The persistent COW format, written from {@code drivers/md/dm-snap-persistent.c} and not from
 * jdm's code: images built here by hand are read by jdm, and what jdm writes is checked here byte
 * by byte. Layout (little-endian, unit = chunk): chunk 0 {@code {u32 magic 0x70416e53, u32 valid,
 * u32 version 1, u32 chunk_size}}; metadata area {@code i} at chunk {@code 1 + i * (E + 1)} with
 * {@code E = chunk_size * 512 / 16} entries {@code {u64 old_chunk, u64 new_chunk}}, ended by a
 * {@code new_chunk} of 0.
 */
class PersistentStoreFormatTest {
  DeviceMapper dm;
  MemoryBlockDevice realMem;
  MemoryBlockDevice cowMem;
  GateDevice cow;

  @BeforeEach
  void setUp() throws IOException {
    dm = DeviceMapper.create();
    realMem = MemoryBlockDevice.create("realmem", 4096);
    cowMem = MemoryBlockDevice.create("cowmem", 4096);
    cow = new GateDevice(cowMem);
    byte[] pattern = new byte[4096 * 512];
    for (int s = 0; s < 4096; s++) {
      Arrays.fill(pattern, s * 512, (s + 1) * 512, (byte) (s * 7 + 1));
    }
    realMem.write(ByteBuffer.wrap(pattern), 0);
    dm.registerDevice("real", realMem);
    dm.registerDevice("cow", cow);
  }

  @AfterEach
  void tearDown() throws IOException {
    dm.close();
    realMem.close();
    cowMem.close();
  }

  static ByteBuffer header(int magic, int valid, int version, int chunk) {
    ByteBuffer h = ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
    h.putInt(magic).putInt(valid).putInt(version).putInt(chunk);
    return h.clear();
  }

  /** A metadata area of {@code chunk} sectors holding {@code pairs} (old, new, old, new...). */
  static ByteBuffer area(int chunk, long... pairs) {
    ByteBuffer a = ByteBuffer.allocate(chunk * 512).order(ByteOrder.LITTLE_ENDIAN);
    for (long v : pairs) {
      a.putLong(v);
    }
    return a.clear();
  }

  static ByteBuffer fill(int sectors, int value) {
    ByteBuffer b = ByteBuffer.allocate(sectors * 512);
    Arrays.fill(b.array(), (byte) value);
    return b;
  }

  ByteBuffer readDev(MappedDevice d, long sector, int sectors) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(sectors * 512);
    d.read(b, sector * 512);
    return b.flip();
  }

  ByteBuffer origin(long sector, int sectors) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(sectors * 512);
    realMem.read(b, sector * 512);
    return b.flip();
  }

  ByteBuffer cowBytes(long sector, int sectors) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(sectors * 512).order(ByteOrder.LITTLE_ENDIAN);
    cowMem.read(b, sector * 512);
    return b.flip();
  }

  // ---------------------------------------------------------------------------------------------
  // images built by hand, read by jdm

  @Test
  void aHandBuiltStoreIsReadBack() throws IOException {
    int c = 8;
    cowMem.write(header(0x70416e53, 1, 1, c), 0);
    cowMem.write(area(c, 5, 2, 9, 3, 6, 4), c * 512L);
    cowMem.write(fill(c, 0xD2), 2L * c * 512);
    cowMem.write(fill(c, 0xD3), 3L * c * 512);
    cowMem.write(fill(c, 0xD4), 4L * c * 512);
    MappedDevice s = dm.create("snap", "0 4096 snapshot real cow P 8");
    assertThat(s.status()).isEqualTo("0 4096 snapshot 40/4096 16\n"); // next_free 5, area 0
    assertThat(readDev(s, 5L * c, c)).isEqualTo(fill(c, 0xD2));
    assertThat(readDev(s, 9L * c, c)).isEqualTo(fill(c, 0xD3));
    assertThat(readDev(s, 6L * c, c)).isEqualTo(fill(c, 0xD4));
    assertThat(readDev(s, 0, 5 * c)).isEqualTo(origin(0, 5 * c));
    assertThat(readDev(s, 7L * c, 2 * c)).isEqualTo(origin(7L * c, 2 * c));
    // the next exception goes to chunk 5, and entry 3 of area 0
    s.write(fill(1, 0xEE), 100L * c * 512);
    s.suspend();
    ByteBuffer a = cowBytes(c, c);
    assertThat(a.getLong(48)).isEqualTo(100);
    assertThat(a.getLong(56)).isEqualTo(5);
    assertThat(a.getLong(64 + 8)).isZero();
  }

  @Test
  void aHandBuiltStoreWithAFullFirstAreaIsReadIntoItsSecond() throws IOException {
    int c = 1; // 32 exceptions per area: area 0 at chunk 1, area 1 at chunk 34
    long[] pairs = new long[64];
    for (int i = 0; i < 32; i++) {
      pairs[2 * i] = 1000 + i;
      pairs[2 * i + 1] = 2 + i;
    }
    cowMem.write(header(0x70416e53, 1, 1, c), 0);
    cowMem.write(area(c, pairs), 512);
    cowMem.write(area(c, 3000, 35), 34 * 512);
    for (int i = 0; i < 32; i++) {
      cowMem.write(fill(1, 0x40 + i), (2 + i) * 512L);
    }
    cowMem.write(fill(1, 0x99), 35 * 512);
    MappedDevice s = dm.create("snap", "0 4096 snapshot real cow P 1");
    assertThat(s.status()).isEqualTo("0 4096 snapshot 36/4096 3\n");
    for (int i = 0; i < 32; i++) {
      assertThat(readDev(s, 1000 + i, 1)).isEqualTo(fill(1, 0x40 + i));
    }
    assertThat(readDev(s, 3000, 1)).isEqualTo(fill(1, 0x99));
    assertThat(readDev(s, 3001, 1)).isEqualTo(origin(3001, 1));
  }

  @Test
  void theHeadersChunkSizeOverridesTheTables() throws IOException {
    cowMem.write(header(0x70416e53, 1, 1, 16), 0);
    MappedDevice s = dm.create("snap", "0 4096 snapshot real cow P 8");
    assertThat(s.table()).isEqualTo("0 4096 snapshot 240:0 240:1 P 16\n");
    assertThat(s.status()).isEqualTo("0 4096 snapshot 32/4096 32\n");
  }

  @Test
  void validZeroLoadsInvalid() throws IOException {
    cowMem.write(header(0x70416e53, 0, 1, 8), 0);
    MappedDevice s = dm.create("snap", "0 4096 snapshot real cow P 8");
    assertThat(s.status()).isEqualTo("0 4096 snapshot Invalid\n");
  }

  @Test
  void badHeadersAndTruncatedStoresAreRefused() throws IOException {
    cowMem.write(header(0x12345678, 1, 1, 8), 0);
    assertThatThrownBy(() -> dm.create("snap", "0 4096 snapshot real cow P 8"))
        .isInstanceOf(TableException.class)
        .hasMessageContaining("Failed to read snapshot metadata")
        .hasMessageContaining("Invalid or corrupt snapshot");
    cowMem.write(header(0x70416e53, 1, 2, 8), 0);
    assertThatThrownBy(() -> dm.create("snap", "0 4096 snapshot real cow P 8"))
        .hasMessageContaining("Failed to read snapshot metadata")
        .hasMessageContaining("unable to handle snapshot disk version 2");
    cowMem.write(header(0x70416e53, 1, 1, 12), 0);
    assertThatThrownBy(() -> dm.create("snap", "0 4096 snapshot real cow P 8"))
        .hasMessageContaining("Failed to read snapshot metadata")
        .hasMessageContaining("invalid on-disk chunk size 12");
    // a full area 0 that needs an area 1 beyond the end of a truncated COW device
    MemoryBlockDevice small = MemoryBlockDevice.create("small", 34);
    small.write(header(0x70416e53, 1, 1, 1), 0);
    long[] pairs = new long[64];
    for (int i = 0; i < 32; i++) {
      pairs[2 * i] = i;
      pairs[2 * i + 1] = 2 + i;
    }
    small.write(area(1, pairs), 512);
    dm.registerDevice("small", small);
    assertThatThrownBy(() -> dm.create("snap", "0 4096 snapshot real small P 1"))
        .hasMessageContaining("Failed to read snapshot metadata");
    assertThat(dm.list()).isEmpty();
    assertThat(dm.openDeviceCount()).isZero();
  }

  // ---------------------------------------------------------------------------------------------
  // what jdm writes, checked against the format

  @Test
  void aNewStoreIsTheHeaderAndAZeroedFirstArea() throws IOException {
    cowMem.write(fill(32, 0xFF), 0); // garbage after the header must be cleared, magic must be 0
    cowMem.write(fill(1, 0), 0);
    dm.create("snap", "0 4096 snapshot real cow P 16");
    ByteBuffer h = cowBytes(0, 16);
    assertThat(h.getInt(0)).isEqualTo(0x70416e53);
    assertThat(h.getInt(4)).isEqualTo(1);
    assertThat(h.getInt(8)).isEqualTo(1);
    assertThat(h.getInt(12)).isEqualTo(16);
    for (int i = 16; i < 16 * 512; i++) {
      assertThat(h.get(i)).as("header chunk byte %d", i).isZero();
    }
    assertThat(cowBytes(16, 16)).isEqualTo(fill(16, 0));
  }

  @Test
  void exceptionsAreCommittedWithFlushAndFuaAndTheNextAreaIsZeroedFirst() throws IOException {
    cowMem.write(fill(40, 0xFF), 0);
    cowMem.write(fill(1, 0), 0); // magic 0: a new store; area 1 (chunk 34) holds garbage
    MappedDevice s = dm.create("snap", "0 4096 snapshot real cow P 1");
    cow.clearLog();
    for (int i = 0; i < 33; i++) {
      s.write(fill(1, i + 1), (500L + 2 * i) * 512); // not consecutive: one exception each
    }
    s.suspend();
    List<GateDevice.Io> log = cow.log();
    // each commit: one area write with PREFLUSH and FUA
    long commits =
        log.stream()
            .filter(
                i ->
                    i.op() == Bio.Op.WRITE
                        && i.sector() == 1
                        && (i.flags() & (Bio.PREFLUSH | Bio.FUA)) == (Bio.PREFLUSH | Bio.FUA))
            .count();
    assertThat(commits).isEqualTo(32);
    int zeroArea1 = indexOf(log, 34, 0);
    int lastCommitOfArea0 = -1;
    for (int i = 0; i < log.size(); i++) {
      if (log.get(i).op() == Bio.Op.WRITE && log.get(i).sector() == 1) {
        lastCommitOfArea0 = i;
      }
    }
    assertThat(zeroArea1)
        .as("area 1 zeroed before area 0's last commit")
        .isBetween(0, lastCommitOfArea0);
    ByteBuffer a0 = cowBytes(1, 1);
    for (int i = 0; i < 32; i++) {
      assertThat(a0.getLong(16 * i)).isEqualTo(500 + 2 * i);
      assertThat(a0.getLong(16 * i + 8)).isEqualTo(2 + i);
      assertThat(cowBytes(2 + i, 1)).isEqualTo(fill(1, i + 1));
    }
    ByteBuffer a1 = cowBytes(34, 1);
    assertThat(a1.getLong(0)).isEqualTo(564);
    assertThat(a1.getLong(8))
        .as("chunk 34 is area 1, so the 33rd exception goes to 35")
        .isEqualTo(35);
    for (int i = 16; i < 512; i++) {
      assertThat(a1.get(i)).isZero();
    }
    assertThat(cowBytes(35, 1)).isEqualTo(fill(1, 33));
    assertThat(s.status()).isEqualTo("0 4096 snapshot 36/4096 3\n");
  }

  private static int indexOf(List<GateDevice.Io> log, long sector, int flags) {
    for (int i = 0; i < log.size(); i++) {
      GateDevice.Io io = log.get(i);
      if (io.op() == Bio.Op.WRITE
          && io.sector() == sector
          && (io.flags() & (Bio.PREFLUSH | Bio.FUA)) == flags) {
        return i;
      }
    }
    return -1;
  }
}
