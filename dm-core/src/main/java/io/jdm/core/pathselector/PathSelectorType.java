package io.jdm.core.pathselector;

import io.jdm.core.TargetContext;

/**
 * A kind of path selector, the kernel's {@code struct path_selector_type}: a name, how many status
 * values it prints per path, and a constructor.
 *
 * <p>Registered with a {@link PathSelectorRegistry}: by {@link java.util.ServiceLoader} (a line
 * naming the class in {@code META-INF/services/io.jdm.core.pathselector.PathSelectorType}, or
 * {@code provides} in a module) or programmatically. Implementations must be stateless and
 * thread-safe, with a public no-argument constructor to be found by the service loader.
 */
public interface PathSelectorType {

  /** The name a multipath table gives, such as {@code round-robin}. */
  String name();

  /** How many values {@link PathSelector#status} prints per path for TABLE ({@code table_args}). */
  int tableArgs();

  /** How many values {@link PathSelector#status} prints per path for INFO ({@code info_args}). */
  int infoArgs();

  /**
   * Whether {@link PathSelector#endIo} needs the I/O's start time ({@code DM_PS_USE_HR_TIMER}); the
   * owner then reads its clock when each I/O starts, and passes 0 otherwise.
   */
  default boolean usesStartTime() {
    return false;
  }

  /**
   * Constructs a selector for one priority group ({@code create}).
   *
   * @param ctx the owning target's context: its {@link TargetContext#clock()} is the only time a
   *     selector may use, so tests can drive it; its logger is for the kernel's warnings
   * @param args the selector's arguments
   * @throws io.jdm.core.TargetException when the arguments are bad (the multipath target reports
   *     the kernel's {@code "path selector constructor failed"} whatever the text)
   */
  PathSelector create(TargetContext ctx, String... args);
}
