/**
 * The kernel's {@code dm-bufio} ({@code drivers/md/dm-bufio.c}) with the block locks and validators
 * of persistent-data's block manager ({@code drivers/md/persistent-data/dm-block-manager.c}): a
 * bounded cache of fixed-size metadata blocks over a {@link io.jdm.core.BlockDevice}, shared by the
 * targets that keep metadata on disk (snapshot's exception store, verity's hash tree, thin's
 * B-trees and space maps, the disk dirty log).
 *
 * <p>{@link io.jdm.core.bufio.BufioClient} is the cache; a {@link io.jdm.core.bufio.HeldBlock} is
 * one shared or exclusive hold on a cached block; a {@link io.jdm.core.bufio.BlockValidator} checks
 * a block when it comes from the device and prepares it (checksum, block number) before it goes
 * back; {@link io.jdm.core.bufio.BlockChecksum} is the kernel's {@code dm_bm_checksum}, and {@link
 * io.jdm.core.bufio.ChecksumValidator} the validator of the common persistent-data block header.
 */
package io.jdm.core.bufio;
