/**
 * The {@code crypt} target: dm-crypt's table syntax, IV modes and on-disk encryption, so that
 * images move between jdm and Linux. Found by {@link java.util.ServiceLoader} when this module is
 * on the class or module path.
 */
package io.jdm.crypto;
