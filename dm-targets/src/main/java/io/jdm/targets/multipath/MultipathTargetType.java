package io.jdm.targets.multipath;

import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetFeature;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;
import io.jdm.core.pathselector.PathSelectorRegistry;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;

/**
 * {@code multipath} v1.14.0 ({@code drivers/md/dm-mpath.c}), bio-based:
 *
 * <pre>
 * multipath &lt;#features&gt; [queue_if_no_path] [retain_attached_hw_handler]
 *           [pg_init_retries &lt;1-50&gt;] [pg_init_delay_msecs &lt;0-60000&gt;] [queue_mode bio|rq|mq]
 *           &lt;#hw_handler_args&gt; [&lt;handler&gt; [args]]
 *           &lt;#priority_groups&gt; &lt;initial_group&gt;
 *           (&lt;selector&gt; &lt;#selector_args&gt; [args] &lt;#paths&gt; &lt;#per_path_args&gt;
 *              (&lt;device&gt; [per_path_args])+ )*
 * </pre>
 *
 * <p>See {@link MultipathTarget} for the behaviour, messages and status. Selectors are found by
 * name in a {@link PathSelectorRegistry}; the kernel's {@code round-robin}, {@code queue-length},
 * {@code service-time} and {@code historical-service-time} come with this module.
 *
 * <p>Differences from the kernel, all of them about SCSI hardware that a userspace device mapper
 * cannot reach: a hardware handler name is refused with {@code "error attaching hardware handler:
 * ..."} (the kernel's text when a handler cannot be attached; in {@code queue_mode bio} the kernel
 * ignores handler arguments with a logged error, and so does jdm); {@code pg_init_retries} and
 * {@code pg_init_delay_msecs} are accepted and printed but, with no handler, never used, as in the
 * kernel without one; {@code queue_mode rq} and {@code mq} are accepted and printed as the kernel
 * does, and the device stays bio-based.
 */
public final class MultipathTargetType implements TargetType {
  private static final TargetVersion VERSION = TargetVersion.of(1, 14, 0);

  private volatile PathSelectorRegistry selectors;
  private final long checkerNanos;

  /** Selectors found by {@link java.util.ServiceLoader} on first use; no path checker. */
  public MultipathTargetType() {
    this.checkerNanos = 0;
  }

  /** Selectors from {@code selectors}, for embedders with selectors of their own. */
  public MultipathTargetType(PathSelectorRegistry selectors) {
    this.selectors = Objects.requireNonNull(selectors, "selectors");
    this.checkerNanos = 0;
  }

  private MultipathTargetType(PathSelectorRegistry selectors, long checkerNanos) {
    this.selectors = selectors;
    this.checkerNanos = checkerNanos;
  }

  /**
   * A {@code multipath} type whose devices check their failed paths every {@code interval} on the
   * device mapper's clock, once live: a read of each failed path's first block, and a path that
   * answers is reinstated as by the {@code reinstate_path} message (the kernel leaves this to
   * {@code multipathd}; a jdm extension, off in the default type). Register it in the {@link
   * io.jdm.core.TargetRegistry} a device mapper is built with.
   *
   * @throws IllegalArgumentException if {@code interval} is not positive
   */
  public static MultipathTargetType withPathChecker(java.time.Duration interval) {
    long n = interval.toNanos();
    if (n <= 0) {
      throw new IllegalArgumentException("path checker interval " + interval + " (expected: > 0)");
    }
    return new MultipathTargetType(null, n);
  }

  @Override
  public String name() {
    return "multipath";
  }

  @Override
  public TargetVersion version() {
    return VERSION;
  }

  @Override
  public Set<TargetFeature> features() {
    return EnumSet.of(TargetFeature.SINGLETON, TargetFeature.IMMUTABLE);
  }

  /** The selectors this type constructs groups with. */
  public PathSelectorRegistry selectors() {
    PathSelectorRegistry r = selectors;
    if (r == null) {
      synchronized (this) {
        r = selectors;
        if (r == null) {
          r = PathSelectorRegistry.load(MultipathTargetType.class.getClassLoader());
          for (var t : PathSelectorRegistry.loadDefault().list()) {
            if (r.get(t.name()) == null) {
              r.register(t);
            }
          }
          selectors = r;
        }
      }
    }
    return r;
  }

  @Override
  public Target create(TargetContext ctx, long begin, long length, String[] args) {
    return MultipathTarget.create(ctx, selectors(), checkerNanos, begin, length, args);
  }
}
