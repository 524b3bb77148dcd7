package io.jdm.persistentdata;

import io.jdm.core.bufio.BlockValidator;
import io.jdm.core.bufio.ChecksumValidator;
import io.jdm.core.bufio.CorruptBlockException;
import io.jdm.core.bufio.HeldBlock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalLong;

/**
 * B-trees of the kernel's {@code dm-btree.c} and {@code dm-btree-remove.c}, in its node format
 * ({@link Node}): 64-bit keys compared unsigned, values of a {@link ValueType}, copy-on-write
 * through a {@link TransactionManager}. A tree of several levels ({@code struct dm_btree_info} with
 * {@code levels > 1}) nests trees: the values of every level but the last are the roots of the
 * trees below, shared by reference count (the thin mapping tree: thin id, then virtual block).
 *
 * <ul>
 *   <li>Every change returns the new root: the path from the root is shadowed, and the nodes of a
 *       shared subtree are copied as they are changed, raising the counts of what they point to.
 *   <li>Nodes are split top-down when full (the root splits beneath itself, keeping its place), and
 *       removal rebalances children along the path ({@code rebalance2}, {@code rebalance3}) so that
 *       every node but the root keeps at least a third of its entries, as {@code thin_check}
 *       requires.
 *   <li>A node that fails its checksum, sits at another block, has a bad header or the wrong value
 *       size is a {@link CorruptBlockException} naming the block and {@code btree_node}.
 * </ul>
 *
 * <p>Not thread-safe for changes (the owner serialises them); lookups may run concurrently with
 * each other.
 */
public final class BTree {
  /** The node validator: {@code btree_node_validator} of {@code dm-btree-spine.c}. */
  public static final BlockValidator NODE_VALIDATOR = new NodeValidator();

  private static final int MAX_DEPTH = 64;

  private final TransactionManager tm;
  private final int levels;
  private final ValueType vt;
  private final ValueType subtreeRefs;

  /** A one-level tree of {@code vt} values. */
  public BTree(TransactionManager tm, ValueType vt) {
    this(tm, 1, vt);
  }

  /** A tree of {@code levels} nested levels whose last level holds {@code vt} values. */
  public BTree(TransactionManager tm, int levels, ValueType vt) {
    if (levels < 1) {
      throw new IllegalArgumentException("levels " + levels + " (expected: >= 1)");
    }
    this.tm = tm;
    this.levels = levels;
    this.vt = vt;
    this.subtreeRefs =
        new ValueType() {
          @Override
          public int size() {
            return 8;
          }

          @Override
          public void inc(ByteBuffer values, int offset) throws IOException {
            tm.inc(values.getLong(offset));
          }
        };
  }

  public int levels() {
    return levels;
  }

  public ValueType valueType() {
    return vt;
  }

  private ValueType typeOf(int level) {
    return level == levels - 1 ? vt : subtreeRefs;
  }

  // ---------------------------------------------------------------------------------------------
  // Reading

  private Node readCopy(long b, int level) throws IOException {
    try (HeldBlock h = tm.readLock(b, NODE_VALIDATOR)) {
      Node n = Node.copyOf(h.data());
      checkValueSize(b, n, level);
      return n;
    }
  }

  private void checkValueSize(long b, Node n, int level) throws CorruptBlockException {
    int want = n.isLeaf() ? typeOf(level).size() : 8;
    if (n.valueSize() != want) {
      throw new CorruptBlockException(
          NODE_VALIDATOR.name(),
          b,
          "value size "
              + n.valueSize()
              + " (expected "
              + want
              + " for a level "
              + level
              + " "
              + (n.isLeaf() ? "leaf" : "internal node")
              + ")");
    }
  }

  /** {@code dm_btree_empty}: a new empty tree (one leaf), returning its root. */
  public long empty() throws IOException {
    long b = tm.allocate();
    tm.write(
        b, NODE_VALIDATOR, Node.empty(tm.blockManager().blockSize(), true, typeOf(0).size()).buf);
    return b;
  }

  /**
   * {@code dm_btree_lookup}: the value under {@code keys} (one per level), or {@code null} when
   * absent.
   */
  public byte[] lookup(long root, long... keys) throws IOException {
    checkKeys(keys);
    long b = root;
    for (int level = 0; level < levels; level++) {
      long k = keys[level];
      for (int depth = 0; ; depth++) {
        checkDepth(b, depth);
        try (HeldBlock h = tm.readLock(b, NODE_VALIDATOR)) {
          Node n = new Node(h.data());
          checkValueSize(b, n, level);
          int i = n.lowerBound(k);
          if (n.isLeaf()) {
            if (i < 0 || n.key(i) != k) {
              return null;
            }
            if (level == levels - 1) {
              return n.value(i);
            }
            b = n.value64(i);
            break;
          }
          if (i < 0) {
            return null;
          }
          b = n.value64(i);
        }
      }
    }
    throw new AssertionError();
  }

  /** A key and its value. */
  public record Entry(long key, byte[] value) {}

  /**
   * {@code dm_btree_lookup_next}: the entry of the last level with the lowest key {@code >=} the
   * last of {@code keys} (the other keys must match exactly), or {@code null}.
   */
  public Entry lookupNext(long root, long... keys) throws IOException {
    checkKeys(keys);
    long b = root;
    for (int level = 0; level < levels - 1; level++) {
      byte[] v = lookupIn(b, level, keys[level]);
      if (v == null) {
        return null;
      }
      b = ValueType.le64(v);
    }
    return lookupNextSingle(b, levels - 1, keys[levels - 1], 0);
  }

  private byte[] lookupIn(long root, int level, long k) throws IOException {
    long b = root;
    for (int depth = 0; ; depth++) {
      checkDepth(b, depth);
      try (HeldBlock h = tm.readLock(b, NODE_VALIDATOR)) {
        Node n = new Node(h.data());
        checkValueSize(b, n, level);
        int i = n.lowerBound(k);
        if (n.isLeaf()) {
          return i < 0 || n.key(i) != k ? null : n.value(i);
        }
        if (i < 0) {
          return null;
        }
        b = n.value64(i);
      }
    }
  }

  private Entry lookupNextSingle(long b, int level, long key, int depth) throws IOException {
    checkDepth(b, depth);
    long c0;
    long c1;
    try (HeldBlock h = tm.readLock(b, NODE_VALIDATOR)) {
      Node n = new Node(h.data());
      checkValueSize(b, n, level);
      int nr = n.nrEntries();
      if (n.isLeaf()) {
        int i = n.upperBound(key);
        return i >= nr ? null : new Entry(n.key(i), n.value(i));
      }
      int i = Math.max(0, n.lowerBound(key));
      if (i >= nr) {
        return null;
      }
      c0 = n.value64(i);
      c1 = i < nr - 1 ? n.value64(i + 1) : -1;
    }
    Entry e = lookupNextSingle(c0, level, key, depth + 1);
    if (e == null && c1 != -1) {
      e = lookupNextSingle(c1, level, key, depth + 1);
    }
    return e;
  }

  /**
   * {@code dm_btree_find_highest_key} of a one-level tree (or of the last level's tree at {@code
   * root}): empty when the tree is.
   */
  public OptionalLong findHighestKey(long root) throws IOException {
    long b = root;
    int level = levels - 1;
    for (int depth = 0; ; depth++) {
      checkDepth(b, depth);
      try (HeldBlock h = tm.readLock(b, NODE_VALIDATOR)) {
        Node n = new Node(h.data());
        int nr = n.nrEntries();
        if (nr == 0) {
          return OptionalLong.empty();
        }
        if (n.isLeaf()) {
          checkValueSize(b, n, level);
          return OptionalLong.of(n.key(nr - 1));
        }
        b = n.value64(nr - 1);
      }
    }
  }

  /** What {@link #walk} calls for each value, in key order. */
  @FunctionalInterface
  public interface Visitor {
    void visit(long[] keys, byte[] value) throws IOException;
  }

  /** {@code dm_btree_walk}: every value, in key order, with its keys (one per level). */
  public void walk(long root, Visitor visitor) throws IOException {
    walk(root, 0, new long[levels], visitor, 0);
  }

  private void walk(long b, int level, long[] keys, Visitor visitor, int depth) throws IOException {
    checkDepth(b, depth);
    Node n = readCopy(b, level);
    for (int i = 0; i < n.nrEntries(); i++) {
      if (!n.isLeaf()) {
        walk(n.value64(i), level, keys, visitor, depth + 1);
      } else if (level < levels - 1) {
        keys[level] = n.key(i);
        walk(n.value64(i), level + 1, keys, visitor, 0);
      } else {
        keys[level] = n.key(i);
        visitor.visit(keys.clone(), n.value(i));
      }
    }
  }

  private static void checkDepth(long b, int depth) throws CorruptBlockException {
    if (depth > MAX_DEPTH) {
      throw new CorruptBlockException(
          NODE_VALIDATOR.name(), b, "tree deeper than " + MAX_DEPTH + " nodes (a cycle?)");
    }
  }

  private void checkKeys(long[] keys) {
    if (keys.length != levels) {
      throw new IllegalArgumentException(
          keys.length + " keys for a tree of " + levels + " levels (expected: one per level)");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Changing

  /** The nodes one change has shadowed, written when it is done. */
  private final class Op {
    final Map<Long, Node> pending = new LinkedHashMap<>();

    Node load(long b, int level) throws IOException {
      Node n = pending.get(b);
      return n != null ? n : readCopy(b, level);
    }

    /** {@code shadow_step}: where {@code b} now lives; its node is {@code pending.get(result)}. */
    long shadow(long b, int level, ValueType lvt) throws IOException {
      Node n = pending.remove(b);
      if (n == null) {
        n = readCopy(b, level);
      }
      TransactionManager.Shadow s = tm.shadow(b);
      if (s.incChildren()) {
        incChildren(n, lvt);
      }
      pending.put(s.block(), n);
      return s.block();
    }

    long newNode(Node n) throws IOException {
      long b = tm.allocate();
      pending.put(b, n);
      return b;
    }

    /** Drops a reference to {@code b}, forgetting its pending write when that was the last. */
    void dec(long b) throws IOException {
      if (!tm.isShared(b)) {
        pending.remove(b);
      }
      tm.dec(b);
    }

    void flush() throws IOException {
      for (Map.Entry<Long, Node> e : pending.entrySet()) {
        tm.write(e.getKey(), NODE_VALIDATOR, e.getValue().buf);
      }
      pending.clear();
    }
  }

  private void incChildren(Node n, ValueType lvt) throws IOException {
    int nr = n.nrEntries();
    if (!n.isLeaf()) {
      for (int i = 0; i < nr; i++) {
        tm.inc(n.value64(i));
      }
    } else {
      for (int i = 0; i < nr; i++) {
        lvt.inc(n.buf, n.valueOffset(i));
      }
    }
  }

  /** Where a step left off: the (shadowed) node, its block, and an index in it. */
  private record Pos(long rootBlock, long block, Node node, int index) {}

  /** The result of {@link #insert}: the new root and whether the key was new. */
  public record Inserted(long root, boolean inserted) {}

  /** {@link #insert(long, long[], byte[])} into a one-level tree, returning the new root. */
  public long insert(long root, long key, byte[] value) throws IOException {
    return insert(root, new long[] {key}, value).root();
  }

  /**
   * {@code dm_btree_insert_notify}: puts {@code value} under {@code keys}, creating the nested
   * trees on the way if missing. An existing value is overwritten, and dropped ({@link
   * ValueType#dec}) unless {@link ValueType#equal} to the new one.
   */
  public Inserted insert(long root, long[] keys, byte[] value) throws IOException {
    checkKeys(keys);
    if (value.length != vt.size()) {
      throw new IllegalArgumentException(
          "value of " + value.length + " bytes (expected: " + vt.size() + ")");
    }
    Op op = new Op();
    Node parent = null;
    int parentIndex = -1;
    long b = root;
    long newRoot = -1;
    for (int level = 0; ; level++) {
      long k = keys[level];
      Pos p = insertRaw(op, b, level, k, parent, parentIndex);
      if (level == 0) {
        newRoot = p.rootBlock();
      }
      Node n = p.node();
      int i = p.index();
      boolean need = i >= n.nrEntries() || n.key(i) != k;
      if (level == levels - 1) {
        if (need) {
          n.insertAt(i, k, value);
        } else {
          if (vt.hasDec() && !vt.equal(n.buf, n.valueOffset(i), value)) {
            vt.dec(n.buf, n.valueOffset(i));
          }
          n.setValue(i, value);
        }
        op.flush();
        return new Inserted(newRoot, need);
      }
      if (need) {
        long sub =
            op.newNode(Node.empty(tm.blockManager().blockSize(), true, typeOf(level + 1).size()));
        n.insertAt(i, k, ValueType.le64(sub));
      }
      parent = n;
      parentIndex = i;
      b = n.value64(i);
    }
  }

  /** {@code btree_insert_raw}: shadows (and splits) down to the leaf where {@code key} goes. */
  private Pos insertRaw(Op op, long root, int level, long key, Node parent, int parentIndex)
      throws IOException {
    ValueType lvt = typeOf(level);
    long b = root;
    Node pn = parent;
    int pi = parentIndex;
    long rootBlock = -1;
    boolean top = true;
    for (int depth = 0; ; depth++) {
      checkDepth(b, depth);
      long nb = op.shadow(b, level, lvt);
      Node n = op.pending.get(nb);
      if (top) {
        rootBlock = nb;
      }
      if (pn != null && pi >= 0) {
        pn.setValue64(pi, nb);
      }
      if (!hasSpaceForInsert(n, key)) {
        if (top) {
          splitBeneath(op, n);
        } else {
          long right = splitSibling(op, pn, pi, n);
          Node rn = op.pending.get(right);
          if (Long.compareUnsigned(key, rn.key(0)) >= 0) {
            n = rn;
            nb = right;
            pi++;
          }
        }
      }
      int i = n.lowerBound(key);
      if (n.isLeaf()) {
        if (i < 0 || n.key(i) != key) {
          i++;
        }
        return new Pos(rootBlock, nb, n, i);
      }
      if (i < 0) {
        n.setKey(0, key);
        i = 0;
      }
      pn = n;
      pi = i;
      b = n.value64(i);
      top = false;
    }
  }

  private static boolean hasSpaceForInsert(Node n, long key) {
    if (!n.full()) {
      return true;
    }
    if (n.isLeaf()) {
      int i = n.lowerBound(key);
      return i >= 0 && n.key(i) == key;
    }
    return false;
  }

  /** {@code btree_split_beneath}: the full root's entries move to two new children. */
  private void splitBeneath(Op op, Node pn) throws IOException {
    int nr = pn.nrEntries();
    int nrLeft = nr / 2;
    int nrRight = nr - nrLeft;
    int bs = tm.blockManager().blockSize();
    Node ln = Node.empty(bs, pn.isLeaf(), pn.valueSize());
    ln.copyEntries(0, pn, 0, nrLeft);
    ln.setNrEntries(nrLeft);
    Node rn = Node.empty(bs, pn.isLeaf(), pn.valueSize());
    rn.copyEntries(0, pn, nrLeft, nrRight);
    rn.setNrEntries(nrRight);
    long left = op.newNode(ln);
    long right = op.newNode(rn);
    Node fresh = Node.empty(bs, false, 8);
    pn.buf.put(0, fresh.buf, 0, bs);
    pn.insertAt(0, ln.key(0), ValueType.le64(left));
    pn.insertAt(1, rn.key(0), ValueType.le64(right));
  }

  /**
   * Splits full non-root node {@code ln} (child {@code pi} of {@code pn}) in two halves, the new
   * right one inserted in the parent after it; returns the right node's block.
   */
  private long splitSibling(Op op, Node pn, int pi, Node ln) throws IOException {
    int nr = ln.nrEntries();
    int nrLeft = nr / 2;
    int nrRight = nr - nrLeft;
    Node rn = Node.empty(tm.blockManager().blockSize(), ln.isLeaf(), ln.valueSize());
    rn.copyEntries(0, ln, nrLeft, nrRight);
    rn.setNrEntries(nrRight);
    ln.setNrEntries(nrLeft);
    long right = op.newNode(rn);
    pn.insertAt(pi + 1, rn.key(0), ValueType.le64(right));
    return right;
  }

  /** {@link #remove(long, long...)} of one key from a one-level tree. */
  public long remove(long root, long key) throws IOException {
    return remove(root, new long[] {key});
  }

  /**
   * {@code dm_btree_remove}: drops the value under {@code keys} ({@link ValueType#dec}) and returns
   * the new root; returns {@code root} unchanged, changing nothing, when there is none. Nested
   * trees emptied on the way are kept, as the kernel keeps them.
   */
  public long remove(long root, long... keys) throws IOException {
    checkKeys(keys);
    if (lookup(root, keys) == null) {
      return root;
    }
    Op op = new Op();
    Node parent = null;
    int parentIndex = -1;
    long b = root;
    long newRoot = -1;
    for (int level = 0; ; level++) {
      Pos p = removeRaw(op, b, level, keys[level], parent, parentIndex);
      if (level == 0) {
        newRoot = p.rootBlock();
      }
      Node n = p.node();
      int i = p.index();
      if (i < 0 || i >= n.nrEntries() || n.key(i) != keys[level]) {
        throw new CorruptBlockException(
            NODE_VALIDATOR.name(),
            p.block(),
            "key " + Long.toUnsignedString(keys[level]) + " found by lookup but not by remove");
      }
      if (level < levels - 1) {
        parent = n;
        parentIndex = i;
        b = n.value64(i);
        continue;
      }
      if (vt.hasDec()) {
        vt.dec(n.buf, n.valueOffset(i));
      }
      n.deleteAt(i);
      op.flush();
      return newRoot;
    }
  }

  /** {@code remove_raw}: shadows down to the leaf holding {@code key}, rebalancing on the way. */
  private Pos removeRaw(Op op, long root, int level, long key, Node parent, int parentIndex)
      throws IOException {
    ValueType lvt = typeOf(level);
    long b = root;
    Node pn = parent;
    int pi = parentIndex;
    long rootBlock = -1;
    for (int depth = 0; ; depth++) {
      checkDepth(b, depth);
      long nb = op.shadow(b, level, lvt);
      Node n = op.pending.get(nb);
      if (depth == 0) {
        rootBlock = nb;
      }
      if (pn != null) {
        pn.setValue64(pi, nb);
      }
      // The kernel rebalances once per node; after the root collapses into an internal child we
      // rebalance again, so that the grandchild we descend into is never left below a third full.
      while (!n.isLeaf() && rebalanceChildren(op, n, level, lvt, key)) {
        // collapsed: the root now holds its only child's entries
      }
      int i = n.lowerBound(key);
      if (n.isLeaf()) {
        return new Pos(rootBlock, nb, n, i);
      }
      if (i < 0) {
        return new Pos(rootBlock, nb, n, -1);
      }
      pn = n;
      pi = i;
      b = n.value64(i);
    }
  }

  private record Child(int index, long block, Node node) {}

  private Child initChild(Op op, Node parent, int index, int level, ValueType lvt)
      throws IOException {
    long nb = op.shadow(parent.value64(index), level, lvt);
    parent.setValue64(index, nb);
    return new Child(index, nb, op.pending.get(nb));
  }

  /** Returns whether {@code n} (the root) collapsed into its only child. */
  private boolean rebalanceChildren(Op op, Node n, int level, ValueType lvt, long key)
      throws IOException {
    if (n.nrEntries() == 1) {
      long b = n.value64(0);
      boolean shared = tm.isShared(b);
      Node child = op.load(b, level);
      if (shared) {
        incChildren(child, lvt);
      }
      n.buf.put(0, child.buf, 0, n.buf.capacity());
      op.dec(b);
      return true;
    }
    int i = n.lowerBound(key);
    if (i < 0) {
      return false;
    }
    boolean hasLeft = i > 0;
    boolean hasRight = i < n.nrEntries() - 1;
    if (!hasLeft) {
      rebalance2(op, n, initChild(op, n, i, level, lvt), initChild(op, n, i + 1, level, lvt));
    } else if (!hasRight) {
      rebalance2(op, n, initChild(op, n, i - 1, level, lvt), initChild(op, n, i, level, lvt));
    } else {
      rebalance3(
          op,
          n,
          initChild(op, n, i - 1, level, lvt),
          initChild(op, n, i, level, lvt),
          initChild(op, n, i + 1, level, lvt));
    }
    return false;
  }

  private static int mergeThreshold(Node n) {
    return n.maxEntries() / 3;
  }

  /** Moves {@code count} entries from the end of left to the front of right (negative: back). */
  private static void shift(Node left, Node right, int count) {
    int nl = left.nrEntries();
    int nr = right.nrEntries();
    if (count == 0) {
      return;
    }
    if (count > 0) {
      right.shift(count);
      right.copyEntries(0, left, nl - count, count);
    } else {
      left.copyEntries(nl, right, 0, -count);
      right.shift(count);
    }
    left.setNrEntries(nl - count);
    right.setNrEntries(nr + count);
  }

  private void rebalance2(Op op, Node parent, Child l, Child r) throws IOException {
    Node left = l.node();
    Node right = r.node();
    int nl = left.nrEntries();
    int nr = right.nrEntries();
    int threshold = 2 * (mergeThreshold(left) + 1);
    if (nl + nr < threshold) {
      left.copyEntries(nl, right, 0, nr);
      left.setNrEntries(nl + nr);
      parent.deleteAt(r.index());
      op.dec(r.block());
    } else {
      int targetLeft = (nl + nr) / 2;
      shift(left, right, nl - targetLeft);
      parent.setKey(r.index(), right.key(0));
    }
  }

  private void rebalance3(Op op, Node parent, Child l, Child c, Child r) throws IOException {
    Node left = l.node();
    Node center = c.node();
    Node right = r.node();
    int nl = left.nrEntries();
    int nc = center.nrEntries();
    int nr = right.nrEntries();
    int threshold = mergeThreshold(left) * 4 + 1;
    if (nl + nc + nr < threshold) {
      // delete_center_node
      int max = left.maxEntries();
      int s = Math.min(max - nl, nc);
      left.copyEntries(nl, center, 0, s);
      left.setNrEntries(nl + s);
      if (s != nc) {
        int rest = nc - s;
        right.shift(rest);
        right.copyEntries(0, center, s, rest);
        right.setNrEntries(nr + rest);
      }
      parent.deleteAt(c.index());
      op.dec(c.block());
      rebalance2(op, parent, l, new Child(r.index() - 1, r.block(), right));
      return;
    }
    // redistribute3
    int total = nl + nc + nr;
    int targetRight = total / 3;
    int remainder = targetRight * 3 != total ? 1 : 0;
    int targetLeft = targetRight + remainder;
    if (nl < nr) {
      int s = nl - targetLeft;
      if (s < 0 && nc < -s) {
        shift(left, center, -nc);
        s += nc;
        shift(left, right, s);
        nr += s;
      } else {
        shift(left, center, s);
      }
      shift(center, right, targetRight - nr);
    } else {
      int s = targetRight - nr;
      if (s > 0 && nc < s) {
        shift(center, right, nc);
        s -= nc;
        shift(left, right, s);
        nl -= s;
      } else {
        shift(center, right, s);
      }
      shift(left, center, nl - targetLeft);
    }
    parent.setKey(c.index(), center.key(0));
    parent.setKey(r.index(), right.key(0));
  }

  /**
   * {@code dm_btree_del}: drops the tree's reference to its root; a node whose count falls to zero
   * drops its children (and, in the last level's leaves, its values' references).
   */
  public void del(long root) throws IOException {
    del(root, 0, 0);
  }

  private void del(long b, int level, int depth) throws IOException {
    checkDepth(b, depth);
    if (tm.isShared(b)) {
      tm.dec(b);
      return;
    }
    Node n = readCopy(b, level);
    int nr = n.nrEntries();
    if (!n.isLeaf()) {
      for (int i = 0; i < nr; i++) {
        del(n.value64(i), level, depth + 1);
      }
    } else if (level < levels - 1) {
      for (int i = 0; i < nr; i++) {
        del(n.value64(i), level + 1, 0);
      }
    } else if (vt.hasDec()) {
      for (int i = 0; i < nr; i++) {
        vt.dec(n.buf, n.valueOffset(i));
      }
    }
    tm.dec(b);
  }

  // ---------------------------------------------------------------------------------------------

  /** {@code btree_node_validator}: the shared header check plus the node header's own rules. */
  private static final class NodeValidator implements BlockValidator {
    private final ChecksumValidator header =
        ChecksumValidator.of("btree_node", BlockChecksum.BTREE_NODE_XOR, 8);

    @Override
    public String name() {
      return "btree_node";
    }

    @Override
    public void prepareForWrite(ByteBuffer block, long blockNr) {
      header.prepareForWrite(block, blockNr);
    }

    @Override
    public void check(ByteBuffer block, long blockNr) throws CorruptBlockException {
      header.check(block, blockNr);
      Node n = new Node(block);
      int flags = n.flags();
      if (flags != Node.INTERNAL && flags != Node.LEAF) {
        throw new CorruptBlockException(
            name(),
            blockNr,
            "bad flags " + flags + " (expected 1 for an internal node or 2 for a leaf)");
      }
      long vs = n.valueSize() & 0xFFFFFFFFL;
      long max = n.maxEntries() & 0xFFFFFFFFL;
      if (vs == 0 || Node.HEADER_SIZE + (8 + vs) * max > block.capacity()) {
        throw new CorruptBlockException(
            name(),
            blockNr,
            "max_entries "
                + max
                + " of value size "
                + vs
                + " does not fit a block of "
                + block.capacity()
                + " bytes");
      }
      long nr = n.nrEntries() & 0xFFFFFFFFL;
      if (nr > max) {
        throw new CorruptBlockException(
            name(), blockNr, "nr_entries " + nr + " is above max_entries " + max);
      }
    }
  }
}
