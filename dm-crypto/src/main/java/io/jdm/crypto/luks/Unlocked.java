package io.jdm.crypto.luks;

/** A keyslot and the volume key it gave. */
record Unlocked(int keyslot, byte[] key) {}
