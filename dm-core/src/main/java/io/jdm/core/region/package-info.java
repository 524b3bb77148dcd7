/**
 * The region hash, the kernel's {@code dm-region-hash} ({@code drivers/md/dm-region-hash.c}, {@code
 * include/linux/dm-region-hash.h}): per-region write accounting over a {@link
 * io.jdm.core.dirtylog.DirtyLog}, on which a mirror is built.
 */
package io.jdm.core.region;
