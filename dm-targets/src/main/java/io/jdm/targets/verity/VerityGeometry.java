package io.jdm.targets.verity;

/**
 * Where each digest of a dm-verity hash tree lives, as {@code verity_ctr} and {@code
 * verity_hash_at_level} compute it ({@code drivers/md/dm-verity-target.c}) and cryptsetup's {@code
 * hash_levels} lays it out.
 *
 * <p>A hash block holds {@code 2^hashPerBlockBits} digests, where {@code hashPerBlockBits =
 * floor(log2(hashBlockSize / digestSize))}. Level 0 holds the digests of the data blocks, level
 * {@code i + 1} the digests of the blocks of level {@code i}; there are as many levels as it takes
 * to get down to one block ({@code levels = 0} for a single data block, whose digest is then the
 * root). On the hash device the top level comes first, at {@code hashStart}, then the lower ones;
 * level 0 is last. In format 1 each digest takes {@code hashBlockSize >> hashPerBlockBits} bytes
 * (zero padded); in format 0 digests are packed. The rest of a hash block is zero.
 *
 * <p>Immutable.
 */
public final class VerityGeometry {
  /** {@code DM_VERITY_MAX_LEVELS}. */
  public static final int MAX_LEVELS = 63;

  private final int version;
  private final int hashBlockBits;
  private final int digestSize;
  private final long dataBlocks;
  private final long hashStart;
  private final int hashPerBlockBits;
  private final int levels;
  private final long[] levelBlock;
  private final long hashEnd;

  /**
   * @throws IllegalArgumentException with the kernel's text ({@code "Too many tree levels"}, {@code
   *     "Hash device offset overflow"}) if the tree does not fit
   */
  public VerityGeometry(
      int version, int hashBlockSize, int digestSize, long dataBlocks, long hashStart) {
    this.version = version;
    this.hashBlockBits = Integer.numberOfTrailingZeros(hashBlockSize);
    this.digestSize = digestSize;
    this.dataBlocks = dataBlocks;
    this.hashStart = hashStart;
    this.hashPerBlockBits = 31 - Integer.numberOfLeadingZeros(hashBlockSize / digestSize);
    int l = 0;
    if (dataBlocks != 0) {
      while (hashPerBlockBits * l < 64 && ((dataBlocks - 1) >>> (hashPerBlockBits * l)) != 0) {
        l++;
      }
    }
    if (l > MAX_LEVELS) {
      throw new IllegalArgumentException("Too many tree levels");
    }
    this.levels = l;
    this.levelBlock = new long[l];
    long pos = hashStart;
    for (int i = l - 1; i >= 0; i--) {
      levelBlock[i] = pos;
      int shift = (i + 1) * hashPerBlockBits;
      long s = shift >= 64 ? 1 : ((dataBlocks - 1) >>> shift) + 1; // ceil without overflow
      if (pos + s < pos || pos + s < 0) {
        throw new IllegalArgumentException("Hash device offset overflow");
      }
      pos += s;
    }
    this.hashEnd = pos;
  }

  public int version() {
    return version;
  }

  public int hashBlockSize() {
    return 1 << hashBlockBits;
  }

  public int digestSize() {
    return digestSize;
  }

  public long dataBlocks() {
    return dataBlocks;
  }

  /** First block of the tree on the hash device, in hash blocks. */
  public long hashStart() {
    return hashStart;
  }

  public int hashPerBlockBits() {
    return hashPerBlockBits;
  }

  public int levels() {
    return levels;
  }

  /** First hash block of {@code level} (absolute on the hash device). */
  public long levelStart(int level) {
    return levelBlock[level];
  }

  /** Blocks at {@code level}. */
  public long levelBlocks(int level) {
    int shift = (level + 1) * hashPerBlockBits;
    return shift >= 64 ? 1 : ((dataBlocks - 1) >>> shift) + 1;
  }

  /** One past the last hash block ({@code v->hash_blocks}, counted from block 0 of the device). */
  public long hashEnd() {
    return hashEnd;
  }

  /** Hash blocks of the tree, {@code hashEnd - hashStart}. */
  public long treeBlocks() {
    return hashEnd - hashStart;
  }

  /** The hash block holding the digest of data block {@code block} at {@code level}. */
  public long hashBlock(long block, int level) {
    long position = block >>> (level * hashPerBlockBits);
    return levelBlock[level] + (position >>> hashPerBlockBits);
  }

  /** The byte offset of that digest in its hash block. */
  public int hashOffset(long block, int level) {
    long position = block >>> (level * hashPerBlockBits);
    int idx = (int) (position & ((1L << hashPerBlockBits) - 1));
    return version == 0 ? idx * digestSize : idx << (hashBlockBits - hashPerBlockBits);
  }

  /** Bytes one digest takes in a hash block. */
  public int slotSize() {
    return version == 0 ? digestSize : 1 << (hashBlockBits - hashPerBlockBits);
  }
}
