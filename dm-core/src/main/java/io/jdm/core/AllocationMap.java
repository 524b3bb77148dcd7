package io.jdm.core;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Optional capability of a {@link BlockDevice} or a {@link Target}: which sectors hold data and
 * which are holes, as {@code lseek(SEEK_DATA/SEEK_HOLE)} tells for a file and NBD's {@code
 * base:allocation} metadata context tells a client. The answer is a hint taken at one moment:
 * concurrent writes and discards may change it at once.
 *
 * <p>Implementations must:
 *
 * <ul>
 *   <li>return at least one extent for a non-empty range, contiguous from {@code sector}, none
 *       empty, together covering at most {@code sectors} (a prefix is allowed: the caller asks
 *       again from where the answer ends);
 *   <li>set {@link Extent#ZERO} only where the sectors read as zeros, and {@link Extent#HOLE} only
 *       where nothing is allocated; when in doubt, report an extent as allocated data (flags 0);
 *   <li>not block on I/O for long: callers (the NBD server's reader thread) ask synchronously.
 * </ul>
 *
 * <p>A device that does not implement this interface is all data: {@link #extents(BlockDevice,
 * long, long)} reports it as one allocated extent. A {@link Target} that implements it is asked in
 * sectors of the mapped device (as {@link Target#map} sees them), within its own range.
 */
public interface AllocationMap {

  /**
   * One run of sectors with the same state.
   *
   * @param sectors the length, at least 1
   * @param flags {@link #HOLE} and/or {@link #ZERO} (the bits of NBD's {@code NBD_STATE_HOLE} and
   *     {@code NBD_STATE_ZERO})
   */
  record Extent(long sectors, int flags) {
    /** Not allocated: writing there may need space. */
    public static final int HOLE = 1;

    /** Reads as zeros. */
    public static final int ZERO = 2;

    public Extent {
      if (sectors < 1 || (flags & ~(HOLE | ZERO)) != 0) {
        throw new IllegalArgumentException(
            "extent of " + sectors + " sectors, flags " + flags + " (expected: >= 1, HOLE|ZERO)");
      }
    }

    /** Allocated data of {@code sectors} sectors. */
    public static Extent data(long sectors) {
      return new Extent(sectors, 0);
    }

    /** A hole reading as zeros. */
    public static Extent hole(long sectors) {
      return new Extent(sectors, HOLE | ZERO);
    }
  }

  /**
   * The state of {@code [sector, sector + sectors)} from {@code sector} on, as the contract above
   * says.
   *
   * @throws IOException if the state cannot be read (the caller may report the range as data)
   */
  List<Extent> extents(long sector, long sectors) throws IOException;

  /**
   * {@code device}'s extents when it implements this interface, else one data extent of {@code
   * sectors}. {@code sectors} is clipped to the device's end; an empty range gives an empty list.
   */
  static List<Extent> extents(BlockDevice device, long sector, long sectors) throws IOException {
    long n = Math.min(sectors, device.sectors() - sector);
    if (n <= 0) {
      return List.of();
    }
    if (device instanceof AllocationMap) {
      List<Extent> e = ((AllocationMap) device).extents(sector, n);
      if (!e.isEmpty()) {
        return e;
      }
    }
    return List.of(Extent.data(n));
  }

  /**
   * Adds {@code e} to {@code out}, merged into the last extent when the flags are the same (for
   * implementations that build their answer piece by piece).
   */
  static void append(List<Extent> out, Extent e) {
    int last = out.size() - 1;
    if (last >= 0 && out.get(last).flags() == e.flags()) {
      out.set(last, new Extent(out.get(last).sectors() + e.sectors(), e.flags()));
    } else {
      out.add(e);
    }
  }

  /** {@code extents} cut to at most {@code sectors} in total (a new list). */
  static List<Extent> clip(List<Extent> extents, long sectors) {
    List<Extent> out = new ArrayList<>();
    long left = sectors;
    for (Extent e : extents) {
      if (left <= 0) {
        break;
      }
      long n = Math.min(left, e.sectors());
      out.add(n == e.sectors() ? e : new Extent(n, e.flags()));
      left -= n;
    }
    return out;
  }
}
