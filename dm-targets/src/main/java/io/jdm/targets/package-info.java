/**
 * Targets of the kernel's device-mapper beyond dm-mod, each faithful to its {@code
 * drivers/md/dm-*.c} in table syntax, validation messages, status text and messages:
 *
 * <ul>
 *   <li>{@code delay} ({@link io.jdm.targets.DelayTargetType}): hold I/O for a while, per class;
 *   <li>{@code flakey} ({@link io.jdm.targets.FlakeyTargetType}): up/down intervals that drop, fail
 *       or corrupt I/O;
 *   <li>{@code dust} ({@link io.jdm.targets.DustTargetType}): a bad-block list;
 *   <li>{@code log-writes} ({@link io.jdm.targets.LogWritesTargetType}): a log of every write,
 *       flush and mark, in the kernel's on-disk format, for crash-consistency testing;
 *   <li>{@code unstriped} ({@link io.jdm.targets.UnstripedTargetType}) and {@code switch} ({@link
 *       io.jdm.targets.SwitchTargetType}).
 * </ul>
 *
 * <p>Putting this module on the class or module path makes them available by name to every {@link
 * io.jdm.core.DeviceMapper} built with the default registry.
 */
package io.jdm.targets;
