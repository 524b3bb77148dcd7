/**
 * Path selectors for multipath devices, the kernel's {@code dm-path-selector} ({@code
 * drivers/md/dm-path-selector.c}, {@code .h}): {@link io.jdm.core.pathselector.PathSelectorType} is
 * the constructor, found by name in a {@link io.jdm.core.pathselector.PathSelectorRegistry}
 * (through {@link java.util.ServiceLoader}); {@link io.jdm.core.pathselector.PathSelector} chooses
 * a path of a priority group for each I/O; {@link io.jdm.core.pathselector.DmPath} is a path as a
 * selector sees it. The kernel's selectors ({@code round-robin}, {@code queue-length}, {@code
 * service-time}, {@code historical-service-time}) live with the {@code multipath} target in {@code
 * dm-targets}.
 */
package io.jdm.core.pathselector;
