package io.jdm.crypto;

import io.jdm.core.ArgSet;
import io.jdm.core.TargetException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * A crypt table's key as given: hex digits, {@code -} (no key), or a keyring reference {@code
 * :<size>:<type>:<description>}, with the bytes it stands for (wiped by {@link #wipe()}).
 */
final class CryptKey {
  private static final HexFormat HEX = HexFormat.of();

  /** What {@code get_key_size} reads from the key argument. */
  record Size(int bytes, boolean keyring) {}

  private final byte[] bytes;
  private final String keyringString; // "logon:desc", or null

  private CryptKey(byte[] bytes, String keyringString) {
    this.bytes = bytes;
    this.keyringString = keyringString;
  }

  /** {@code get_key_size}: half the hex length, or the size of a keyring reference. */
  static Size parseSize(String arg) {
    if (arg.isEmpty() || arg.charAt(0) != ':') {
      return new Size(arg.length() >> 1, false);
    }
    int colon = arg.indexOf(':', 1);
    long n = colon < 0 ? -1 : ArgSet.parseDecimal(arg.substring(1, colon));
    if (n < 0 || n > Integer.MAX_VALUE) {
      throw new TargetException("Cannot parse key size");
    }
    return new Size((int) n, true);
  }

  /** {@code crypt_set_key}: decodes the hex key or fetches the keyring key. */
  static CryptKey resolve(String arg, Size size, CryptTargetType type) {
    if (size.keyring()) {
      return fromKeyring(arg.substring(arg.indexOf(':', 1) + 1), size.bytes(), type.providers());
    }
    return fromHex(arg, size.bytes());
  }

  static CryptKey fromHex(String arg, int size) {
    if (size == 0) {
      if (!arg.equals("-")) {
        throw new TargetException("Error decoding and setting key");
      }
      return new CryptKey(new byte[0], null);
    }
    if (arg.length() % 2 != 0) {
      throw new TargetException(
          "Error decoding and setting key: an odd number of hex digits (" + arg.length() + ")");
    }
    try {
      return new CryptKey(HEX.parseHex(arg), null);
    } catch (IllegalArgumentException e) {
      throw new TargetException("Error decoding and setting key: not hex digits");
    }
  }

  /** {@code crypt_set_keyring_key} on {@code type:description}. */
  static CryptKey fromKeyring(String ref, int size, List<KeyProvider> providers) {
    for (int i = 0; i < ref.length(); i++) {
      if (Character.isWhitespace(ref.charAt(i))) {
        throw new TargetException(
            "Error decoding and setting key: whitespace chars not allowed in key string");
      }
    }
    int colon = ref.indexOf(':');
    if (colon <= 0 || colon == ref.length() - 1) {
      throw new TargetException("Error decoding and setting key");
    }
    String type = ref.substring(0, colon);
    String desc = ref.substring(colon + 1);
    if (!List.of("logon", "user", "encrypted", "trusted").contains(type)) {
      throw new TargetException("Error decoding and setting key");
    }
    if (providers.isEmpty()) {
      throw new TargetException(
          "Error decoding and setting key: no KeyProvider is registered for keyring keys"
              + " (see io.jdm.crypto.KeyProvider)");
    }
    for (KeyProvider p : providers) {
      Optional<byte[]> key = p.key(type, desc);
      if (key.isPresent()) {
        byte[] k = key.get();
        if (k.length != size) {
          Arrays.fill(k, (byte) 0);
          throw new TargetException(
              "Error decoding and setting key: "
                  + type
                  + " key "
                  + desc
                  + " has "
                  + k.length
                  + " bytes, not "
                  + size);
        }
        return new CryptKey(k, ref);
      }
    }
    throw new TargetException(
        "Error decoding and setting key: no "
            + type
            + " key "
            + desc
            + " (Required key not available)");
  }

  byte[] bytes() {
    return bytes;
  }

  int size() {
    return bytes.length;
  }

  /** The key as the table shows it: hex, {@code -}, or {@code :<size>:<type>:<description>}. */
  String tableText() {
    if (keyringString != null) {
      return ":" + bytes.length + ":" + keyringString;
    }
    return bytes.length == 0 ? "-" : HEX.formatHex(bytes);
  }

  void wipe() {
    Arrays.fill(bytes, (byte) 0);
  }
}
