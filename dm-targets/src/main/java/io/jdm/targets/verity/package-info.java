/**
 * The {@code verity} target and its userspace side: {@link io.jdm.targets.verity.VerityTargetType}
 * (the kernel's {@code dm-verity}, with forward error correction), {@link
 * io.jdm.targets.verity.VerityFormat} (what {@code veritysetup format} writes, byte for byte) and
 * {@link io.jdm.targets.verity.VeritySuperblock} (cryptsetup's on-disk header).
 */
package io.jdm.targets.verity;
