/**
 * Thin provisioning: the kernel's {@code thin-pool} and {@code thin} targets and the pool metadata
 * contract they stand on ({@link io.jdm.targets.thin.PoolMetadata}), stored in the kernel's
 * persistent-data format.
 */
package io.jdm.targets.thin;
