package io.jdm.crypto;

import java.util.Optional;

/**
 * Supplies keys that a {@code crypt} table names by reference instead of by value, the kernel's
 * keyring form {@code :<size>:<type>:<description>} (for instance {@code :64:logon:cryptsetup:x}).
 * jdm has no kernel keyring: an embedder provides one, registered through {@link
 * java.util.ServiceLoader} or given to {@link CryptTargetType#CryptTargetType(KeyProvider...)}.
 */
@FunctionalInterface
public interface KeyProvider {
  /**
   * The key of kernel key type {@code type} ({@code logon}, {@code user}, {@code encrypted}, {@code
   * trusted}) called {@code description}, or empty if this provider does not have it. The caller
   * wipes the returned array after use.
   */
  Optional<byte[]> key(String type, String description);
}
