/**
 * The {@code multipath} target ({@code drivers/md/dm-mpath.c}) and the kernel's path selectors
 * {@code round-robin}, {@code queue-length}, {@code service-time} and {@code
 * historical-service-time}, provided to {@link io.jdm.core.pathselector.PathSelectorRegistry}
 * through {@link java.util.ServiceLoader}.
 */
package io.jdm.targets.multipath;
