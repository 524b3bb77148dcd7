package io.jdm.crypto.luks;

/**
 * No keyslot opens with the passphrase given: cryptsetup's {@code "No key available with this
 * passphrase."} ({@code -EPERM}).
 */
public final class LuksPassphraseException extends LuksException {
  private static final long serialVersionUID = 1L;

  /** cryptsetup's text. */
  public static final String MESSAGE = "No key available with this passphrase.";

  LuksPassphraseException() {
    super(MESSAGE);
  }
}
