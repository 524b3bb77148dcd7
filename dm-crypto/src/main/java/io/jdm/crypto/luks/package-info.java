/**
 * LUKS1 and LUKS2 containers, as cryptsetup reads and writes them: open one with a passphrase to
 * get its volume key and the {@code crypt} table line that maps it, format new ones, manage
 * keyslots.
 */
package io.jdm.crypto.luks;
