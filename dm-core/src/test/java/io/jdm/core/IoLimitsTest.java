package io.jdm.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class IoLimitsTest {
  @Test
  void stackingTakesTheLargestBlockSizesAndTheSmallestMaximums() {
    IoLimits a =
        IoLimits.builder()
            .logicalBlockSize(512)
            .physicalBlockSize(4096)
            .maxSectors(2048)
            .maxDiscardSectors(1000)
            .discardGranularity(4096)
            .maxWriteZeroesSectors(500)
            .ioOpt(3 * 4096)
            .build();
    IoLimits b =
        IoLimits.builder()
            .logicalBlockSize(4096)
            .maxSectors(1024)
            .maxDiscardSectors(0)
            .maxWriteZeroesSectors(800)
            .ioOpt(2 * 4096)
            .writeCache(true)
            .build();
    IoLimits.Builder t = IoLimits.builder();
    assertThat(t.stack(a)).isTrue();
    assertThat(t.stack(b)).isTrue();
    IoLimits s = t.build();
    assertThat(s.logicalBlockSize()).isEqualTo(4096);
    assertThat(s.physicalBlockSize()).isEqualTo(4096);
    assertThat(s.maxSectors()).isEqualTo(1024);
    assertThat(s.maxWriteZeroesSectors()).isEqualTo(500);
    assertThat(s.maxDiscardSectors()).isEqualTo(1000); // min_not_zero
    assertThat(s.ioOpt()).isEqualTo(6 * 4096); // lcm
    assertThat(s.writeCache()).isTrue();
    assertThat(s.fua()).isFalse();
  }

  @Test
  void chunkSectorsStackAsTheirGcd() {
    IoLimits.Builder t = IoLimits.builder();
    t.stack(IoLimits.builder().chunkSectors(24).build());
    t.stack(IoLimits.builder().chunkSectors(16).build());
    assertThat(t.build().chunkSectors()).isEqualTo(8);
  }

  @Test
  void misalignedIoOptIsDropped() {
    IoLimits.Builder t = IoLimits.builder();
    boolean ok = t.stack(IoLimits.builder().physicalBlockSize(4096).ioOpt(1536).build());
    assertThat(ok).isFalse();
    assertThat(t.build().ioOpt()).isZero();
  }

  @Test
  void blockSizesMustBePowersOfTwo() {
    assertThatThrownBy(() -> IoLimits.builder().logicalBlockSize(1000))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("power of two");
    assertThatThrownBy(() -> IoLimits.builder().logicalBlockSize(256))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void defaultIsAPlainDisk() {
    IoLimits d = IoLimits.DEFAULT;
    assertThat(d.logicalBlockSize()).isEqualTo(512);
    assertThat(d.supportsDiscard()).isFalse();
    assertThat(d.supportsWriteZeroes()).isFalse();
    assertThat(d.toString()).contains("logical_block_size=512");
  }
}
