package io.jdm.testkit.core.targets;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.MappedDevice;
import io.jdm.testkit.BaseTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.TargetFixture;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

class ZeroTargetTest extends BaseTargetTestCase {
  @Override
  protected String targetType() {
    return "zero";
  }

  @Override
  protected String targetArgs(TargetFixture fixture, long length) {
    return "";
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk()
        .withData(DeviceCapabilities.Data.ZEROS)
        .withDiscard(DeviceCapabilities.Discard.UNSPECIFIED)
        .withWriteZeroes(false);
  }

  @Override
  protected List<BadArguments> badArguments(TargetFixture fixture) {
    return List.of(new BadArguments(100, "x", "No arguments required"));
  }

  @Test
  void textIsEmptyAfterTheType() throws IOException {
    MappedDevice md = (MappedDevice) newDevice(2048);
    assertThat(md.table()).isEqualTo("0 2048 zero \n");
    assertThat(md.status()).isEqualTo("0 2048 zero \n");
    assertThat(md.limits().maxDiscardSectors()).isPositive();
    assertThat(md.limits().maxWriteZeroesSectors()).isZero();
  }

  @Test
  void readAheadIsFailed() throws IOException {
    MappedDevice md = (MappedDevice) newDevice();
    var c = bios.completion();
    Bio ra = Bio.read(0, ByteBuffer.allocate(512), c);
    ra.setFlags(Bio.RAHEAD);
    assertThat(submitAndWait(md, ra, c)).isEqualTo(BlockStatus.IOERR);
  }
}
