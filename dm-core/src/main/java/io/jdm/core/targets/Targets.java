package io.jdm.core.targets;

import io.jdm.core.DmDev;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;

/** Helpers shared by the built-in targets. */
final class Targets {
  private Targets() {}

  /**
   * {@link TargetContext#getDevice} with the target's own error text in front of the reason, as the
   * kernel's {@code ti->error = "Device lookup failed"}.
   */
  static DmDev getDevice(TargetContext ctx, String path, String error) {
    try {
      return ctx.getDevice(path);
    } catch (TargetException e) {
      throw new TargetException(e.errno(), error + ": " + e.getMessage());
    }
  }
}
