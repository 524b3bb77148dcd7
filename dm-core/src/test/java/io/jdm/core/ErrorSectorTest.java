package io.jdm.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A failed request names the sector that failed, through splits, remaps and stacked devices. */
class ErrorSectorTest {
  private final DeviceMapper dm = DeviceMapper.builder().build();
  private final MemoryBlockDevice disk = MemoryBlockDevice.create("disk", 1024);

  ErrorSectorTest() {
    dm.registerDevice("disk", disk);
  }

  @AfterEach
  void close() throws IOException {
    dm.close();
    disk.close();
  }

  private static BlockIOException readFails(BlockDevice dev, long sector, int sectors) {
    Throwable t =
        org.assertj.core.api.Assertions.catchThrowable(
            () -> dev.read(ByteBuffer.allocate(sectors * 512), sector * 512));
    assertThat(t).isInstanceOf(BlockIOException.class);
    return (BlockIOException) t;
  }

  @Test
  void aReadAcrossAnErrorTargetNamesItsFirstSector() {
    MappedDevice md = dm.create("vol", "0 8 linear disk 100\n8 8 error\n16 8 linear disk 0");
    BlockIOException e = readFails(md, 2, 20);
    assertThat(e.sector()).isEqualTo(8);
    assertThat(e.status()).isEqualTo(BlockStatus.IOERR);
    assertThat(e).hasMessage("I/O error, dev vol, sector 8 (read of 20 sectors at 2)");
  }

  @Test
  void theLowestFailedPartWinsAndARequestThatFailsWhollyNamesItsStart() {
    MappedDevice md =
        dm.create("vol", "0 8 linear disk 0\n8 4 error\n12 4 linear disk 8\n16 8 error");
    assertThat(readFails(md, 4, 20).sector()).isEqualTo(8);
    assertThat(readFails(md, 17, 1)).hasMessage("I/O error, dev vol, sector 17 (read)");
  }

  @Test
  void stackedDevicesNameTheSectorOfTheTopDevice() {
    dm.create("lower", "0 64 linear disk 0\n64 8 error\n72 64 linear disk 64");
    // top sector s is lower sector s + 40, so the error starts at top sector 24
    MappedDevice top = dm.create("top", "0 96 linear lower 40");
    BlockIOException e = readFails(top, 0, 64);
    assertThat(e.sector()).isEqualTo(24);
    assertThat(e.device()).isEqualTo("top");
    // within one piece: a read starting inside the error range names its own start
    assertThat(readFails(top, 26, 4).sector()).isEqualTo(26);
  }

  @Test
  void aSuccessfulBioHasNoErrorSector() throws IOException {
    MappedDevice md = dm.create("vol", "0 8 linear disk 0\n8 8 linear disk 8");
    Bio[] done = new Bio[1];
    Bio bio = Bio.read(0, ByteBuffer.allocate(16 * 512), b -> done[0] = b);
    md.submit(bio);
    assertThat(done[0]).isSameAs(bio);
    assertThat(bio.status()).isEqualTo(BlockStatus.OK);
    assertThat(bio.errorSector()).isEqualTo(-1);
    assertThatThrownBy(() -> md.read(ByteBuffer.allocate(512), 16 * 512))
        .isInstanceOf(IOException.class);
  }
}
