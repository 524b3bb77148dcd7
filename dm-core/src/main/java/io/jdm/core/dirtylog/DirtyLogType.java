package io.jdm.core.dirtylog;

import io.jdm.core.TargetContext;

/**
 * A kind of dirty log, the kernel's {@code struct dm_dirty_log_type}: a name and a constructor.
 *
 * <p>Registered with a {@link DirtyLogRegistry}: by {@link java.util.ServiceLoader} (a line naming
 * the class in {@code META-INF/services/io.jdm.core.dirtylog.DirtyLogType}, or {@code provides} in
 * a module) or programmatically. Implementations must be stateless and thread-safe, with a public
 * no-argument constructor to be found by the service loader.
 */
public interface DirtyLogType {

  /** The name a mirror table gives, such as {@code core} or {@code disk}. */
  String name();

  /**
   * Constructs a log for one target (the kernel's {@code ctr}).
   *
   * @param ctx the owning target's context: devices are opened, and table events raised, through it
   * @param targetLength the length of the target in sectors ({@code ti->len})
   * @param flushCallback called before regions are written clean, or {@code null}
   * @param args the log's arguments
   * @throws io.jdm.core.TargetException with the kernel's text when the arguments are bad; devices
   *     already opened through {@code ctx} are released by the core with the failed table
   */
  DirtyLog create(
      TargetContext ctx, long targetLength, DirtyLog.FlushCallback flushCallback, String... args);
}
