/**
 * Targets beyond the kernel's dm-mod: the testing targets {@code delay}, {@code flakey}, {@code
 * dust}, {@code log-writes}, and {@code unstriped}, {@code switch}, {@code verity}, {@code
 * multipath} with the kernel's path selectors, the kernel's {@code mirror} (dm-raid1), and the
 * snapshot targets {@code snapshot-origin}, {@code snapshot}, {@code snapshot-merge}, and thin
 * provisioning's {@code thin-pool} and {@code thin}.
 */
module io.jdm.targets {
  requires transitive io.jdm.core;
  requires io.jdm.persistentdata;

  exports io.jdm.targets;
  exports io.jdm.targets.mirror;
  exports io.jdm.targets.multipath;
  exports io.jdm.targets.snapshot;
  exports io.jdm.targets.thin;
  exports io.jdm.targets.verity;

  provides io.jdm.core.TargetType with
      io.jdm.targets.DelayTargetType,
      io.jdm.targets.FlakeyTargetType,
      io.jdm.targets.DustTargetType,
      io.jdm.targets.LogWritesTargetType,
      io.jdm.targets.UnstripedTargetType,
      io.jdm.targets.SwitchTargetType,
      io.jdm.targets.verity.VerityTargetType,
      io.jdm.targets.FaultTargetType,
      io.jdm.targets.multipath.MultipathTargetType,
      io.jdm.targets.mirror.MirrorTargetType,
      io.jdm.targets.snapshot.SnapshotOriginTargetType,
      io.jdm.targets.snapshot.SnapshotTargetType,
      io.jdm.targets.snapshot.SnapshotMergeTargetType,
      io.jdm.targets.thin.ThinPoolTargetType,
      io.jdm.targets.thin.ThinTargetType;
  provides io.jdm.core.pathselector.PathSelectorType with
      io.jdm.targets.multipath.RoundRobinSelectorType,
      io.jdm.targets.multipath.QueueLengthSelectorType,
      io.jdm.targets.multipath.ServiceTimeSelectorType,
      io.jdm.targets.multipath.HistoricalServiceTimeSelectorType;
}
