package io.jdm.core;

import io.jdm.core.targets.ErrorTargetType;
import io.jdm.core.targets.LinearTargetType;
import io.jdm.core.targets.StripedTargetType;
import io.jdm.core.targets.ZeroTargetType;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;

/**
 * The target types a {@link DeviceMapper} knows, as the kernel's target list ({@code
 * drivers/md/dm-target.c}).
 *
 * <p>Every registry starts with the built-in types of the kernel's {@code dm-mod} and {@code
 * dm-zero} ({@code error}, {@code linear}, {@code striped}, {@code zero}). {@link #loadDefault()}
 * adds every {@link TargetType} the {@link ServiceLoader} finds, so putting {@code dm-targets} or
 * {@code dm-crypto} on the class path or module path makes their targets available by name. {@link
 * #register} adds more in code.
 *
 * <p>{@link #list()} returns the newest registration first, as the kernel's list and therefore
 * {@code dmsetup targets} do.
 *
 * <p>Thread-safe.
 */
public final class TargetRegistry {
  private static final System.Logger LOG = System.getLogger(TargetRegistry.class.getName());

  private final List<TargetType> types = new ArrayList<>();

  private TargetRegistry() {}

  /** The built-in types only. */
  public static TargetRegistry builtins() {
    TargetRegistry r = new TargetRegistry();
    r.register(new ErrorTargetType());
    r.register(new LinearTargetType());
    r.register(new StripedTargetType());
    r.register(new ZeroTargetType());
    return r;
  }

  /** The built-ins plus every type found by {@link ServiceLoader} through {@code loader}. */
  public static TargetRegistry load(ClassLoader loader) {
    TargetRegistry r = builtins();
    ServiceLoader<TargetType> sl = ServiceLoader.load(TargetType.class, loader);
    for (var it = sl.iterator(); it.hasNext(); ) {
      TargetType t;
      try {
        t = it.next();
      } catch (ServiceConfigurationError e) {
        LOG.log(System.Logger.Level.WARNING, "cannot load a target type: " + e.getMessage(), e);
        continue;
      }
      if (r.get(t.name()) != null) {
        LOG.log(
            System.Logger.Level.WARNING,
            "target type {0} from {1} ignored: ''{0}'' target already registered",
            t.name(),
            t.getClass().getName());
        continue;
      }
      r.register(t);
    }
    return r;
  }

  /** {@link #load(ClassLoader)} with the thread's context class loader (or this class's). */
  public static TargetRegistry loadDefault() {
    ClassLoader cl = Thread.currentThread().getContextClassLoader();
    return load(cl != null ? cl : TargetRegistry.class.getClassLoader());
  }

  /**
   * Adds a type.
   *
   * @throws DmException ({@link Errno#EBUSY}) if a type of that name is registered
   * @throws IllegalArgumentException if the name is empty, longer than 15 characters or has blanks
   */
  public synchronized void register(TargetType type) {
    Objects.requireNonNull(type, "type");
    String name = Objects.requireNonNull(type.name(), "name");
    if (name.isEmpty()
        || name.length() > TableSpec.MAX_TYPE_NAME
        || name.chars().anyMatch(c -> TableSpec.isSpace((char) c) || c == '#')) {
      throw new IllegalArgumentException(
          "target type name \""
              + name
              + "\" (expected: 1 to "
              + TableSpec.MAX_TYPE_NAME
              + " characters, no blanks or '#')");
    }
    Objects.requireNonNull(type.version(), "version");
    if (find(name) != null) {
      throw new DmException(Errno.EBUSY, "'" + name + "' target already registered");
    }
    types.add(type);
  }

  /** Removes a type; tables already loaded keep their targets. Returns whether it was there. */
  public synchronized boolean unregister(String name) {
    TargetType t = find(name);
    return t != null && types.remove(t);
  }

  /** The type named {@code name}, or {@code null}. */
  public synchronized TargetType get(String name) {
    return find(name);
  }

  private TargetType find(String name) {
    for (TargetType t : types) {
      if (t.name().equals(name)) {
        return t;
      }
    }
    return null;
  }

  /** All types, newest first. */
  public synchronized List<TargetType> list() {
    List<TargetType> l = new ArrayList<>(types);
    java.util.Collections.reverse(l);
    return List.copyOf(l);
  }

  /** What {@code dmsetup targets} prints: {@code "linear v1.4.0"} per line. */
  public String describe() {
    StringBuilder sb = new StringBuilder();
    for (TargetType t : list()) {
      sb.append(String.format(Locale.ROOT, "%-16s v%s", t.name(), t.version())).append('\n');
    }
    return sb.toString();
  }

  /** Where jdm's own target types live, for the hint in an unknown-type error. */
  private static final java.util.Map<String, String> MODULES =
      java.util.Map.ofEntries(
          java.util.Map.entry("delay", "dm-targets"),
          java.util.Map.entry("flakey", "dm-targets"),
          java.util.Map.entry("dust", "dm-targets"),
          java.util.Map.entry("log-writes", "dm-targets"),
          java.util.Map.entry("unstriped", "dm-targets"),
          java.util.Map.entry("switch", "dm-targets"),
          java.util.Map.entry("multipath", "dm-targets"),
          java.util.Map.entry("jdm-fault", "dm-targets"),
          java.util.Map.entry("crypt", "dm-crypto"),
          java.util.Map.entry("basic_target", "dm-examples"));

  /**
   * {@code " (provided by jdm's dm-targets module: put it on the class path)"} for a type one of
   * jdm's modules provides, else {@code ""}.
   */
  static String moduleHint(String type) {
    String module = MODULES.get(type);
    return module == null
        ? ""
        : " (provided by jdm's " + module + " module: put io.jdm:" + module + " on the class path)";
  }
}
