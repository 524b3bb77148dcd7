package io.jdm.targets.snapshot;

import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;

/**
 * {@code snapshot-merge <origin> <COW> <P|PO> <chunk> [features]} v1.5.0 ({@code
 * drivers/md/dm-snap.c}): put in place of the origin, it copies a persistent snapshot's exceptions
 * back onto the origin, newest first in runs of consecutive chunks, and serves the merged view
 * meanwhile: a chunk still to merge is read from the COW, and writes to chunks being copied wait.
 * Status shows progress ({@code <allocated>/<total> <metadata>}; done when allocated equals
 * metadata) or {@code Merge failed}. It takes the exceptions over from a live {@code snapshot} of
 * the same COW device at resume; a merge interrupted by a reload or a crash goes on from the store.
 */
public final class SnapshotMergeTargetType implements TargetType {
  private static final TargetVersion VERSION = TargetVersion.of(1, 5, 0);

  /** Creates the type; instances are found through {@link java.util.ServiceLoader}. */
  public SnapshotMergeTargetType() {}

  @Override
  public String name() {
    return "snapshot-merge";
  }

  @Override
  public TargetVersion version() {
    return VERSION;
  }

  @Override
  public Target create(TargetContext ctx, long begin, long length, String[] args) {
    return SnapshotTargetType.construct(ctx, begin, length, args, true);
  }
}
