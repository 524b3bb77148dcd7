package io.jdm.core.dirtylog;

import io.jdm.core.TargetContext;

/**
 * The kernel's {@code core} log type: {@code core <region_size> [[no]sync]}, kept in memory.
 *
 * <p>Errors, with the kernel's texts: {@code wrong number of arguments to dirty region log}, {@code
 * unrecognised sync argument to dirty region log: <arg>}, {@code invalid region size <arg>} (not a
 * decimal power of two from 2 to the target length). Stateless and thread-safe.
 */
public final class CoreLogType implements DirtyLogType {
  /** Creates the type; it is also built into every {@link DirtyLogRegistry}. */
  public CoreLogType() {}

  @Override
  public String name() {
    return "core";
  }

  @Override
  public DirtyLog create(
      TargetContext ctx, long targetLength, DirtyLog.FlushCallback flushCallback, String... args) {
    return new CoreLog(this, BitsetLog.parse(args, targetLength));
  }
}
