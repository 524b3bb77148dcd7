package io.jdm.core;

import java.util.Set;

/**
 * A kind of target, the kernel's {@code struct target_type}: a name, a version, and a constructor
 * that parses one table line's arguments.
 *
 * <p>Registered with a {@link TargetRegistry}: by {@link java.util.ServiceLoader} (a line naming
 * the class in {@code META-INF/services/io.jdm.core.TargetType}, or {@code provides} in a module)
 * or programmatically. A user target is one class implementing this interface plus that one line.
 *
 * <p>Implementations must be thread-safe and stateless (state lives in the {@link Target}s they
 * create) and must have a public no-argument constructor to be found by the service loader.
 */
public interface TargetType {

  /** The name used in tables, at most 15 characters ({@code DM_MAX_TYPE_NAME - 1}). */
  String name();

  TargetVersion version();

  /**
   * Constructs the target for one table line (the kernel's {@code ctr}).
   *
   * @param ctx where to open devices and workqueues; valid for the target's lifetime
   * @param begin first sector of the line in the mapped device
   * @param length number of sectors of the line
   * @param args the line's arguments, split as the kernel splits them
   * @throws TargetException with the kernel's {@code ti->error} text when the arguments are bad;
   *     the core releases every device the constructor opened
   */
  Target create(TargetContext ctx, long begin, long length, String[] args);

  /** Table rules this type imposes. */
  default Set<TargetFeature> features() {
    return Set.of();
  }
}
