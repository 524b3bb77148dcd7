/**
 * Dirty region logs, the kernel's {@code dm-dirty-log} ({@code drivers/md/dm-log.c}, {@code
 * include/linux/dm-dirty-log.h}): which regions of a mirror may differ between its legs and which
 * are known to be in sync.
 *
 * <p>{@link io.jdm.core.dirtylog.DirtyLog} is the log, {@link io.jdm.core.dirtylog.DirtyLogType}
 * its constructor, found by name in a {@link io.jdm.core.dirtylog.DirtyLogRegistry}. The kernel's
 * two logs are built in: {@code core} (in memory) and {@code disk} (persistent, in the kernel's
 * on-disk format). More types are found by {@link java.util.ServiceLoader}.
 */
package io.jdm.core.dirtylog;
