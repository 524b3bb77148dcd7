package io.jdm.targets.verity;

import io.jdm.core.BlockDevice;
import io.jdm.core.DmDev;
import io.jdm.core.TargetException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * dm-verity's forward error correction ({@code drivers/md/dm-verity-fec.c}): a corrupt data or hash
 * block is rebuilt from Reed–Solomon parity kept on the FEC device, in the layout {@code
 * veritysetup format --fec-device} writes.
 *
 * <p>The area covered is {@code fec_blocks} blocks: the data blocks, then the hash device's blocks
 * from {@code hash_start} on; anything past it counts as zeros. With {@code rsn = 255 - roots} and
 * {@code rounds = ceil(fec_blocks / rsn)}, byte {@code j} of RS codeword {@code c} (for {@code c <
 * rounds * block_size}) is byte {@code c + j * rounds * block_size} of that area, so the {@code
 * rsn} bytes of a codeword sit in {@code rsn} blocks {@code rounds} blocks apart and one burst of
 * bad blocks touches each codeword at most once per {@code rounds} blocks. The parity of codeword
 * {@code c} is {@code roots} bytes at {@code c * roots} from {@code fec_start} (in blocks) on the
 * FEC device.
 *
 * <p>Decoding a block reads its {@code rsn} companions, decodes every codeword through it, and
 * checks the result against the digest the tree holds; if that fails, it tries again with the
 * companions whose own digest is wrong (or whose read failed) given to the decoder as erasures, as
 * the kernel does. A block that cannot be corrected stays an error.
 */
final class VerityFec {
  static final int RSM = 255;
  static final int MAX_RSN = 253;
  static final int MIN_RSN = 231;

  private final VerityTarget v;
  private final DmDev fecDmDev;
  private final BlockDevice fecDev;
  private final long blocks;
  private final long start;
  private final int roots;
  private final int rsn;
  private final long rounds;
  private final long hashBlocks;
  private final int bits;
  private final int bs;
  private final ReedSolomon rs;

  private VerityFec(VerityTarget v, VerityTargetType.Options o, long rounds, long hashBlocks) {
    this.v = v;
    this.fecDmDev = o.fecDev;
    this.fecDev = o.fecDev.bdev();
    this.blocks = o.fecBlocks;
    this.start = o.fecStart;
    this.roots = o.fecRoots;
    this.rsn = RSM - roots;
    this.rounds = rounds;
    this.hashBlocks = hashBlocks;
    this.bs = v.dataBlockSize();
    this.bits = Integer.numberOfTrailingZeros(bs);
    this.rs = new ReedSolomon(roots);
  }

  /** {@code verity_fec_ctr}: checks the options with the kernel's texts. */
  static VerityFec create(VerityTarget v, VerityTargetType.Options o) {
    VerityGeometry geo = v.geometry();
    if (v.dataBlockSize() != geo.hashBlockSize()) {
      throw new TargetException("Block sizes must match to use FEC");
    }
    if (o.fecRoots == 0) {
      throw new TargetException("Missing fec_roots");
    }
    int rsn = RSM - o.fecRoots;
    if (o.fecBlocks == 0) {
      throw new TargetException("Missing fec_blocks");
    }
    long rounds = o.fecBlocks / rsn + (o.fecBlocks % rsn != 0 ? 1 : 0);
    if (o.fecBlocks < geo.dataBlocks() + geo.treeBlocks() || rounds == 0) {
      throw new TargetException("Invalid fec_blocks");
    }
    long hashBlocks = o.fecBlocks - geo.dataBlocks();
    int bs = v.dataBlockSize();
    long hashDevBlocks = (v.hashDevice().sectors() << 9) / bs;
    if (hashDevBlocks < geo.hashStart() + hashBlocks) {
      throw new TargetException("Hash device is too small for fec_blocks");
    }
    long fecDevBlocks = ((o.fecDev.bdev().sectors() << 9) / bs) - o.fecStart;
    if (fecDevBlocks < rounds * o.fecRoots) {
      throw new TargetException("FEC device is too small");
    }
    if ((v.dataDevice().sectors() << 9) / bs < geo.dataBlocks()) {
      throw new TargetException("Data device is too small");
    }
    return new VerityFec(v, o, rounds, hashBlocks);
  }

  /** The FEC part of the table text ({@code verity_fec_status_table}). */
  void statusTable(StringBuilder sb) {
    sb.append(" use_fec_from_device ")
        .append(fecDmDev.name())
        .append(" fec_blocks ")
        .append(blocks)
        .append(" fec_start ")
        .append(start)
        .append(" fec_roots ")
        .append(roots);
  }

  void close() {}

  /**
   * {@code verity_fec_decode}: the corrected contents of a data block ({@code metadata} false) or
   * of hash block {@code block} (absolute on the hash device), whose digest must be {@code want};
   * {@code null} if it cannot be corrected.
   */
  byte[] decode(VerityTarget.VerityIo io, boolean metadata, long block, byte[] want) {
    if (io.fecLevel > 0) {
      return null;
    }
    io.fecLevel++;
    try {
      VerityGeometry geo = v.geometry();
      if (metadata) {
        block = block - geo.hashStart() + geo.dataBlocks();
      }
      long offset = block << bits;
      long span = rounds << bits;
      long res = offset / span;
      long rsb = offset - res * span;
      byte[] out = decodeRsb(io, rsb, (int) res, want, false);
      if (out == null) {
        out = decodeRsb(io, rsb, (int) res, want, true);
      }
      return out;
    } finally {
      io.fecLevel--;
    }
  }

  /** {@code fec_decode_rsb}: one attempt over every codeword through the block. */
  private byte[] decodeRsb(
      VerityTarget.VerityIo io, long rsb, int target, byte[] want, boolean useErasures) {
    VerityGeometry geo = v.geometry();
    byte[][] rows = new byte[rsn][];
    int[] erasures = new int[roots];
    int neras = 0;
    byte[] digest = new byte[want.length];
    byte[] real = new byte[want.length];
    long first = rsb >>> bits;
    for (int i = 0; i < rsn; i++) {
      long vb = first + (long) i * rounds;
      boolean onData = vb < geo.dataBlocks();
      BlockDevice dev;
      long nr;
      if (onData) {
        dev = v.dataDevice();
        nr = vb;
      } else {
        long hb = vb - geo.dataBlocks();
        if (hb >= hashBlocks) {
          continue; // beyond the area: zeros when the parity was made
        }
        dev = v.hashDevice();
        nr = hb + geo.hashStart();
      }
      byte[] buf = new byte[bs];
      try {
        dev.read(ByteBuffer.wrap(buf), nr << bits);
      } catch (IOException e) {
        v.logger()
            .log(
                System.Logger.Level.WARNING,
                "{0}: FEC {1}: read failed ({2}): {3}",
                v.dataDevName(),
                Long.toString(rsb),
                Long.toString(nr),
                e.getMessage());
        if (useErasures && neras < roots) {
          erasures[neras++] = i;
        }
        continue;
      }
      if (onData && v.hashForBlock(io, vb, digest) == 0) {
        if (io.isZero) {
          continue;
        }
        if (useErasures && neras < roots) {
          v.hash().digest(buf, 0, bs, real);
          if (!Arrays.equals(real, digest)) {
            erasures[neras++] = i;
          }
        }
      }
      rows[i] = buf;
    }
    byte[] parity = new byte[bs * roots];
    try {
      fecDev.read(ByteBuffer.wrap(parity), (start << bits) + rsb * roots);
    } catch (IOException e) {
      v.logger()
          .log(
              System.Logger.Level.ERROR,
              "{0}: FEC {1}: parity read failed: {2}",
              v.dataDevName(),
              Long.toString(rsb),
              e.getMessage());
      return null;
    }
    byte[] out = new byte[bs];
    byte[] cw = new byte[ReedSolomon.NN];
    int corrected = 0;
    for (int k = 0; k < bs; k++) {
      for (int i = 0; i < rsn; i++) {
        byte[] row = rows[i];
        cw[i] = row == null ? 0 : row[k];
      }
      System.arraycopy(parity, k * roots, cw, rsn, roots);
      int r = rs.decode(cw, erasures, neras);
      if (r < 0) {
        if (neras > 0) {
          v.logger()
              .log(
                  System.Logger.Level.ERROR,
                  "{0}: FEC {1}: failed to correct: -74",
                  v.dataDevName(),
                  Long.toString(rsb));
        }
        return null;
      }
      corrected += r;
      out[k] = cw[target];
    }
    if (corrected > 0) {
      v.logger()
          .log(
              System.Logger.Level.WARNING,
              "{0}: FEC {1}: corrected {2} errors",
              v.dataDevName(),
              Long.toString(rsb),
              corrected);
    }
    v.hash().digest(out, 0, bs, real);
    if (!Arrays.equals(real, want)) {
      v.logger()
          .log(
              System.Logger.Level.ERROR,
              "{0}: FEC {1}: failed to correct ({2} erasures)",
              v.dataDevName(),
              Long.toString(rsb),
              neras);
      return null;
    }
    return out;
  }
}
