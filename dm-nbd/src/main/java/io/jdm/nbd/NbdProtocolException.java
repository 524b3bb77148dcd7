package io.jdm.nbd;

import java.io.IOException;

/**
 * The peer broke the NBD protocol (a wrong magic, an unexpected reply, flags that were not
 * offered), or refused what was asked of it during negotiation. The message names what was received
 * and the rule of {@code doc/proto.md} it breaks.
 */
public class NbdProtocolException extends IOException {
  private static final long serialVersionUID = 1L;

  public NbdProtocolException(String message) {
    super(message);
  }

  public NbdProtocolException(String message, Throwable cause) {
    super(message, cause);
  }
}
