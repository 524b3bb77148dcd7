/**
 * The kernel's snapshot targets ({@code drivers/md/dm-snap.c}, {@code dm-snap-persistent.c}, {@code
 * dm-snap-transient.c}, {@code dm-exception-store.c}): {@code snapshot-origin} ({@link
 * io.jdm.targets.snapshot.SnapshotOriginTargetType}), {@code snapshot} ({@link
 * io.jdm.targets.snapshot.SnapshotTargetType}) and {@code snapshot-merge} ({@link
 * io.jdm.targets.snapshot.SnapshotMergeTargetType}), with the persistent exception store in the
 * kernel's on-disk format.
 *
 * <p>Origins and snapshots find each other through a registry shared by the targets of one {@link
 * io.jdm.core.DeviceMapper} and keyed by the underlying origin device's number, as the kernel's
 * global origin hash is keyed by the block device: a {@code snapshot-origin} and its snapshots name
 * the same underlying device (LVM's {@code vg-lv-real}).
 */
package io.jdm.targets.snapshot;
