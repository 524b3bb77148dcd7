package io.jdm.core;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link AllocationMap} of a mapped device: each table entry the range crosses is asked when its
 * target implements {@link AllocationMap}, and counts as data otherwise (a target that cannot say,
 * such as one that transforms data, must not pass on its devices' holes).
 */
final class TableAllocation {
  private TableAllocation() {}

  /** At most this many table entries are asked per call; the caller asks again for the rest. */
  private static final int MAX_ENTRIES = 64;

  static List<AllocationMap.Extent> extents(Table t, long sector, long sectors) throws IOException {
    long end = Math.min(sector + sectors, t.size());
    List<AllocationMap.Extent> out = new ArrayList<>();
    long s = sector;
    for (int asked = 0; s < end && asked < MAX_ENTRIES; asked++) {
      int idx = t.find(s);
      long n = Math.min(end, t.begin(idx) + t.length(idx)) - s;
      Target target = t.target(idx);
      List<AllocationMap.Extent> part =
          target instanceof AllocationMap
              ? AllocationMap.clip(((AllocationMap) target).extents(s, n), n)
              : List.of();
      if (part.isEmpty()) {
        part = List.of(AllocationMap.Extent.data(n));
      }
      long got = 0;
      for (AllocationMap.Extent e : part) {
        AllocationMap.append(out, e);
        got += e.sectors();
      }
      s += got;
      if (got < n) {
        break; // the target answered a prefix: stop where it did
      }
    }
    return out;
  }
}
