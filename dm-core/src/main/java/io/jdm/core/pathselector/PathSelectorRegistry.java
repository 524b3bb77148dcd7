package io.jdm.core.pathselector;

import io.jdm.core.DmException;
import io.jdm.core.Errno;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;

/**
 * The path selector types a multipath device can use, as the kernel's list in {@code
 * drivers/md/dm-path-selector.c} ({@code dm_register_path_selector}, {@code dm_get_path_selector}).
 *
 * <p>{@link #empty()} has none; {@link #loadDefault()} and {@link #load} add every {@link
 * PathSelectorType} the {@link ServiceLoader} finds ({@code
 * META-INF/services/io.jdm.core.pathselector.PathSelectorType}, or {@code provides} in a module:
 * {@code dm-targets} provides the kernel's four); {@link #register} adds more in code. A target
 * that uses selectors (multipath) makes one registry when its type is constructed and keeps it.
 *
 * <p>Thread-safe.
 */
public final class PathSelectorRegistry {
  private static final System.Logger LOG = System.getLogger(PathSelectorRegistry.class.getName());

  private final List<PathSelectorType> types = new ArrayList<>(); // guarded by this

  private PathSelectorRegistry() {}

  /** A registry with no types. */
  public static PathSelectorRegistry empty() {
    return new PathSelectorRegistry();
  }

  /** Every type found by {@link ServiceLoader} through {@code loader}. */
  public static PathSelectorRegistry load(ClassLoader loader) {
    PathSelectorRegistry r = empty();
    ServiceLoader<PathSelectorType> sl = ServiceLoader.load(PathSelectorType.class, loader);
    for (var it = sl.iterator(); it.hasNext(); ) {
      PathSelectorType t;
      try {
        t = it.next();
      } catch (ServiceConfigurationError e) {
        LOG.log(System.Logger.Level.WARNING, "cannot load a path selector: " + e.getMessage(), e);
        continue;
      }
      if (r.get(t.name()) != null) {
        LOG.log(
            System.Logger.Level.WARNING,
            "path selector {0} from {1} ignored: a selector of that name is registered",
            t.name(),
            t.getClass().getName());
        continue;
      }
      r.register(t);
    }
    return r;
  }

  /** {@link #load(ClassLoader)} with the thread's context class loader (or this class's). */
  public static PathSelectorRegistry loadDefault() {
    ClassLoader cl = Thread.currentThread().getContextClassLoader();
    return load(cl != null ? cl : PathSelectorRegistry.class.getClassLoader());
  }

  /**
   * Adds a type.
   *
   * @throws DmException ({@link Errno#EBUSY}, as {@code dm_register_path_selector}) if a type of
   *     that name is registered
   * @throws IllegalArgumentException if the name is empty or has blanks, or an argument count is
   *     negative
   */
  public synchronized void register(PathSelectorType type) {
    Objects.requireNonNull(type, "type");
    String name = Objects.requireNonNull(type.name(), "name");
    if (name.isEmpty() || name.chars().anyMatch(Character::isWhitespace)) {
      throw new IllegalArgumentException(
          "path selector name \"" + name + "\" (expected: at least one character, no blanks)");
    }
    if (type.tableArgs() < 0 || type.infoArgs() < 0) {
      throw new IllegalArgumentException(
          "path selector "
              + name
              + ": table_args "
              + type.tableArgs()
              + ", info_args "
              + type.infoArgs()
              + " (expected: >= 0)");
    }
    if (find(name) != null) {
      throw new DmException(Errno.EBUSY, "path selector " + name + " already registered");
    }
    types.add(type);
  }

  /** Removes a type; selectors already made keep working. Returns whether it was there. */
  public synchronized boolean unregister(String name) {
    PathSelectorType t = find(name);
    return t != null && types.remove(t);
  }

  /** The type named {@code name} (exactly, as the kernel's {@code strcmp}), or {@code null}. */
  public synchronized PathSelectorType get(String name) {
    return name == null ? null : find(name);
  }

  private PathSelectorType find(String name) {
    for (PathSelectorType t : types) {
      if (t.name().equals(name)) {
        return t;
      }
    }
    return null;
  }

  /** All types, newest first (the kernel adds to the head of its list). */
  public synchronized List<PathSelectorType> list() {
    List<PathSelectorType> l = new ArrayList<>(types);
    Collections.reverse(l);
    return List.copyOf(l);
  }
}
