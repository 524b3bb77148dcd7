package io.jdm.targets.verity;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link VerityVerify}, veritysetup's userspace verify, on memory devices: its verdicts, positions,
 * messages and exit codes (the same against the real tool: {@code VerityCommandsTest} in dm-cli).
 * 300 data blocks of 4 KiB give a two-level tree: level 0 in hash blocks 2 to 4, level 1 in block
 * 1, the superblock in block 0.
 */
class VerityVerifyTest {
  private static final long SEED = Long.getLong("jdm.seed", 1414L);
  private static final int BS = 4096;
  private static final int BLOCKS = 300;

  private MemoryBlockDevice data;
  private MemoryBlockDevice hash;
  private MemoryBlockDevice fec;
  private VerityFormat fmt;
  private byte[] root;

  @BeforeEach
  void format() throws IOException {
    byte[] image = new byte[BLOCKS * BS];
    new Random(SEED).nextBytes(image);
    data = MemoryBlockDevice.create("data", BLOCKS * BS / 512);
    data.write(ByteBuffer.wrap(image), 0);
    fmt = VerityFormat.builder().salt(new byte[] {1, 2, 3}).dataBlocks(BLOCKS).fecRoots(4).build();
    hash = MemoryBlockDevice.create("hash", fmt.hashDeviceBytes(BLOCKS) / 512);
    long fecBlocks = BLOCKS + fmt.geometry(BLOCKS).treeBlocks();
    fec = MemoryBlockDevice.create("fec", fmt.fecBytes(fecBlocks) / 512);
    root = fmt.format(data, hash, fec).rootHash();
  }

  private VerityVerify.Outcome verify(boolean withFec) {
    return VerityVerify.verify(fmt, data, hash, root, withFec ? fec : null);
  }

  private static void flip(MemoryBlockDevice d, long at) throws IOException {
    flip(d, at, 0x40);
  }

  private static void flip(MemoryBlockDevice d, long at, int mask) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(512);
    d.read(b, at & ~511L);
    b.put((int) (at & 511), (byte) (b.get((int) (at & 511)) ^ mask));
    d.write(b.flip(), at & ~511L);
  }

  @Test
  void aGoodImageVerifies() {
    VerityVerify.Outcome o = verify(true);
    assertThat(o.ok()).isTrue();
    assertThat(o.messages()).isEmpty();
    assertThat(o.failedAt()).isEqualTo(-1);
  }

  @Test
  void aCorruptDataBlockFailsAtItsPositionAndFecFindsItRepairable() throws IOException {
    flip(data, 200L * BS + 77);
    VerityVerify.Outcome o = verify(false);
    assertThat(o.exitCode()).isEqualTo(2);
    assertThat(o.failedAt()).isEqualTo(200L * BS);
    assertThat(o.messages())
        .containsExactly(
            "Verification failed at position 819200.", "Verification of data area failed.");
    o = verify(true);
    assertThat(o.exitCode()).isZero();
    assertThat(o.fecErrors()).isEqualTo(1);
    assertThat(o.messages()).endsWith("Found 1 repairable errors with FEC device.");
  }

  @Test
  void tooMuchCorruptionCannotBeRepaired() throws IOException {
    // blocks 0, 2 and 4 share codewords (2 rounds): three errors exceed what RS(255, 251) corrects
    // (with 2 roots any syndrome looks like one error, and the decoder would "correct" it)
    for (long b : new long[] {0, 2, 4}) {
      for (int i = 0; i < 64; i++) {
        flip(data, b * BS + 9 + i, 1 + (int) (b * 64 + i) % 255); // 64 codewords, 3 errors each
      }
    }
    VerityVerify.Outcome o = verify(true);
    assertThat(o.exitCode()).isEqualTo(2);
    assertThat(o.messages())
        .endsWith(
            "Failed to repair parity for block 0.", "Errors cannot be repaired with FEC device.");
  }

  @Test
  void aCorruptHashBlockFailsAtTheDataBlockItNames() throws IOException {
    flip(hash, 2L * BS + 5 * 32 + 1); // level 0, digest of data block 5
    VerityVerify.Outcome o = verify(false);
    assertThat(o.exitCode()).isEqualTo(2);
    assertThat(o.failedAt()).isEqualTo(5L * BS);
  }

  @Test
  void aCorruptUpperLevelFailsAtTheHashBlockItNames() throws IOException {
    flip(hash, 1L * BS + 32 + 3); // level 1, digest of hash block 3
    VerityVerify.Outcome o = verify(false);
    assertThat(o.exitCode()).isEqualTo(2);
    assertThat(o.failedAt()).isEqualTo(3L * BS);
  }

  @Test
  void nonZeroPaddingIsASpareAreaError() throws IOException {
    long spare = 4L * BS + (BLOCKS - 256) * 32; // past the last digest of level 0
    flip(hash, spare + 10);
    VerityVerify.Outcome o = verify(false);
    assertThat(o.exitCode()).isEqualTo(2);
    assertThat(o.messages().get(0))
        .isEqualTo("Spare area is not zeroed at position " + spare + ".");
  }

  @Test
  void aWrongRootHashExitsOneWithoutFecAndTwoWithIt() {
    root[0] ^= 1;
    VerityVerify.Outcome o = verify(false);
    assertThat(o.exitCode()).isEqualTo(1);
    assertThat(o.messages()).containsExactly("Verification of root hash failed.");
    o = verify(true);
    assertThat(o.exitCode()).isEqualTo(2);
    assertThat(o.messages()).containsExactly("Verification of root hash failed.");
  }

  @Test
  void aShortDataDeviceIsAnIoError() throws IOException {
    MemoryBlockDevice shortData = MemoryBlockDevice.create("short", 100 * BS / 512);
    VerityVerify.Outcome o = VerityVerify.verify(fmt, shortData, hash, root, null);
    assertThat(o.exitCode()).isEqualTo(1);
    assertThat(o.messages()).isEqualTo(List.of("Verification of data area failed."));
  }
}
