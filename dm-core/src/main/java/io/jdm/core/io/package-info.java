/**
 * The kernel's I/O services for targets ({@code drivers/md/dm-io.c}, {@code dm-kcopyd.c} and the
 * mempools under them): {@link io.jdm.core.io.BufferPool}, bounded buffers with a reserve; {@link
 * io.jdm.core.io.DmIo}, to read one region or write one payload to many with a per-region error
 * report; and {@link io.jdm.core.io.Kcopyd}, to copy a region to several others or zero regions in
 * the background, throttled and in bounded memory. Built on {@link io.jdm.core.Bio}'s chaining.
 */
package io.jdm.core.io;
