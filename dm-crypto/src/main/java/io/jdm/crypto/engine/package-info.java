/**
 * dm-crypt's ciphers: specification parsing, IV generators, chain modes over AES (the JDK's,
 * AES-NI) and Serpent and Twofish (Bouncy Castle). Internal to the module: the crypt target and
 * LUKS use it.
 */
package io.jdm.crypto.engine;
