/**
 * The targets built into the kernel's {@code dm-mod} and {@code dm-zero}: {@code linear}, {@code
 * striped}, {@code zero} and {@code error}. Always registered; reached by name through tables, not
 * exported.
 */
package io.jdm.core.targets;
