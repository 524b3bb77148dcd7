/**
 * The kernel's {@code mirror} target (dm-raid1, {@code drivers/md/dm-raid1.c}): {@link
 * io.jdm.targets.mirror.MirrorTargetType} parses the table line, {@link
 * io.jdm.targets.mirror.MirrorTarget} mirrors I/O over 2 to 9 legs with a dirty region log, resync
 * and leg-failure handling.
 */
package io.jdm.targets.mirror;
