package io.jdm.targets.verity;

import io.jdm.core.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Objects;
import java.util.UUID;

/**
 * Builds a dm-verity hash tree (and optionally its FEC parity) the way {@code veritysetup format}
 * does, byte for byte: the same superblock, the same tree blocks, the same root hash, the same
 * parity ({@code lib/verity/verity.c}, {@code verity_hash.c}, {@code verity_fec.c} of cryptsetup
 * 2.6).
 *
 * <pre>{@code
 * VerityFormat.Result r = VerityFormat.builder().salt(salt).uuid(uuid).build().format(data, hash);
 * dm.create("v", null, TableSpec.parse("0 " + r.dataSectors() + " verity "
 *     + r.tableArgs("data", "hash", null)), true);
 * }</pre>
 *
 * <p>The hash device gets the superblock at {@link Builder#hashOffset} (unless {@link
 * Builder#superblock(boolean) superblock(false)}), zeros up to the tree, and the tree from {@code
 * hashStart = ceil((hashOffset + 512) / hashBlockSize)} (or {@code hashOffset / hashBlockSize}
 * without superblock); nothing past the tree is written. With a FEC device, parity for {@code
 * fec_blocks} blocks (the data blocks, then the hash device from {@code hashStart} to its end, or
 * to the FEC offset when the FEC area is on the hash device itself) is written at {@link
 * Builder#fecOffset}. Devices are written with ordinary synchronous I/O and flushed.
 *
 * <p>Immutable and thread-safe; {@link #format} is not safe against concurrent writers of the same
 * devices.
 */
public final class VerityFormat {
  private static final int CHUNK = 1 << 20;

  private final int hashType;
  private final String algorithm;
  private final int dataBlockSize;
  private final int hashBlockSize;
  private final long dataBlocks;
  private final byte[] salt;
  private final long hashOffset;
  private final boolean superblock;
  private final UUID uuid;
  private final int fecRoots;
  private final long fecOffset;

  private VerityFormat(Builder b) {
    this.hashType = b.hashType;
    this.algorithm = b.algorithm;
    this.dataBlockSize = b.dataBlockSize;
    this.hashBlockSize = b.hashBlockSize;
    this.dataBlocks = b.dataBlocks;
    this.salt = b.salt != null ? b.salt.clone() : randomSalt();
    this.hashOffset = b.hashOffset;
    this.superblock = b.superblock;
    this.uuid = b.uuid != null ? b.uuid : UUID.randomUUID();
    this.fecRoots = b.fecRoots;
    this.fecOffset = b.fecOffset;
  }

  private static byte[] randomSalt() {
    byte[] s = new byte[32];
    new SecureRandom().nextBytes(s);
    return s;
  }

  /** veritysetup's defaults: format 1, sha256, 4 KiB blocks, a random 32-byte salt, FEC roots 2. */
  public static Builder builder() {
    return new Builder();
  }

  /** The options of {@code veritysetup format}. */
  public static final class Builder {
    private int hashType = 1;
    private String algorithm = "sha256";
    private int dataBlockSize = 4096;
    private int hashBlockSize = 4096;
    private long dataBlocks;
    private byte[] salt;
    private long hashOffset;
    private boolean superblock = true;
    private UUID uuid;
    private int fecRoots = 2;
    private long fecOffset;

    private Builder() {}

    /** {@code --format}: 1 (default) or 0 (Chrome OS). */
    public Builder hashType(int type) {
      this.hashType = type;
      return this;
    }

    /** {@code --hash}. */
    public Builder algorithm(String name) {
      this.algorithm = Objects.requireNonNull(name, "name");
      return this;
    }

    /** {@code --data-block-size}. */
    public Builder dataBlockSize(int bytes) {
      this.dataBlockSize = bytes;
      return this;
    }

    /** {@code --hash-block-size}. */
    public Builder hashBlockSize(int bytes) {
      this.hashBlockSize = bytes;
      return this;
    }

    /** {@code --data-blocks}; 0 (default) for the whole data device. */
    public Builder dataBlocks(long blocks) {
      this.dataBlocks = blocks;
      return this;
    }

    /** {@code --salt}; an empty array for {@code --salt=-}; default 32 random bytes. */
    public Builder salt(byte[] salt) {
      this.salt = salt.clone();
      return this;
    }

    /** {@code --hash-offset} in bytes, a multiple of 512. */
    public Builder hashOffset(long bytes) {
      this.hashOffset = bytes;
      return this;
    }

    /** {@code --no-superblock} when {@code false}. */
    public Builder superblock(boolean write) {
      this.superblock = write;
      return this;
    }

    /** {@code --uuid}; default random. */
    public Builder uuid(UUID uuid) {
      this.uuid = uuid;
      return this;
    }

    /** {@code --fec-roots}, 2 to 24. */
    public Builder fecRoots(int roots) {
      this.fecRoots = roots;
      return this;
    }

    /** {@code --fec-offset} in bytes, a multiple of the block size. */
    public Builder fecOffset(long bytes) {
      this.fecOffset = bytes;
      return this;
    }

    /**
     * @throws IllegalArgumentException with veritysetup's words for a bad option
     */
    public VerityFormat build() {
      if (hashType < 0 || hashType > 1) {
        throw new IllegalArgumentException("Unsupported VERITY hash type " + hashType + ".");
      }
      if (!VeritySuperblock.blockSizeOk(dataBlockSize)
          || !VeritySuperblock.blockSizeOk(hashBlockSize)) {
        throw new IllegalArgumentException("Unsupported VERITY block size.");
      }
      if (VerityHash.jdkName(algorithm) == null) {
        throw new IllegalArgumentException("Hash algorithm " + algorithm + " not supported.");
      }
      if (salt != null && salt.length > 256) {
        throw new IllegalArgumentException("Invalid salt string specified.");
      }
      if (hashOffset < 0 || hashOffset % 512 != 0) {
        throw new IllegalArgumentException("Unsupported VERITY hash offset.");
      }
      if (dataBlocks < 0) {
        throw new IllegalArgumentException("Invalid data blocks " + dataBlocks);
      }
      if (fecRoots < VerityFec.RSM - VerityFec.MAX_RSN
          || fecRoots > VerityFec.RSM - VerityFec.MIN_RSN) {
        throw new IllegalArgumentException("Invalid number of parity bytes.");
      }
      if (fecOffset < 0 || fecOffset % dataBlockSize != 0) {
        throw new IllegalArgumentException("Unsupported VERITY FEC offset.");
      }
      return new VerityFormat(this);
    }
  }

  /**
   * A builder preset from a superblock ({@code veritysetup verify}, {@code open}): format, hash,
   * block sizes, data blocks, salt and uuid as the superblock has them, at {@code hashOffset}.
   */
  public static Builder builder(VeritySuperblock sb, long hashOffset) {
    return new Builder()
        .hashType(sb.hashType())
        .algorithm(sb.algorithm())
        .dataBlockSize(sb.dataBlockSize())
        .hashBlockSize(sb.hashBlockSize())
        .dataBlocks(sb.dataBlocks())
        .salt(sb.salt())
        .uuid(sb.uuid())
        .hashOffset(hashOffset);
  }

  /** {@code --format}: 1, or 0 for Chrome OS. */
  public int hashType() {
    return hashType;
  }

  /** {@code --hash}, as given. */
  public String algorithm() {
    return algorithm;
  }

  public int dataBlockSize() {
    return dataBlockSize;
  }

  public int hashBlockSize() {
    return hashBlockSize;
  }

  /** {@code --data-blocks}; 0 for the whole data device. */
  public long dataBlocks() {
    return dataBlocks;
  }

  /** A copy of the salt (empty for none). */
  public byte[] salt() {
    return salt.clone();
  }

  /** {@code --hash-offset} in bytes. */
  public long hashOffset() {
    return hashOffset;
  }

  /** {@code false} for {@code --no-superblock}. */
  public boolean superblock() {
    return superblock;
  }

  public UUID uuid() {
    return uuid;
  }

  /** {@code --fec-roots}. */
  public int fecRoots() {
    return fecRoots;
  }

  /** {@code --fec-offset} in bytes. */
  public long fecOffset() {
    return fecOffset;
  }

  /** Data blocks covered on {@code data}: {@link #dataBlocks()}, else all of it. */
  public long dataBlocks(BlockDevice data) {
    return dataBlocks != 0 ? dataBlocks : (data.sectors() << 9) / dataBlockSize;
  }

  /**
   * Blocks FEC covers, as cryptsetup's {@code VERITY_FEC_blocks}: the data blocks, then the hash
   * device from {@link #hashStart} to its end, or to the FEC offset when {@code fecOnHash}.
   */
  public long fecBlocks(long dataBlocks, BlockDevice hash, boolean fecOnHash) {
    long end = fecOnHash ? fecOffset / dataBlockSize : (hash.sectors() << 9) / dataBlockSize;
    return dataBlocks + (end == 0 ? 0 : Math.max(0, end - hashStart()));
  }

  /** The first tree block on the hash device. */
  public long hashStart() {
    if (!superblock) {
      return hashOffset / hashBlockSize;
    }
    return (hashOffset + VeritySuperblock.SIZE + hashBlockSize - 1) / hashBlockSize;
  }

  /** The geometry for {@code blocks} data blocks. */
  public VerityGeometry geometry(long blocks) {
    int digest = VerityHash.of(algorithm, hashType, salt).digestSize();
    return new VerityGeometry(hashType, hashBlockSize, digest, blocks, hashStart());
  }

  /** Bytes the hash device needs for {@code blocks} data blocks (through the end of the tree). */
  public long hashDeviceBytes(long blocks) {
    return geometry(blocks).hashEnd() * hashBlockSize;
  }

  /** Bytes of FEC parity for {@code fecBlocks} covered blocks, {@code rounds * roots} blocks. */
  public long fecBytes(long fecBlocks) {
    int rsn = VerityFec.RSM - fecRoots;
    long rounds = (fecBlocks + rsn - 1) / rsn;
    return rounds * fecRoots * dataBlockSize;
  }

  /** {@link #format(BlockDevice, BlockDevice, BlockDevice)} without FEC. */
  public Result format(BlockDevice data, BlockDevice hash) throws IOException {
    return format(data, hash, null);
  }

  /**
   * Writes the superblock, the hash tree and (with {@code fec}) the parity.
   *
   * @param fec the FEC device, or {@code null}; may be {@code hash} itself
   * @throws IllegalArgumentException if a device is too small, or block sizes differ with FEC
   */
  public Result format(BlockDevice data, BlockDevice hash, BlockDevice fec) throws IOException {
    long blocks = dataBlocks != 0 ? dataBlocks : (data.sectors() << 9) / dataBlockSize;
    if (blocks == 0) {
      throw new IllegalArgumentException("Invalid size parameters for verity device.");
    }
    if ((data.sectors() << 9) / dataBlockSize < blocks) {
      throw new IllegalArgumentException(
          "Device " + data.name() + " is too small: " + blocks + " data blocks needed.");
    }
    VerityHash h = VerityHash.of(algorithm, hashType, salt);
    VerityGeometry geo = geometry(blocks);
    long need = geo.hashEnd() * hashBlockSize;
    if (hash.sectors() << 9 < need) {
      throw new IllegalArgumentException(
          "Device " + hash.name() + " is too small: " + need + " bytes needed for the hash area.");
    }
    VeritySuperblock sb = null;
    if (superblock) {
      sb =
          new VeritySuperblock(
              hashType, uuid, algorithm, dataBlockSize, hashBlockSize, blocks, salt);
      byte[] head = new byte[(int) (geo.hashStart() * hashBlockSize - hashOffset)];
      System.arraycopy(sb.encode(), 0, head, 0, VeritySuperblock.SIZE);
      hash.write(ByteBuffer.wrap(head), hashOffset);
    }
    byte[] root = new byte[h.digestSize()];
    if (geo.levels() == 0) {
      ByteBuffer b = ByteBuffer.allocate(dataBlockSize);
      data.read(b, 0);
      h.digest(b, 0, dataBlockSize, root);
    } else {
      hashLevel(h, geo, data, 0, dataBlockSize, blocks, hash, geo.levelStart(0));
      for (int i = 1; i < geo.levels(); i++) {
        hashLevel(
            h,
            geo,
            hash,
            geo.levelStart(i - 1) * hashBlockSize,
            hashBlockSize,
            geo.levelBlocks(i - 1),
            hash,
            geo.levelStart(i));
      }
      ByteBuffer top = ByteBuffer.allocate(hashBlockSize);
      hash.read(top, geo.levelStart(geo.levels() - 1) * hashBlockSize);
      h.digest(top, 0, hashBlockSize, root);
    }
    hash.flush();
    long fecBlocks = 0;
    if (fec != null) {
      if (dataBlockSize != hashBlockSize) {
        throw new IllegalArgumentException("Block sizes must match for FEC.");
      }
      long hashEndBlocks =
          fec == hash ? fecOffset / dataBlockSize : (hash.sectors() << 9) / dataBlockSize;
      if (hashEndBlocks < geo.hashEnd()) {
        throw new IllegalArgumentException("FEC area overlaps the hash area.");
      }
      fecBlocks = blocks + (hashEndBlocks - geo.hashStart());
      encodeFec(data, hash, fec, blocks, geo.hashStart(), fecBlocks);
      fec.flush();
    }
    return new Result(this, geo, root, sb, fecBlocks);
  }

  /** Digests {@code count} source blocks into hash blocks from {@code dstBlock} on. */
  private void hashLevel(
      VerityHash h,
      VerityGeometry geo,
      BlockDevice src,
      long srcPos,
      int srcBs,
      long count,
      BlockDevice dst,
      long dstBlock)
      throws IOException {
    int per = 1 << geo.hashPerBlockBits();
    int slot = geo.slotSize();
    int perChunk = Math.max(1, CHUNK / srcBs);
    ByteBuffer in = ByteBuffer.allocate(perChunk * srcBs);
    int outBlocks = Math.max(1, CHUNK / hashBlockSize);
    byte[] out = new byte[outBlocks * hashBlockSize];
    int outUsed = 0; // digests in the out buffer
    byte[] digest = new byte[h.digestSize()];
    long done = 0;
    long written = 0;
    while (done < count) {
      int n = (int) Math.min(perChunk, count - done);
      in.clear().limit(n * srcBs);
      src.read(in, srcPos + done * srcBs);
      for (int i = 0; i < n; i++) {
        h.digest(in, i * srcBs, srcBs, digest);
        int blk = outUsed / per;
        int idx = outUsed % per;
        System.arraycopy(digest, 0, out, blk * hashBlockSize + idx * slot, digest.length);
        outUsed++;
        if (outUsed == outBlocks * per) {
          dst.write(ByteBuffer.wrap(out), (dstBlock + written) * hashBlockSize);
          written += outBlocks;
          java.util.Arrays.fill(out, (byte) 0);
          outUsed = 0;
        }
      }
      done += n;
    }
    if (outUsed > 0) {
      int blocksUsed = (outUsed + per - 1) / per;
      dst.write(
          ByteBuffer.wrap(out, 0, blocksUsed * hashBlockSize),
          (dstBlock + written) * hashBlockSize);
    }
  }

  /** cryptsetup's {@code FEC_process_inputs} in encode mode. */
  private void encodeFec(
      BlockDevice data,
      BlockDevice hash,
      BlockDevice fec,
      long blocks,
      long hashStart,
      long fecBlocks)
      throws IOException {
    int bs = dataBlockSize;
    int rsn = VerityFec.RSM - fecRoots;
    long rounds = (fecBlocks + rsn - 1) / rsn;
    long need = fecOffset + rounds * fecRoots * bs;
    if (fec.sectors() << 9 < need) {
      throw new IllegalArgumentException(
          "Device " + fec.name() + " is too small: " + need + " bytes needed for FEC.");
    }
    ReedSolomon rs = new ReedSolomon(fecRoots);
    byte[] rows = new byte[rsn * bs];
    byte[] parity = new byte[bs * fecRoots];
    byte[] cw = new byte[rsn];
    for (long n = 0; n < rounds; n++) {
      java.util.Arrays.fill(rows, (byte) 0);
      for (int i = 0; i < rsn; i++) {
        long vb = n + i * rounds;
        ByteBuffer dst = ByteBuffer.wrap(rows, i * bs, bs);
        if (vb < blocks) {
          data.read(dst, vb * bs);
        } else if (vb < fecBlocks) {
          hash.read(dst, (hashStart + vb - blocks) * bs);
        }
      }
      for (int b = 0; b < bs; b++) {
        for (int i = 0; i < rsn; i++) {
          cw[i] = rows[i * bs + b];
        }
        rs.encode(cw, 0, parity, b * fecRoots);
      }
      fec.write(ByteBuffer.wrap(parity), fecOffset + n * bs * fecRoots);
    }
  }

  /** Reads the superblock at {@code hashOffset} of {@code hash} ({@code veritysetup dump}). */
  public static VeritySuperblock readSuperblock(BlockDevice hash, long hashOffset)
      throws IOException {
    ByteBuffer b = ByteBuffer.allocate(VeritySuperblock.SIZE);
    hash.read(b, hashOffset);
    return VeritySuperblock.decode(b.array(), hash.name());
  }

  /** What {@link #format} made. */
  public static final class Result {
    private final VerityFormat f;
    private final VerityGeometry geo;
    private final byte[] root;
    private final VeritySuperblock sb;
    private final long fecBlocks;

    Result(VerityFormat f, VerityGeometry geo, byte[] root, VeritySuperblock sb, long fecBlocks) {
      this.f = f;
      this.geo = geo;
      this.root = root;
      this.sb = sb;
      this.fecBlocks = fecBlocks;
    }

    public byte[] rootHash() {
      return root.clone();
    }

    public String rootHashHex() {
      return HexFormat.of().formatHex(root);
    }

    public VerityGeometry geometry() {
      return geo;
    }

    /** The superblock written, or {@code null} with {@code --no-superblock}. */
    public VeritySuperblock superblock() {
      return sb;
    }

    /** FEC blocks covered (0 without FEC). */
    public long fecBlocks() {
      return fecBlocks;
    }

    /** The mapped device's length in sectors. */
    public long dataSectors() {
      return geo.dataBlocks() * f.dataBlockSize / 512;
    }

    /**
     * The table arguments after {@code verity}, as veritysetup's activation builds them.
     *
     * @param fec the FEC device's name, or {@code null} without FEC
     */
    public String tableArgs(String data, String hash, String fec) {
      String s =
          f.hashType
              + " "
              + data
              + " "
              + hash
              + " "
              + f.dataBlockSize
              + " "
              + f.hashBlockSize
              + " "
              + geo.dataBlocks()
              + " "
              + geo.hashStart()
              + " "
              + f.algorithm
              + " "
              + rootHashHex()
              + " "
              + (f.salt.length == 0 ? "-" : HexFormat.of().formatHex(f.salt));
      if (fec != null && fecBlocks > 0) {
        s +=
            " 8 use_fec_from_device "
                + fec
                + " fec_start "
                + f.fecOffset / f.dataBlockSize
                + " fec_blocks "
                + fecBlocks
                + " fec_roots "
                + f.fecRoots;
      }
      return s;
    }
  }
}
