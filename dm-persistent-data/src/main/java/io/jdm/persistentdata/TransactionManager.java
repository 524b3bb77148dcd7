package io.jdm.persistentdata;

import io.jdm.core.bufio.BlockValidator;
import io.jdm.core.bufio.HeldBlock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The kernel's {@code dm-transaction-manager.c}: copy-on-write of metadata blocks between commits.
 *
 * <ul>
 *   <li>A block of the last committed transaction is never written in place: {@link #shadow}
 *       allocates a new block from the metadata {@link SpaceMap} and drops a reference to the
 *       original; a block allocated or shadowed in this transaction whose count is one is written
 *       in place. When the original is shared (count above one) the caller must raise the counts of
 *       what it points to ({@code inc_children}).
 *   <li>The space maps never hand out, in the same transaction, a block freed in it: the committed
 *       transaction may still reference it.
 *   <li>{@link #preCommit} writes the metadata space map and flushes every dirty block; {@link
 *       #commit} then writes the superblock and flushes again, so that a crash at any point leaves
 *       either the old superblock with all its blocks intact or the new one with all of its own.
 * </ul>
 *
 * <p>Not thread-safe: the owner serialises changes (the kernel's pool metadata lock).
 */
public final class TransactionManager {
  private final BlockManager bm;
  private SpaceMap sm;
  private final Set<Long> shadows = new HashSet<>();

  /** A shadowed block: where it lives now and whether its children's counts must be raised. */
  public record Shadow(long block, boolean incChildren) {}

  public TransactionManager(BlockManager bm) {
    this.bm = bm;
  }

  public BlockManager blockManager() {
    return bm;
  }

  /** The metadata space map. */
  public SpaceMap spaceMap() {
    return sm;
  }

  /** Sets the metadata space map (it is built on this transaction manager). */
  public void setSpaceMap(SpaceMap sm) {
    this.sm = sm;
  }

  /** {@code dm_tm_new_block}: a new zeroed block, held exclusively. */
  public HeldBlock newBlock(BlockValidator v) throws IOException {
    long b = sm.newBlock();
    shadows.add(b);
    return bm.writeLockZero(b, v);
  }

  /** A new block's number, without locking it (the caller writes it with {@link #write}). */
  public long allocate() throws IOException {
    long b = sm.newBlock();
    shadows.add(b);
    return b;
  }

  /**
   * The reference-count half of {@code dm_tm_shadow_block}: where block {@code orig} is to be
   * written in this transaction. The caller writes the whole new content with {@link #write}.
   */
  public Shadow shadow(long orig) throws IOException {
    boolean shared = sm.countIsMoreThanOne(orig);
    if (!shared && shadows.contains(orig)) {
      return new Shadow(orig, false);
    }
    long b = sm.newBlock();
    sm.dec(orig, orig + 1);
    shadows.add(b);
    return new Shadow(b, shared);
  }

  /**
   * {@code dm_tm_shadow_block}: an exclusive hold on the shadow of {@code orig}, holding its
   * content (checked by {@code v}).
   */
  public HeldBlock shadowBlock(long orig, BlockValidator v) throws IOException {
    Shadow s = shadow(orig);
    if (s.block() == orig) {
      return bm.writeLock(orig, v);
    }
    ByteBuffer copy;
    try (HeldBlock h = bm.readLock(orig, v)) {
      copy = ByteBuffer.allocate(bm.blockSize());
      copy.put(0, h.data(), 0, bm.blockSize());
    }
    HeldBlock n = bm.writeLockZero(s.block(), v);
    n.data().put(0, copy, 0, bm.blockSize());
    return n;
  }

  /** Writes {@code content} (a whole block) to block {@code b}, a block of this transaction. */
  public void write(long b, BlockValidator v, ByteBuffer content) throws IOException {
    try (HeldBlock h = bm.writeLockZero(b, v)) {
      h.data().put(0, content, 0, bm.blockSize());
      h.markDirty();
    }
  }

  /** {@code dm_tm_read_lock}. */
  public HeldBlock readLock(long b, BlockValidator v) throws IOException {
    return bm.readLock(b, v);
  }

  /** {@code dm_tm_inc}. */
  public void inc(long b) throws IOException {
    sm.inc(b, b + 1);
  }

  /** {@code dm_tm_dec}. */
  public void dec(long b) throws IOException {
    sm.dec(b, b + 1);
  }

  /** {@code dm_tm_ref}. */
  public long refCount(long b) throws IOException {
    return sm.count(b);
  }

  /** {@code dm_tm_block_is_shared}. */
  public boolean isShared(long b) throws IOException {
    return sm.countIsMoreThanOne(b);
  }

  /** {@code dm_tm_pre_commit}: the metadata space map written, every dirty block flushed. */
  public void preCommit() throws IOException {
    sm.commit();
    bm.flush();
  }

  /**
   * {@code dm_tm_commit}: {@code fill} updates the superblock at {@code superblock} (held
   * exclusively, checked by {@code v}), which is then written and the device flushed. Starts a new
   * transaction.
   */
  public void commit(long superblock, BlockValidator v, Consumer<ByteBuffer> fill)
      throws IOException {
    commit(superblock, v, false, fill);
  }

  /**
   * {@link #commit(long, BlockValidator, Consumer)}, with the superblock zeroed first instead of
   * read when {@code zero} (formatting: {@code superblock_lock_zero}).
   */
  public void commit(long superblock, BlockValidator v, boolean zero, Consumer<ByteBuffer> fill)
      throws IOException {
    try (HeldBlock h = zero ? bm.writeLockZero(superblock, v) : bm.writeLock(superblock, v)) {
      fill.accept(h.data());
      h.markDirty();
    }
    bm.flush();
    shadows.clear();
  }

  /** Forgets this transaction's shadows (after an abort reopened the committed state). */
  public void beginTransaction() {
    shadows.clear();
  }
}
