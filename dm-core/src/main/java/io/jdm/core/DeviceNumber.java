package io.jdm.core;

/**
 * A device's {@code major:minor} pair: how the kernel, and therefore jdm, names underlying devices
 * in status and table text ({@code 8:16}).
 *
 * <p>Real block devices keep their real numbers. Devices that live only in the JVM get numbers in
 * the ranges Linux would use for them: mapped devices major {@value #DM_MAJOR} (device-mapper),
 * files major {@value #LOOP_MAJOR} (as if attached to a loop device), devices an embedder registers
 * major {@value #LOCAL_MAJOR} (Linux's "local/experimental use" range). Numbers are unique within
 * one {@link DeviceMapper}.
 */
public record DeviceNumber(int major, int minor) {
  public static final int LOOP_MAJOR = 7;
  public static final int LOCAL_MAJOR = 240;
  public static final int DM_MAJOR = 253;

  public DeviceNumber {
    if (major < 0 || major > 0xfff || minor < 0 || minor > 0xfffff) {
      throw new IllegalArgumentException("device number " + major + ":" + minor + " out of range");
    }
  }

  /**
   * Parses {@code "major:minor"} (decimal); returns {@code null} if {@code s} does not have that
   * form, as the kernel's {@code sscanf(path, "%u:%u%c")}.
   */
  public static DeviceNumber parse(String s) {
    int colon = s.indexOf(':');
    if (colon <= 0 || colon == s.length() - 1) {
      return null;
    }
    long major = ArgSet.parseDecimal(s.substring(0, colon));
    long minor = ArgSet.parseDecimal(s.substring(colon + 1));
    if (major < 0 || minor < 0 || major > 0xfff || minor > 0xfffff) {
      return null;
    }
    return new DeviceNumber((int) major, (int) minor);
  }

  /**
   * Splits a Linux {@code dev_t} ({@code st_rdev}) as glibc's {@code major()} / {@code minor()}.
   */
  public static DeviceNumber fromDevT(long rdev) {
    int major = (int) (((rdev >>> 32) & 0xfffff000L) | ((rdev >>> 8) & 0xfffL));
    int minor = (int) (((rdev >>> 12) & 0xffffff00L) | (rdev & 0xffL));
    return new DeviceNumber(major, minor);
  }

  @Override
  public String toString() {
    return major + ":" + minor;
  }
}
