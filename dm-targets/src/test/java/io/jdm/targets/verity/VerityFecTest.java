package io.jdm.targets.verity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.BlockIOException;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.TableSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Forward error correction with parity made by jdm's formatter, on memory devices: corrupt data
 * blocks, a corrupt hash block and a failing data read are corrected; more than the code can fix
 * fails with EIO and is reported. Parity on its own device and on the hash device after the tree.
 */
class VerityFecTest {
  private static final long SEED = Long.getLong("jdm.seed", 4242L);
  private static final int BS = 4096;
  private static final int BLOCKS = 100;

  private final DeviceMapper dm = DeviceMapper.create();
  private final byte[] image = new byte[BLOCKS * BS];
  private MemoryBlockDevice data;
  private MemoryBlockDevice hash;
  private MemoryBlockDevice fec;
  private String args;

  @AfterEach
  void close() throws IOException {
    dm.close();
    for (MemoryBlockDevice d : new MemoryBlockDevice[] {data, hash, fec}) {
      if (d != null) {
        d.close();
      }
    }
  }

  /** Formats with parity on a separate device ({@code onHash} false) or after the tree. */
  private void format(int roots, boolean onHash) throws IOException {
    new Random(SEED).nextBytes(image);
    data = MemoryBlockDevice.create("data", BLOCKS * BS / 512);
    data.write(ByteBuffer.wrap(image), 0);
    VerityFormat probe = VerityFormat.builder().salt(new byte[] {7}).fecRoots(roots).build();
    long treeEnd = probe.hashDeviceBytes(BLOCKS);
    VerityFormat fmt =
        VerityFormat.builder()
            .salt(new byte[] {7})
            .fecRoots(roots)
            .fecOffset(onHash ? treeEnd : 0)
            .build();
    long fecBlocks = BLOCKS + treeEnd / BS - fmt.hashStart();
    long fecBytes = fmt.fecBytes(fecBlocks);
    VerityFormat.Result r;
    if (onHash) {
      hash = MemoryBlockDevice.create("hash", (treeEnd + fecBytes) / 512);
      r = fmt.format(data, hash, hash);
    } else {
      hash = MemoryBlockDevice.create("hash", treeEnd / 512);
      fec = MemoryBlockDevice.create("fec", fecBytes / 512);
      r = fmt.format(data, hash, fec);
    }
    assertThat(r.fecBlocks()).isEqualTo(fecBlocks);
    dm.registerDevice("data", data);
    dm.registerDevice("hash", hash);
    if (!onHash) {
      dm.registerDevice("fec", fec);
    }
    args = r.tableArgs("data", "hash", onHash ? "hash" : "fec");
  }

  private MappedDevice open(String dataDev) {
    return dm.create(
        "v",
        null,
        TableSpec.parse("0 800 verity " + args.replace(" data ", " " + dataDev + " ")),
        true);
  }

  private void corrupt(MemoryBlockDevice dev, long pos, int len) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(BS);
    long blk = pos / BS * BS;
    dev.read(b, blk);
    Random r = new Random(pos);
    for (int i = 0; i < len; i++) {
      int at = (int) (pos - blk) + i;
      b.put(at, (byte) (b.get(at) ^ (1 + r.nextInt(255))));
    }
    b.clear();
    dev.write(b, blk);
  }

  private void readsBackWhole(MappedDevice v) throws IOException {
    ByteBuffer all = ByteBuffer.allocate(BLOCKS * BS);
    v.read(all, 0);
    assertThat(all.array()).isEqualTo(image);
  }

  @Test
  void correctsDataAndHashBlocksWithParityOnItsOwnDevice() throws IOException {
    format(2, false);
    corrupt(data, 3L * BS + 10, 2000);
    corrupt(data, 50L * BS, BS); // one round: every block shares codewords, so 2 erasures
    MappedDevice v = open("data");
    readsBackWhole(v);
    assertThat(v.status()).isEqualTo("0 800 verity V\n");
    String fecName = v.liveTable().orElseThrow().devices().get(2).name();
    assertThat(v.table()).contains(" 8 use_fec_from_device " + fecName + " fec_blocks ");
    dm.remove("v");
    corrupt(data, 70L * BS, 1); // a third: beyond RS(255, 253)
    MappedDevice w = open("data");
    assertThatThrownBy(() -> w.read(ByteBuffer.allocate(BS), 70L * BS))
        .isInstanceOf(BlockIOException.class);
    assertThat(w.status()).isEqualTo("0 800 verity C\n");
    VerityTarget t = (VerityTarget) w.liveTable().orElseThrow().target(0);
    assertThat(t.corruptionReports()).contains("DM_VERITY_ERR_BLOCK_NR=0,70");
  }

  @Test
  void moreRootsCorrectMoreWithParityAfterTheTree() throws IOException {
    format(8, true);
    for (int b : new int[] {1, 20, 33, 64, 99}) {
      corrupt(data, (long) b * BS + 17 * b, 700);
    }
    corrupt(hash, BS + 100, 40); // the level-0 hash block
    MappedDevice v = open("data");
    readsBackWhole(v);
  }

  @Test
  void aFailedDataReadIsRebuiltFromParity() throws IOException {
    format(2, false);
    dm.create("dusty", "0 800 dust data 0 4096");
    dm.message("dusty", 0, "addbadblock", "42");
    dm.message("dusty", 0, "enable");
    MappedDevice v = open("dusty");
    readsBackWhole(v);
    assertThat(v.status()).isEqualTo("0 800 verity V\n");
  }
}
