package io.jdm.core.pathselector;

import io.jdm.core.DmDev;
import java.util.Objects;

/**
 * One path of a multipath device as a {@link PathSelector} sees it, the kernel's {@code struct
 * dm_path}: the device and a slot for the selector's own per-path state ({@code pscontext}), so a
 * selector finds its state without a lookup.
 *
 * <p>The owner (the multipath target) extends this class to hang its own per-path state on it, as
 * the kernel's {@code struct pgpath} embeds a {@code struct dm_path}; a selector hands back the
 * very object it was given in {@link PathSelector#addPath}.
 */
public class DmPath {
  private final DmDev dev;
  private Object selectorContext;

  /** A path over {@code dev}. */
  public DmPath(DmDev dev) {
    this.dev = Objects.requireNonNull(dev, "dev");
  }

  /** The device behind the path. */
  public final DmDev dev() {
    return dev;
  }

  /**
   * The selector's per-path state, set by {@link PathSelector#addPath}; {@code null} before. Read
   * without a lock, so a selector sets it once, before the path is in use.
   */
  public final Object selectorContext() {
    return selectorContext;
  }

  /** Sets {@link #selectorContext()}; for the selector the path was added to. */
  public final void setSelectorContext(Object context) {
    this.selectorContext = context;
  }

  @Override
  public String toString() {
    return "DmPath[" + dev.name() + "]";
  }
}
