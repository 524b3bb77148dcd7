/**
 * The kernel's I/O services for targets ({@code drivers/md/dm-io.c} and the mempools under it):
 * {@link io.jdm.core.io.BufferPool}, bounded buffers with a reserve, and {@link
 * io.jdm.core.io.DmIo}, to read one region or write one payload to many with a per-region error
 * report. Built on {@link io.jdm.core.Bio}'s chaining.
 */
package io.jdm.core.io;
