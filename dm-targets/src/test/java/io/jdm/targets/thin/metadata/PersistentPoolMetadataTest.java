package io.jdm.targets.thin.metadata;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.Errno;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.targets.thin.PoolMetadata;
import io.jdm.targets.thin.PoolMetadataException;
import io.jdm.targets.thin.ThinDeviceMetadata;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;

/** {@link PersistentPoolMetadata} against a reference model, and its refusals. */
class PersistentPoolMetadataTest {
  private static final long SEED = Long.getLong("jdm.seed", 15150L);
  private static final long BLOCK_SECTORS = 128;

  static MemoryBlockDevice metadataDevice(long blocks) {
    return MemoryBlockDevice.builder("meta", blocks * 8).volatileCache(true).build();
  }

  static void assertErrno(ThrowingCallable call, Errno errno, String text) {
    assertThatThrownBy(call)
        .isInstanceOfSatisfying(
            PoolMetadataException.class, e -> assertThat(e.errno()).isEqualTo(errno))
        .hasMessageContaining(text);
  }

  @Test
  void aRandomWorkloadMatchesTheModelAcrossCommitsAbortsAndReopening() throws IOException {
    MemoryBlockDevice dev = metadataDevice(2048);
    ThinMetadataWorkload w;
    try (PoolMetadata pmd = PersistentPoolMetadata.open(dev, BLOCK_SECTORS, true)) {
      pmd.resizeDataDev(6000);
      w = new ThinMetadataWorkload(pmd, SEED, 1500);
      for (int round = 1; round <= 12; round++) {
        for (int i = 0; i < 500; i++) {
          w.step();
        }
        if (round % 4 == 3) {
          w.abort();
        } else {
          w.commit(round);
        }
        w.check();
      }
      w.closeAll();
    }
    try (PoolMetadata pmd = PersistentPoolMetadata.open(dev.durableCopy("copy"), 128, false)) {
      assertThat(pmd.transactionId()).isEqualTo(12);
      assertThat(ThinMetadataWorkload.read(pmd, w.committed.keySet())).isEqualTo(w.committed);
      for (long id = 0; id < w.nextId; id++) {
        if (!w.committed.containsKey(id)) {
          long missing = id;
          assertErrno(() -> pmd.openThin(missing), Errno.EINVAL, "does not exist");
        }
      }
    }
  }

  @Test
  void snapshotsShareBlocksUntilOverwrittenAndReportSharing() throws IOException {
    try (PoolMetadata pmd = PersistentPoolMetadata.open(metadataDevice(256), 128, true)) {
      pmd.resizeDataDev(100);
      pmd.createThin(0);
      ThinDeviceMetadata origin = pmd.openThin(0);
      for (long v = 0; v < 10; v++) {
        origin.insertBlock(v, pmd.allocDataBlock());
      }
      assertThat(origin.findBlock(3)).isEqualTo(new ThinDeviceMetadata.Lookup(3, false));
      pmd.createSnap(1, 0);
      assertThat(origin.findBlock(3).shared()).isTrue();
      // the snapshot shares the origin's tree; the data blocks' counts rise when a leaf is copied
      assertThat(pmd.blockIsShared(3)).isFalse();
      ThinDeviceMetadata snap = pmd.openThin(1);
      assertThat(snap.mappedCount()).isEqualTo(10);
      long fresh = pmd.allocDataBlock();
      origin.insertBlock(3, fresh);
      assertThat(origin.findBlock(3)).isEqualTo(new ThinDeviceMetadata.Lookup(fresh, false));
      assertThat(snap.findBlock(3)).isEqualTo(new ThinDeviceMetadata.Lookup(3, true));
      assertThat(pmd.blockIsShared(3)).isFalse();
      assertThat(pmd.blockIsShared(4)).isTrue();
      assertThat(origin.findMappedRange(0, 100))
          .isEqualTo(new ThinDeviceMetadata.MappedRange(0, 3, 0, true));
      assertThat(origin.findMappedRange(3, 4))
          .isEqualTo(new ThinDeviceMetadata.MappedRange(3, 4, fresh, false));
      assertThat(pmd.freeDataBlocks()).isEqualTo(89);
      assertThat(pmd.changedThisTransaction()).isTrue();
      assertErrno(() -> pmd.deleteThin(1), Errno.EBUSY, "thin 1 is open");
      snap.close();
      pmd.deleteThin(1);
      assertThat(pmd.blockIsShared(4)).isFalse();
      assertThat(pmd.freeDataBlocks()).isEqualTo(90);
      origin.removeRange(0, 5);
      assertThat(origin.mappedCount()).isEqualTo(5);
      assertThat(pmd.freeDataBlocks()).isEqualTo(95);
      pmd.commit();
      assertThat(pmd.changedThisTransaction()).isFalse();
      origin.close();
    }
  }

  @Test
  void closedDevicesAndAClosedPoolRefuseCallsWithIllegalState() throws IOException {
    MemoryBlockDevice dev = metadataDevice(64);
    PoolMetadata pmd = PersistentPoolMetadata.open(dev, 128, true);
    pmd.createThin(0);
    ThinDeviceMetadata t = pmd.openThin(0);
    t.close();
    assertThatThrownBy(() -> t.findBlock(0))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("thin device 0 is closed");
    ThinDeviceMetadata again = pmd.openThin(0);
    pmd.close();
    assertThatThrownBy(() -> again.findBlock(5))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("is closed");
    assertThatThrownBy(pmd::commit).isInstanceOf(IllegalStateException.class);
    // closed, so it opens again (nothing was committed after the format)
    try (PoolMetadata reopened = PersistentPoolMetadata.open(dev, 128, false)) {
      assertErrno(() -> reopened.openThin(0), Errno.EINVAL, "thin 0 does not exist");
    }
  }

  @Test
  void abortRollsBackAndSaysWhichDevicesLostChanges() throws IOException {
    try (PoolMetadata pmd = PersistentPoolMetadata.open(metadataDevice(256), 128, true)) {
      pmd.resizeDataDev(100);
      pmd.createThin(7);
      pmd.commit();
      ThinDeviceMetadata t = pmd.openThin(7);
      t.insertBlock(1, pmd.allocDataBlock());
      pmd.createThin(8);
      pmd.abort();
      assertThat(t.abortedChanges()).isTrue();
      assertThat(t.findBlock(1)).isNull();
      assertThat(t.mappedCount()).isZero();
      assertThat(pmd.freeDataBlocks()).isEqualTo(100);
      assertErrno(() -> pmd.openThin(8), Errno.EINVAL, "thin 8 does not exist");
      t.close();
    }
  }

  @Test
  void refusalsCarryTheKernelsErrno() throws IOException {
    MemoryBlockDevice dev = metadataDevice(256);
    try (PoolMetadata pmd = PersistentPoolMetadata.open(dev, 128, true)) {
      assertErrno(
          () -> PersistentPoolMetadata.open(dev, 128, true), Errno.EBUSY, "is open already");
      pmd.resizeDataDev(2);
      pmd.createThin(1);
      assertErrno(() -> pmd.createThin(1), Errno.EEXIST, "thin 1 exists already");
      assertErrno(() -> pmd.createSnap(1, 1), Errno.EEXIST, "exists already");
      assertErrno(() -> pmd.createSnap(2, 5), Errno.EINVAL, "origin thin 5 does not exist");
      assertErrno(() -> pmd.createThin(1L << 24), Errno.EINVAL, "thin id 16777216");
      assertErrno(() -> pmd.deleteThin(9), Errno.EINVAL, "thin 9 does not exist");
      ThinDeviceMetadata t = pmd.openThin(1);
      assertErrno(() -> pmd.openThin(1), Errno.EBUSY, "is open already");
      t.insertBlock(0, pmd.allocDataBlock());
      t.insertBlock(1, pmd.allocDataBlock());
      assertErrno(pmd::allocDataBlock, Errno.ENOSPC, "no free block");
      assertErrno(() -> pmd.setTransactionId(5, 6), Errno.EINVAL, "mismatched transaction id");
      assertErrno(pmd::releaseMetadataSnap, Errno.EINVAL, "nothing to release");
      pmd.reserveMetadataSnap();
      assertThat(pmd.metadataSnap()).isPositive();
      assertErrno(pmd::reserveMetadataSnap, Errno.EBUSY, "already exists");
      pmd.releaseMetadataSnap();
      assertThat(pmd.metadataSnap()).isZero();
      assertErrno(() -> pmd.resizeDataDev(1), Errno.EINVAL, "cannot reduce size of space map");
      assertErrno(
          () -> pmd.resizeMetadataDev(100), Errno.EINVAL, "cannot reduce size of space map");
      assertErrno(() -> pmd.resizeMetadataDev(300), Errno.EINVAL, "has 256 blocks");
      pmd.setReadOnly(true);
      assertErrno(() -> t.insertBlock(3, 1), Errno.EROFS, "read-only");
      assertErrno(pmd::commit, Errno.EROFS, "read-only");
      assertThat(t.findBlock(0)).isNotNull();
      pmd.setReadOnly(false);
      pmd.commit();
      t.close();
    }
    assertThatThrownBy(() -> PersistentPoolMetadata.open(dev.durableCopy("c"), 64, false))
        .hasMessageContaining("changing the data block size (from 128 to 64) is not supported");
    assertErrno(
        () -> PersistentPoolMetadata.open(metadataDevice(64), 128, false),
        Errno.EPERM,
        "not formatted");
  }

  @Test
  void theMetadataDeviceFillsWithEnospcAfterTheThresholdFired() throws IOException {
    AtomicInteger fired = new AtomicInteger();
    try (PoolMetadata pmd = PersistentPoolMetadata.open(metadataDevice(48), 128, true)) {
      pmd.registerMetadataThreshold(16, fired::incrementAndGet);
      pmd.resizeDataDev(100000);
      pmd.createThin(1);
      ThinDeviceMetadata t = pmd.openThin(1);
      assertErrno(
          () -> {
            for (long v = 0; ; v += 2) {
              t.insertBlock(v, pmd.allocDataBlock());
              if (v % 64 == 0) {
                pmd.commit();
              }
            }
          },
          Errno.ENOSPC,
          "metadata space map: no free block");
      // fired when the free count fell to 16; commits free the old shadows and re-arm it
      assertThat(fired.get()).isPositive();
      assertThat(pmd.freeMetadataBlocks()).isZero();
      pmd.abort();
      t.close();
    }
  }

  @Test
  void needsCheckPreCommitHookAndResizesPersist() throws IOException {
    MemoryBlockDevice dev = metadataDevice(512);
    List<String> hooks = new ArrayList<>();
    try (PoolMetadata pmd = PersistentPoolMetadata.open(dev, 128, true)) {
      assertThat(pmd.metadataBlocks()).isEqualTo(512);
      pmd.registerPreCommit(() -> hooks.add("pre-commit"));
      pmd.resizeDataDev(40000);
      pmd.commit();
      assertThat(hooks).containsExactly("pre-commit");
      assertThat(pmd.needsCheck()).isFalse();
      pmd.setNeedsCheck();
      assertThat(pmd.needsCheck()).isTrue();
    }
    try (PoolMetadata pmd = PersistentPoolMetadata.open(dev.durableCopy("c"), 128, false)) {
      assertThat(pmd.needsCheck()).isTrue();
      assertThat(pmd.dataBlocks()).isEqualTo(40000);
      assertThat(pmd.freeDataBlocks()).isEqualTo(40000);
      assertThat(pmd.freeMetadataBlocks()).isLessThan(512 - 51);
    }
  }

  @Test
  void corruptOrForeignSuperblocksAreRefusedNamingThePlaceAndTheRule() throws IOException {
    MemoryBlockDevice dev = metadataDevice(256);
    try (PoolMetadata pmd = PersistentPoolMetadata.open(dev, 128, true)) {
      pmd.createThin(1);
      pmd.commit();
    }
    assertErrno(() -> open(patch(dev, 100, 0x5A)), Errno.EIO, "superblock block 0");
    assertErrno(() -> open(patch(dev, 100, 0x5A)), Errno.EIO, "checksum mismatch");
    assertErrno(
        () -> open(resealed(dev, ThinSuperblock.MAGIC_OFF, 12345)),
        Errno.EIO,
        "magic 12345: wanted 27022010");
    assertErrno(
        () -> open(resealed(dev, ThinSuperblock.VERSION_OFF, 3)),
        Errno.EINVAL,
        "unsupported metadata version 3");
    assertErrno(
        () -> open(resealed(dev, ThinSuperblock.INCOMPAT_FLAGS, 1)),
        Errno.EINVAL,
        "unsupported optional features");
    assertErrno(
        () -> open(resealed(dev, ThinSuperblock.BLOCKNR, 5)), Errno.EIO, "blocknr 5: wanted 0");
  }

  @Test
  void aCorruptMappingNodeIsAnEioNamingTheNode() throws IOException {
    MemoryBlockDevice dev = metadataDevice(256);
    long leaf;
    try (PoolMetadata pmd = PersistentPoolMetadata.open(dev, 128, true)) {
      pmd.resizeDataDev(10);
      pmd.createThin(1);
      try (ThinDeviceMetadata t = pmd.openThin(1)) {
        t.insertBlock(0, pmd.allocDataBlock());
      }
      pmd.commit();
      leaf = ((PersistentPoolMetadata) pmd).roots()[0];
    }
    MemoryBlockDevice bad = dev.durableCopy("bad");
    byte[] sector = new byte[512];
    bad.read(ByteBuffer.wrap(sector), leaf * 4096);
    sector[40] ^= 1;
    bad.write(ByteBuffer.wrap(sector), leaf * 4096);
    bad.flush();
    try (PoolMetadata pmd = PersistentPoolMetadata.open(bad, 128, false)) {
      assertErrno(() -> pmd.openThin(1).findBlock(0), Errno.EIO, "btree_node block " + leaf);
    }
  }

  @Test
  void aCorruptSpaceMapIndexIsAnEioNamingIt() throws IOException {
    MemoryBlockDevice dev = metadataDevice(256);
    try (PoolMetadata pmd = PersistentPoolMetadata.open(dev, 128, true)) {
      pmd.commit();
    }
    ByteBuffer sb = ByteBuffer.allocate(4096).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    dev.read(sb, 0);
    long index = sb.getLong(ThinSuperblock.METADATA_SM_ROOT + 16);
    MemoryBlockDevice bad = dev.durableCopy("bad");
    byte[] sector = new byte[512];
    bad.read(ByteBuffer.wrap(sector), index * 4096);
    sector[20] ^= 0x10;
    bad.write(ByteBuffer.wrap(sector), index * 4096);
    bad.flush();
    assertErrno(() -> open(bad), Errno.EIO, "sm_index block " + index);
  }

  private static PoolMetadata open(MemoryBlockDevice d) throws IOException {
    return PersistentPoolMetadata.open(d, 128, false);
  }

  /** A copy with byte {@code offset} of the superblock changed (its checksum now wrong). */
  private static MemoryBlockDevice patch(MemoryBlockDevice dev, int offset, int value)
      throws IOException {
    MemoryBlockDevice c = dev.durableCopy("patched");
    byte[] sector = new byte[512];
    c.read(ByteBuffer.wrap(sector), 0);
    sector[offset] = (byte) value;
    c.write(ByteBuffer.wrap(sector), 0);
    c.flush();
    return c;
  }

  /** A copy with a 32-bit superblock field changed and the checksum made right again. */
  private static MemoryBlockDevice resealed(MemoryBlockDevice dev, int offset, int value)
      throws IOException {
    MemoryBlockDevice c = dev.durableCopy("resealed");
    ByteBuffer sb = ByteBuffer.allocate(4096).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    c.read(sb, 0);
    if (offset == ThinSuperblock.MAGIC_OFF || offset == ThinSuperblock.BLOCKNR) {
      sb.putLong(offset, value);
    } else {
      sb.putInt(offset, value);
    }
    sb.putInt(
        0, io.jdm.core.bufio.BlockChecksum.dmBmChecksum(sb, 4, 4092, ThinSuperblock.CSUM_XOR));
    c.write(sb.clear(), 0);
    c.flush();
    return c;
  }
}
