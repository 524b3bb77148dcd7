package io.jdm.core;

/** Table rules a target type imposes, as the kernel's {@code DM_TARGET_*} feature flags. */
public enum TargetFeature {
  /** Must be the only target in its table ({@code DM_TARGET_SINGLETON}). */
  SINGLETON,
  /** May not appear in a read-only table ({@code DM_TARGET_ALWAYS_WRITEABLE}). */
  ALWAYS_WRITEABLE,
  /**
   * Once loaded, later tables must use the same type ({@code DM_TARGET_IMMUTABLE}), except a table
   * of {@link #WILDCARD} targets.
   */
  IMMUTABLE,
  /** May replace any target, even an immutable one ({@code DM_TARGET_WILDCARD}: {@code error}). */
  WILDCARD
}
