package io.jdm.targets.thin.metadata;

import io.jdm.core.bufio.BlockChecksum;
import io.jdm.core.bufio.BlockValidator;
import io.jdm.core.bufio.CorruptBlockException;
import io.jdm.persistentdata.BlockManager;
import java.nio.ByteBuffer;
import java.util.Locale;

/**
 * The thin pool's superblock, {@code struct thin_disk_superblock} of {@code dm-thin-metadata.c}:
 * its field offsets and its validator ({@code sb_validator}: the block number, then the magic, then
 * the checksum, as the kernel checks them).
 */
final class ThinSuperblock {
  static final long LOCATION = 0;
  static final long MAGIC = 27022010L;
  static final int VERSION = 2;
  static final int CSUM_XOR = 160774;
  static final int METADATA_BLOCK_SECTORS = BlockManager.BLOCK_SIZE >> 9;
  static final int NEEDS_CHECK_FLAG = 1;

  static final int CSUM = 0;
  static final int FLAGS = 4;
  static final int BLOCKNR = 8;
  static final int UUID = 16;
  static final int MAGIC_OFF = 32;
  static final int VERSION_OFF = 40;
  static final int TIME = 44;
  static final int TRANS_ID = 48;
  static final int HELD_ROOT = 56;
  static final int DATA_SM_ROOT = 64;
  static final int METADATA_SM_ROOT = 192;
  static final int SM_ROOT_SIZE = 128;
  static final int DATA_MAPPING_ROOT = 320;
  static final int DEVICE_DETAILS_ROOT = 328;
  static final int DATA_BLOCK_SIZE = 336;
  static final int METADATA_BLOCK_SIZE = 340;
  static final int METADATA_NR_BLOCKS = 344;
  static final int COMPAT_FLAGS = 352;
  static final int COMPAT_RO_FLAGS = 356;
  static final int INCOMPAT_FLAGS = 360;

  static final BlockValidator VALIDATOR = new Validator();

  private ThinSuperblock() {}

  private static final class Validator implements BlockValidator {
    @Override
    public String name() {
      return "superblock";
    }

    @Override
    public void prepareForWrite(ByteBuffer block, long blockNr) {
      block.putLong(BLOCKNR, blockNr);
      block.putInt(CSUM, BlockChecksum.dmBmChecksum(block, 4, block.capacity() - 4, CSUM_XOR));
    }

    @Override
    public void check(ByteBuffer block, long blockNr) throws CorruptBlockException {
      long says = block.getLong(BLOCKNR);
      if (says != blockNr) {
        throw new CorruptBlockException(
            name(), blockNr, "blocknr " + Long.toUnsignedString(says) + ": wanted " + blockNr);
      }
      long magic = block.getLong(MAGIC_OFF);
      if (magic != MAGIC) {
        throw new CorruptBlockException(
            name(), blockNr, "magic " + Long.toUnsignedString(magic) + ": wanted " + MAGIC);
      }
      int stored = block.getInt(CSUM);
      int computed = BlockChecksum.dmBmChecksum(block, 4, block.capacity() - 4, CSUM_XOR);
      if (stored != computed) {
        throw new CorruptBlockException(
            name(),
            blockNr,
            String.format(
                Locale.ROOT,
                "checksum mismatch (stored 0x%08x, computed 0x%08x)",
                stored,
                computed));
      }
    }
  }
}
