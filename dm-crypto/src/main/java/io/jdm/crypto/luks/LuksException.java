package io.jdm.crypto.luks;

import java.io.IOException;

/**
 * A LUKS header or keyslot that cannot be used: a bad magic, version or checksum, JSON that does
 * not parse or breaks a rule, a keyslot area outside the device, an unknown or unreasonable key
 * derivation. The message names the place (header offset, JSON path, keyslot) and the rule.
 */
public class LuksException extends IOException {
  private static final long serialVersionUID = 1L;

  /** An exception with {@code message}. */
  public LuksException(String message) {
    super(message);
  }

  /** An exception with {@code message} and its {@code cause}. */
  public LuksException(String message, Throwable cause) {
    super(message, cause);
  }
}
