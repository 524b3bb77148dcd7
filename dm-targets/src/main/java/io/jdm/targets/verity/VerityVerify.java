package io.jdm.targets.verity;

import io.jdm.core.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Verifies a dm-verity image entirely in userspace, as {@code veritysetup verify} does (cryptsetup
 * 2.6 {@code VERITY_verify} in {@code lib/verity/verity_hash.c}, then, if that fails and a FEC
 * device is given, {@code VERITY_FEC_process} in check mode in {@code verity_fec.c}).
 *
 * <p>Every level of the tree is recomputed from the level below, starting with the data blocks, and
 * compared with what the hash device holds, digest by digest, padding included; the first
 * difference stops the check. The digest of the top block (of the only data block when there is no
 * tree) is then compared with the root hash. With a FEC device, a failed check is followed by an RS
 * decode of every codeword, counting the symbols it would correct: the verdict then is the
 * decoder's ({@code 0} when everything is repairable), as veritysetup's.
 *
 * <p>The outcome carries veritysetup's messages and exit code: 0 verified (or repairable), 1 for an
 * I/O error or a device too small ({@code -EIO}) and for a wrong root hash without FEC ({@code
 * -EFAULT}), 2 for a mismatch ({@code -EPERM}).
 *
 * <p>Stateless; reads the devices with ordinary synchronous I/O in chunks of up to 1 MiB.
 */
public final class VerityVerify {
  private static final int CHUNK = 1 << 20;

  private VerityVerify() {}

  /** What the check found. */
  public static final class Outcome {
    private final List<String> messages;
    private final int exitCode;
    private final long failedAt;
    private final long fecErrors;

    Outcome(List<String> messages, int exitCode, long failedAt, long fecErrors) {
      this.messages = List.copyOf(messages);
      this.exitCode = exitCode;
      this.failedAt = failedAt;
      this.fecErrors = fecErrors;
    }

    /** What veritysetup prints on stderr, line by line, without newlines. */
    public List<String> messages() {
      return messages;
    }

    /** veritysetup's exit code: 0, 1 or 2. */
    public int exitCode() {
      return exitCode;
    }

    public boolean ok() {
      return exitCode == 0;
    }

    /** The byte position veritysetup names for the first mismatch, or -1. */
    public long failedAt() {
      return failedAt;
    }

    /** Symbols the FEC check found repairable (0 without FEC or without errors). */
    public long fecErrors() {
      return fecErrors;
    }
  }

  /** Thrown inside the check: {@code errno} as cryptsetup's, with the message to print first. */
  private static final class Failure extends Exception {
    private static final long serialVersionUID = 1L;
    final int errno;
    final long position;

    Failure(int errno, String message, long position) {
      super(message, null, false, false);
      this.errno = errno;
      this.position = position;
    }
  }

  private static final int EPERM = 1;
  private static final int EIO = 5;
  private static final int EFAULT = 14;
  private static final int EINVAL = 22;

  /**
   * Verifies {@code data} against the tree on {@code hash} and {@code rootHash}, with the
   * parameters of {@code params} (data blocks, when 0, from the data device's size).
   *
   * @param fec the FEC device, or {@code null}; may be {@code hash} itself (its parity at {@link
   *     VerityFormat#fecOffset()})
   * @throws IllegalArgumentException if {@code rootHash} is not one digest long
   */
  public static Outcome verify(
      VerityFormat params, BlockDevice data, BlockDevice hash, byte[] rootHash, BlockDevice fec) {
    Objects.requireNonNull(params, "params");
    VerityHash h = VerityHash.of(params.algorithm(), params.hashType(), params.salt());
    if (rootHash.length != h.digestSize()) {
      throw new IllegalArgumentException(
          "root hash of " + rootHash.length + " bytes (expected: " + h.digestSize() + ")");
    }
    List<String> msgs = new ArrayList<>();
    long blocks = params.dataBlocks(data);
    int errno = 0;
    long failedAt = -1;
    try {
      byte[] root = tree(params, h, data, hash, blocks);
      if (!Arrays.equals(root, rootHash)) {
        msgs.add("Verification of root hash failed.");
        errno = EFAULT;
      }
    } catch (Failure f) {
      if (f.getMessage() != null) {
        msgs.add(f.getMessage());
      }
      msgs.add("Verification of data area failed.");
      errno = f.errno;
      failedAt = f.position;
    }
    long fecErrors = 0;
    if ((errno == EPERM || errno == EFAULT) && fec != null) {
      int v = errno;
      long[] count = new long[1];
      try {
        fecCheck(params, data, hash, fec, blocks, count);
        errno = 0;
        fecErrors = count[0];
        if (fecErrors > 0) {
          msgs.add("Found " + fecErrors + " repairable errors with FEC device.");
        }
      } catch (Failure f) {
        if (f.getMessage() != null) {
          msgs.add(f.getMessage());
        }
        msgs.add("Errors cannot be repaired with FEC device.");
        errno = f.errno;
      }
      if (v == EFAULT) {
        errno = EPERM;
      }
    }
    int exit = errno == 0 ? 0 : errno == EPERM ? 2 : 1;
    return new Outcome(msgs, exit, failedAt, fecErrors);
  }

  /** cryptsetup's {@code VERITY_create_or_verify_hash} in verify mode; returns the root digest. */
  private static byte[] tree(
      VerityFormat params, VerityHash h, BlockDevice data, BlockDevice hash, long blocks)
      throws Failure {
    VerityGeometry geo = params.geometry(blocks);
    int dbs = params.dataBlockSize();
    int hbs = params.hashBlockSize();
    for (int i = 0; i < geo.levels(); i++) {
      if (i == 0) {
        level(h, geo, data, 0, dbs, blocks, hash, geo.levelStart(0));
      } else {
        level(
            h,
            geo,
            hash,
            geo.levelStart(i - 1) * hbs,
            hbs,
            geo.levelBlocks(i - 1),
            hash,
            geo.levelStart(i));
      }
    }
    byte[] root = new byte[h.digestSize()];
    if (geo.levels() == 0) {
      ByteBuffer b = ByteBuffer.allocate(dbs);
      read(data, b, 0);
      h.digest(b, 0, dbs, root);
    } else {
      ByteBuffer b = ByteBuffer.allocate(hbs);
      read(hash, b, geo.levelStart(geo.levels() - 1) * hbs);
      h.digest(b, 0, hbs, root);
    }
    return root;
  }

  /** Checks the hash blocks from {@code dstBlock} on against {@code count} source blocks. */
  private static void level(
      VerityHash h,
      VerityGeometry geo,
      BlockDevice src,
      long srcPos,
      int srcBs,
      long count,
      BlockDevice dst,
      long dstBlock)
      throws Failure {
    int per = 1 << geo.hashPerBlockBits();
    int hbs = geo.hashBlockSize();
    int ds = h.digestSize();
    int slot = geo.version() == 0 ? ds : geo.slotSize();
    int perChunk = Math.max(1, CHUNK / srcBs);
    ByteBuffer in = ByteBuffer.allocate(perChunk * srcBs);
    int hashPerChunk = Math.max(1, CHUNK / hbs);
    ByteBuffer out = ByteBuffer.allocate(hashPerChunk * hbs);
    byte[] digest = new byte[ds];
    long hashBlocks = (count + per - 1) / per;
    long inDone = 0; // source blocks read into "in" so far, in total
    int inAt = 0; // next source block within "in"
    int inHave = 0; // source blocks in "in"
    for (long hb = 0; hb < hashBlocks; hb++) {
      int k = (int) (hb % hashPerChunk);
      if (k == 0) {
        int n = (int) Math.min(hashPerChunk, hashBlocks - hb);
        out.clear().limit(n * hbs);
        read(dst, out, (dstBlock + hb) * hbs);
      }
      byte[] ob = out.array();
      int base = k * hbs;
      int used = 0;
      for (int i = 0; i < per && hb * per + i < count; i++) {
        if (inAt == inHave) {
          int n = (int) Math.min(perChunk, count - inDone);
          in.clear().limit(n * srcBs);
          read(src, in, srcPos + inDone * srcBs);
          inDone += n;
          inAt = 0;
          inHave = n;
        }
        h.digest(in, inAt * srcBs, srcBs, digest);
        long blockPos = srcPos + (inDone - inHave + inAt) * srcBs;
        inAt++;
        int at = base + i * slot;
        if (!Arrays.equals(ob, at, at + ds, digest, 0, ds)) {
          throw new Failure(EPERM, "Verification failed at position " + blockPos + ".", blockPos);
        }
        zero(ob, at + ds, at + slot, (dstBlock + hb) * hbs - base);
        used++;
      }
      zero(ob, base + used * slot, base + hbs, (dstBlock + hb) * hbs - base);
    }
  }

  /** cryptsetup's {@code verify_zero}: {@code b[from .. to)} must be zero. */
  private static void zero(byte[] b, int from, int to, long devOffsetOfB) throws Failure {
    for (int i = from; i < to; i++) {
      if (b[i] != 0) {
        long pos = devOffsetOfB + from;
        throw new Failure(EPERM, "Spare area is not zeroed at position " + pos + ".", pos);
      }
    }
  }

  private static void read(BlockDevice dev, ByteBuffer b, long offset) throws Failure {
    if (offset + b.remaining() > dev.sectors() << 9) {
      throw new Failure(EIO, null, offset); // cryptsetup only says the data area failed
    }
    try {
      dev.read(b, offset);
    } catch (IOException e) {
      throw new Failure(EIO, null, offset);
    }
  }

  /** cryptsetup's {@code FEC_process_inputs} in decode (check) mode, without erasures. */
  private static void fecCheck(
      VerityFormat params,
      BlockDevice data,
      BlockDevice hash,
      BlockDevice fec,
      long blocks,
      long[] errors)
      throws Failure {
    int bs = params.dataBlockSize();
    if (bs != params.hashBlockSize()) {
      throw new Failure(EINVAL, "Block sizes must match for FEC.", -1);
    }
    int roots = params.fecRoots();
    int rsn = VerityFec.RSM - roots;
    long fecBlocks = params.fecBlocks(blocks, hash, fec == hash);
    long hashStart = params.hashStart();
    long rounds = (fecBlocks + rsn - 1) / rsn;
    ReedSolomon rs = new ReedSolomon(roots);
    byte[] rows = new byte[rsn * bs];
    ByteBuffer parity = ByteBuffer.allocate(bs * roots);
    byte[] cw = new byte[ReedSolomon.NN];
    for (long n = 0; n < rounds; n++) {
      Arrays.fill(rows, (byte) 0);
      for (int i = 0; i < rsn; i++) {
        long vb = n + i * rounds;
        ByteBuffer dst = ByteBuffer.wrap(rows, i * bs, bs).slice();
        try {
          if (vb < blocks) {
            read(data, dst, vb * bs);
          } else if (vb < fecBlocks) {
            read(hash, dst, (hashStart + vb - blocks) * bs);
          }
        } catch (Failure f) {
          throw new Failure(
              EIO, String.format(Locale.ROOT, "Failed to read RS block %d byte %d.", n, i), -1);
        }
      }
      parity.clear();
      try {
        read(fec, parity, params.fecOffset() + n * bs * roots);
      } catch (Failure f) {
        throw new Failure(EIO, "Failed to read parity for RS block " + n + ".", -1);
      }
      byte[] p = parity.array();
      for (int b = 0; b < bs; b++) {
        for (int i = 0; i < rsn; i++) {
          cw[i] = rows[i * bs + b];
        }
        System.arraycopy(p, b * roots, cw, rsn, roots);
        int r = rs.decode(cw, null, 0);
        if (r < 0) {
          throw new Failure(EPERM, "Failed to repair parity for block " + n + ".", -1);
        }
        errors[0] += r;
      }
    }
  }
}
