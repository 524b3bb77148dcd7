package io.jdm.persistentdata;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class BlockChecksumTest {
  @Test
  void isTheComplementOfTheStandardCrc32cMixedWithTheStructuresConstant() {
    ByteBuffer check = ByteBuffer.wrap("123456789".getBytes(StandardCharsets.US_ASCII));
    // CRC-32C check value 0xE3069283: the kernel's raw register is its complement
    assertThat(BlockChecksum.of(check, 0)).isEqualTo(~0xE3069283);
    assertThat(BlockChecksum.of(check, BlockChecksum.BTREE_NODE_XOR))
        .isEqualTo(~0xE3069283 ^ 121107);
    assertThat(check.position()).isZero();
  }
}
