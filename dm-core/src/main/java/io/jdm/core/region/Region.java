package io.jdm.core.region;

import io.jdm.core.Bio;
import java.util.ArrayList;
import java.util.List;

/**
 * One region a {@link RegionHash} is tracking, the kernel's {@code struct dm_region}: what {@link
 * RegionHash#recoveryStart()} hands out for recovery and {@link RegionHash#recoveryEnd} takes back.
 * Its fields are guarded by the hash's lock; only {@link #key()} and {@link #regionHash()} are for
 * callers.
 */
public final class Region {
  final RegionHash hash;
  final long key;
  RegionHash.State state;
  int pending;
  private List<Bio> delayed;

  /** Next in the hash bucket. */
  Region hashNext;

  /** Neighbours on one of the hash's lists; both point here when on none ({@code list_empty}). */
  Region prev = this;

  Region next = this;

  Region(RegionHash hash, long key, RegionHash.State state) {
    this.hash = hash;
    this.key = key;
    this.state = state;
  }

  /** The region's number ({@code dm_rh_get_region_key}). */
  public long key() {
    return key;
  }

  /** The hash it belongs to ({@code dm_rh_region_context} gives the hash's owner). */
  public RegionHash regionHash() {
    return hash;
  }

  boolean onList() {
    return next != this;
  }

  /** {@code list_del_init}. */
  void unlink() {
    prev.next = next;
    next.prev = prev;
    prev = this;
    next = this;
  }

  void delay(Bio bio) {
    if (delayed == null) {
      delayed = new ArrayList<>(4);
    }
    delayed.add(bio);
  }

  /** The delayed bios, now no longer held here ({@code bio_list} handed to dispatch). */
  List<Bio> takeDelayed() {
    List<Bio> d = delayed;
    delayed = null;
    return d == null ? List.of() : d;
  }

  @Override
  public String toString() {
    return "Region[" + key + " " + state + ", " + pending + " pending]";
  }

  /** An intrusive circular list of regions with a sentinel ({@code struct list_head}). */
  static final class RegionList {
    private final Region head = new Region(null, -1, null);

    boolean isEmpty() {
      return head.next == head;
    }

    /** {@code list_add}: at the front. */
    void addHead(Region r) {
      insert(r, head, head.next);
    }

    /** {@code list_add_tail}: at the back. */
    void addTail(Region r) {
      insert(r, head.prev, head);
    }

    private static void insert(Region r, Region prev, Region next) {
      if (r.onList()) {
        throw new IllegalStateException(r + " is already on a list");
      }
      r.prev = prev;
      r.next = next;
      prev.next = r;
      next.prev = r;
    }

    /** Takes the first region off the list, or returns {@code null}. */
    Region poll() {
      Region r = head.next;
      if (r == head) {
        return null;
      }
      r.unlink();
      return r;
    }
  }
}
