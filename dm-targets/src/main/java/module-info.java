/**
 * Targets beyond the kernel's dm-mod: the testing targets {@code delay}, {@code flakey}, {@code
 * dust}, {@code log-writes}, and {@code unstriped}, {@code switch}, {@code verity}.
 */
module io.jdm.targets {
  requires transitive io.jdm.core;

  exports io.jdm.targets;
  exports io.jdm.targets.verity;

  provides io.jdm.core.TargetType with
      io.jdm.targets.DelayTargetType,
      io.jdm.targets.FlakeyTargetType,
      io.jdm.targets.DustTargetType,
      io.jdm.targets.LogWritesTargetType,
      io.jdm.targets.UnstripedTargetType,
      io.jdm.targets.SwitchTargetType,
      io.jdm.targets.verity.VerityTargetType,
      io.jdm.targets.FaultTargetType;
}
