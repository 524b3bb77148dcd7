/**
 * The bio prison and the deferred set, the kernel's {@code dm-bio-prison-v1} ({@code
 * drivers/md/dm-bio-prison-v1.c}): hold bios that touch a block range while another bio works on
 * it, and hold work until earlier I/O has finished, as snapshot and thin provisioning use them.
 */
package io.jdm.core.prison;
