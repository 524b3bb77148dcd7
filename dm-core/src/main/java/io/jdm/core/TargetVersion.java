package io.jdm.core;

/** A target type's version, as the kernel's {@code .version = {1, 4, 0}}. */
public record TargetVersion(int major, int minor, int patch) {
  public TargetVersion {
    if (major < 0 || minor < 0 || patch < 0) {
      throw new IllegalArgumentException(
          "version " + major + "." + minor + "." + patch + " has a negative part");
    }
  }

  public static TargetVersion of(int major, int minor, int patch) {
    return new TargetVersion(major, minor, patch);
  }

  /** {@code "1.4.0"}; {@code dmsetup targets} prints it after a {@code v}. */
  @Override
  public String toString() {
    return major + "." + minor + "." + patch;
  }
}
