package io.jdm.targets.snapshot;

import io.jdm.core.ArgSet;
import io.jdm.core.DmDev;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;

/**
 * {@code snapshot <origin> <COW> <P|PO|N> <chunk> [<#features> discard_zeroes_cow
 * [discard_passdown_origin]]} v1.16.0 ({@code drivers/md/dm-snap.c}): the origin as it was when the
 * snapshot was made, plus the snapshot's own writes, with the changed chunks kept on the COW
 * device.
 *
 * <ul>
 *   <li>{@code P}: persistent store in the kernel's format ({@link PersistentStore}); {@code PO}:
 *       the same, and a full store reports {@code Overflow} instead of invalidating the snapshot;
 *       {@code N}: transient (exceptions in memory). Case is ignored, as in the kernel.
 *   <li>chunk: sectors, a power of two and a multiple of both devices' logical block sizes; 0 takes
 *       it from an existing store's header, or 32 for a new persistent one (a transient store
 *       refuses 0). A persistent store's header overrides the table.
 *   <li>features: {@code discard_zeroes_cow} (discards of whole chunks with an exception zero them
 *       on the COW), {@code discard_passdown_origin} (discards also go to the origin; needs the
 *       first).
 * </ul>
 *
 * <p>Errors carry the kernel's {@code ti->error} text; where the kernel replaces an inner reason
 * with "Couldn't create exception store", jdm appends the inner reason after a colon.
 */
public final class SnapshotTargetType implements TargetType {
  private static final TargetVersion VERSION = TargetVersion.of(1, 16, 0);

  /** Creates the type; instances are found through {@link java.util.ServiceLoader}. */
  public SnapshotTargetType() {}

  @Override
  public String name() {
    return "snapshot";
  }

  @Override
  public TargetVersion version() {
    return VERSION;
  }

  @Override
  public Target create(TargetContext ctx, long begin, long length, String[] args) {
    return construct(ctx, begin, length, args, false);
  }

  /** {@code snapshot_ctr}, for {@code snapshot} and {@code snapshot-merge}. */
  static Snapshot construct(
      TargetContext ctx, long begin, long length, String[] args, boolean merge) {
    if (args.length < 4) {
      throw new TargetException("requires 4 or more arguments");
    }
    ArgSet as = new ArgSet(args);
    as.consume(4);
    boolean zeroesCow = false;
    boolean passdown = false;
    if (as.hasNext()) {
      int n = as.readArgGroup(0, 2, "Invalid number of feature arguments");
      for (int i = 0; i < n; i++) {
        String f = as.next();
        if (ArgSet.equalsIgnoreCase(f, "discard_zeroes_cow")) {
          zeroesCow = true;
        } else if (ArgSet.equalsIgnoreCase(f, "discard_passdown_origin")) {
          passdown = true;
        } else {
          throw new TargetException("Unrecognised feature requested");
        }
      }
      if (!zeroesCow && passdown) {
        throw new TargetException("discard_passdown_origin feature depends on discard_zeroes_cow");
      }
    }
    DmDev origin = ctx.getDevice(args[0], "Cannot get origin device");
    DmDev cow = ctx.getDevice(args[1], "Cannot get COW device");
    if (cow.number().equals(origin.number())) {
      throw new TargetException("COW device cannot be the same as origin device");
    }
    ExceptionStore store = createStore(ctx, args[2], args[3], cow, origin);
    if (merge && !store.supportsMerge()) {
      throw new TargetException("Snapshot exception store does not support snapshot-merge.");
    }
    Snapshot s = new Snapshot(ctx, merge, begin, length, origin, cow, store, zeroesCow, passdown);
    s.load();
    return s;
  }

  /** {@code dm_exception_store_create}. */
  private static ExceptionStore createStore(
      TargetContext ctx, String type, String chunk, DmDev cow, DmDev origin) {
    try {
      char t = type.isEmpty() ? 0 : Character.toUpperCase(type.charAt(0));
      ExceptionStore store;
      if (t == 'P') {
        store = new PersistentStore(cow.bdev(), origin.bdev(), ctx.logger());
      } else if (t == 'N') {
        store = new TransientStore(cow.bdev(), origin.bdev());
      } else {
        throw new TargetException("Exception store type is not P or N");
      }
      long size = ArgSet.parseUint(chunk, "Invalid chunk size");
      if (size != 0) {
        store.setChunkSize(size);
      }
      if (store instanceof PersistentStore) {
        ((PersistentStore) store).options(type.length() > 1 ? type.substring(1) : null);
      }
      return store;
    } catch (TargetException e) {
      throw new TargetException("Couldn't create exception store: " + e.getMessage(), e);
    }
  }
}
