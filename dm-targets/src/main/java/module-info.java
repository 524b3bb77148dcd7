/**
 * Targets beyond the kernel's dm-mod: the testing targets {@code delay}, {@code flakey}, {@code
 * dust}, {@code log-writes}, and {@code unstriped}, {@code switch}, and the snapshot targets {@code
 * snapshot-origin}, {@code snapshot}, {@code snapshot-merge}.
 */
module io.jdm.targets {
  requires transitive io.jdm.core;

  exports io.jdm.targets;
  exports io.jdm.targets.snapshot;

  provides io.jdm.core.TargetType with
      io.jdm.targets.DelayTargetType,
      io.jdm.targets.FlakeyTargetType,
      io.jdm.targets.DustTargetType,
      io.jdm.targets.LogWritesTargetType,
      io.jdm.targets.UnstripedTargetType,
      io.jdm.targets.SwitchTargetType,
      io.jdm.targets.snapshot.SnapshotOriginTargetType,
      io.jdm.targets.snapshot.SnapshotTargetType,
      io.jdm.targets.snapshot.SnapshotMergeTargetType;
}
