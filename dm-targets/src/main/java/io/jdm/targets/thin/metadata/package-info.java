/** The thin pool's metadata in the kernel's on-disk format ({@code dm-thin-metadata.c}). */
package io.jdm.targets.thin.metadata;
