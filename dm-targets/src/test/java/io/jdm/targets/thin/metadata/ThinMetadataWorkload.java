package io.jdm.targets.thin.metadata;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.Errno;
import io.jdm.targets.thin.PoolMetadata;
import io.jdm.targets.thin.PoolMetadataException;
import io.jdm.targets.thin.ThinDeviceMetadata;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * A seeded random workload on pool metadata (thin devices, snapshots, deletes, inserts, removes,
 * commits, aborts) kept next to a reference model: thin id to (virtual block to data block).
 */
final class ThinMetadataWorkload {
  final PoolMetadata pmd;
  final Random rnd;
  final long seed;
  final int virtualBlocks;

  /** The current transaction. */
  Map<Long, TreeMap<Long, Long>> model = new TreeMap<>();

  /** The last committed transaction. */
  Map<Long, TreeMap<Long, Long>> committed = new TreeMap<>();

  final Map<Long, ThinDeviceMetadata> open = new HashMap<>();
  long nextId = 1;
  boolean held;

  ThinMetadataWorkload(PoolMetadata pmd, long seed, int virtualBlocks) {
    this.pmd = pmd;
    this.seed = seed;
    this.rnd = new Random(seed);
    this.virtualBlocks = virtualBlocks;
  }

  static Map<Long, TreeMap<Long, Long>> copy(Map<Long, TreeMap<Long, Long>> m) {
    Map<Long, TreeMap<Long, Long>> c = new TreeMap<>();
    m.forEach((k, v) -> c.put(k, new TreeMap<>(v)));
    return c;
  }

  ThinDeviceMetadata td(long id) throws IOException {
    ThinDeviceMetadata t = open.get(id);
    if (t == null) {
      t = pmd.openThin(id);
      open.put(id, t);
    }
    return t;
  }

  long randomDevice() {
    List<Long> ids = new ArrayList<>(model.keySet());
    return ids.get(rnd.nextInt(ids.size()));
  }

  void createThin() throws IOException {
    long id = nextId++;
    pmd.createThin(id);
    model.put(id, new TreeMap<>());
  }

  void createSnap() throws IOException {
    long origin = randomDevice();
    long id = nextId++;
    pmd.createSnap(id, origin);
    model.put(id, new TreeMap<>(model.get(origin)));
  }

  void delete() throws IOException {
    long id = randomDevice();
    ThinDeviceMetadata t = open.remove(id);
    if (t != null) {
      t.close();
    }
    pmd.deleteThin(id);
    model.remove(id);
  }

  /** Maps a random block of a random device to a new data block; false when the pool is full. */
  boolean insert() throws IOException {
    long id = randomDevice();
    long v = rnd.nextInt(virtualBlocks);
    long data;
    try {
      data = pmd.allocDataBlock();
    } catch (PoolMetadataException e) {
      assertThat(e.errno()).isEqualTo(Errno.ENOSPC);
      return false;
    }
    td(id).insertBlock(v, data);
    model.get(id).put(v, data);
    return true;
  }

  void removeRange() throws IOException {
    long id = randomDevice();
    long b = rnd.nextInt(virtualBlocks);
    long e = b + 1 + rnd.nextInt(rnd.nextBoolean() ? 4 : 200);
    td(id).removeRange(b, e);
    model.get(id).subMap(b, e).clear();
  }

  void commit(long transaction) throws IOException {
    pmd.setTransactionId(pmd.transactionId(), transaction);
    pmd.commit();
    committed = copy(model);
  }

  void abort() throws IOException {
    closeAll();
    pmd.abort();
    model = copy(committed);
  }

  void closeAll() {
    open.values().forEach(ThinDeviceMetadata::close);
    open.clear();
  }

  /** One random change. */
  void step() throws IOException {
    int r = rnd.nextInt(1000);
    if (model.isEmpty() || (r < 8 && model.size() < 24)) {
      createThin();
    } else if (r < 16 && model.size() < 24) {
      createSnap();
    } else if (r < 22 && model.size() > 2) {
      delete();
    } else if (r < 800) {
      insert();
    } else {
      removeRange();
    }
  }

  /** Every mapping of every device in the model, read through the public contract. */
  static Map<Long, TreeMap<Long, Long>> read(PoolMetadata pmd, Iterable<Long> ids)
      throws IOException {
    Map<Long, TreeMap<Long, Long>> seen = new TreeMap<>();
    for (long id : ids) {
      TreeMap<Long, Long> m = new TreeMap<>();
      try (ThinDeviceMetadata t = pmd.openThin(id)) {
        long b = 0;
        ThinDeviceMetadata.MappedRange r;
        while ((r = t.findMappedRange(b, Long.MAX_VALUE)) != null) {
          for (long v = r.thinBegin(); v < r.thinEnd(); v++) {
            m.put(v, r.poolBegin() + (v - r.thinBegin()));
          }
          b = r.thinEnd();
        }
        assertThat(t.mappedCount()).as("mapped count of thin %d", id).isEqualTo(m.size());
        assertThat(t.highestMappedBlock()).isEqualTo(m.isEmpty() ? -1 : m.lastKey());
      }
      seen.put(id, m);
    }
    return seen;
  }

  /**
   * The metadata holds the model. (Data reference counts follow the B-tree leaves that hold them,
   * not the devices: a snapshot raises only its origin's root, and a leaf's data blocks are raised
   * when it is first copied. {@code thin_check} checks them in the interop tests.)
   */
  void check() throws IOException {
    closeAll();
    assertThat(read(pmd, model.keySet())).as("mappings, seed %d", seed).isEqualTo(model);
    java.util.Set<Long> used = new java.util.HashSet<>();
    model.values().forEach(m -> used.addAll(m.values()));
    assertThat(pmd.freeDataBlocks()).isLessThanOrEqualTo(pmd.dataBlocks() - used.size());
  }
}
