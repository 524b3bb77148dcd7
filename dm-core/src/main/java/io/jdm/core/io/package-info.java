/**
 * The kernel's I/O services for targets: {@link io.jdm.core.io.BufferPool}, bounded buffers with a
 * reserve (the kernel's mempool).
 */
package io.jdm.core.io;
