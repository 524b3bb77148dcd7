package io.jdm.core.dirtylog;

import io.jdm.core.DmException;
import io.jdm.core.Errno;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;

/**
 * The dirty log types a mirror can use, as the kernel's list in {@code drivers/md/dm-log.c} ({@code
 * dm_dirty_log_type_register}, {@code dm_dirty_log_create}).
 *
 * <p>Every registry starts with the kernel's built-in {@code core} and {@code disk} logs. {@link
 * #loadDefault()} adds every {@link DirtyLogType} the {@link ServiceLoader} finds ({@code
 * META-INF/services/io.jdm.core.dirtylog.DirtyLogType}, or {@code provides} in a module); {@link
 * #register} adds more in code. A target that uses logs (the mirror) makes one registry when its
 * type is constructed and keeps it.
 *
 * <p>Thread-safe.
 */
public final class DirtyLogRegistry {
  private static final System.Logger LOG = System.getLogger(DirtyLogRegistry.class.getName());

  private final List<DirtyLogType> types = new ArrayList<>(); // guarded by this

  private DirtyLogRegistry() {}

  /** {@code core} and {@code disk} only. */
  public static DirtyLogRegistry builtins() {
    DirtyLogRegistry r = new DirtyLogRegistry();
    r.register(new CoreLogType());
    r.register(new DiskLogType());
    return r;
  }

  /** The built-ins plus every type found by {@link ServiceLoader} through {@code loader}. */
  public static DirtyLogRegistry load(ClassLoader loader) {
    DirtyLogRegistry r = builtins();
    ServiceLoader<DirtyLogType> sl = ServiceLoader.load(DirtyLogType.class, loader);
    for (var it = sl.iterator(); it.hasNext(); ) {
      DirtyLogType t;
      try {
        t = it.next();
      } catch (ServiceConfigurationError e) {
        LOG.log(System.Logger.Level.WARNING, "cannot load a dirty log type: " + e.getMessage(), e);
        continue;
      }
      if (r.get(t.name()) != null) {
        LOG.log(
            System.Logger.Level.WARNING,
            "dirty log type {0} from {1} ignored: a type of that name is registered",
            t.name(),
            t.getClass().getName());
        continue;
      }
      r.register(t);
    }
    return r;
  }

  /** {@link #load(ClassLoader)} with the thread's context class loader (or this class's). */
  public static DirtyLogRegistry loadDefault() {
    ClassLoader cl = Thread.currentThread().getContextClassLoader();
    return load(cl != null ? cl : DirtyLogRegistry.class.getClassLoader());
  }

  /**
   * Adds a type.
   *
   * @throws DmException ({@link Errno#EEXIST}, as {@code dm_dirty_log_type_register}) if a type of
   *     that name is registered
   * @throws IllegalArgumentException if the name is empty or has blanks
   */
  public synchronized void register(DirtyLogType type) {
    Objects.requireNonNull(type, "type");
    String name = Objects.requireNonNull(type.name(), "name");
    if (name.isEmpty() || name.chars().anyMatch(Character::isWhitespace)) {
      throw new IllegalArgumentException(
          "dirty log type name \"" + name + "\" (expected: at least one character, no blanks)");
    }
    if (find(name) != null) {
      throw new DmException(Errno.EEXIST, "dirty log type " + name + " already registered");
    }
    types.add(type);
  }

  /** Removes a type; logs already made keep working. Returns whether it was there. */
  public synchronized boolean unregister(String name) {
    DirtyLogType t = find(name);
    return t != null && types.remove(t);
  }

  /** The type named {@code name}, or {@code null}. */
  public synchronized DirtyLogType get(String name) {
    return find(name);
  }

  private DirtyLogType find(String name) {
    for (DirtyLogType t : types) {
      if (t.name().equals(name)) {
        return t;
      }
    }
    return null;
  }

  /** All types, newest first (the kernel adds to the head of its list). */
  public synchronized List<DirtyLogType> list() {
    List<DirtyLogType> l = new ArrayList<>(types);
    Collections.reverse(l);
    return List.copyOf(l);
  }

  /**
   * Constructs a log of the named type ({@code dm_dirty_log_create}).
   *
   * @throws TargetException {@code Module for logging type "<name>" not found.} for an unknown
   *     type, or the type's own error for bad arguments
   */
  public DirtyLog create(
      String typeName,
      TargetContext ctx,
      long targetLength,
      DirtyLog.FlushCallback flushCallback,
      String... args) {
    DirtyLogType t = get(Objects.requireNonNull(typeName, "typeName"));
    if (t == null) {
      throw new TargetException("Module for logging type \"" + typeName + "\" not found.");
    }
    return t.create(ctx, targetLength, flushCallback, args);
  }
}
