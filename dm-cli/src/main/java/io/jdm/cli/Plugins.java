package io.jdm.cli;

import io.jdm.core.TargetRegistry;
import io.jdm.core.TargetType;
import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.stream.Stream;

/**
 * The daemon's target types: the kernel's built-ins, then the user's plugins (every {@code *.jar}
 * in the plugin folders, {@code --plugin-path} then {@code $JDM_PLUGIN_PATH}, found by {@link
 * ServiceLoader}), then the types jdm ships (on the daemon's class path).
 *
 * <p>A user's type wins over one jdm ships under the same name (the tutorial's {@code
 * basic_target}, or any other), with an INFO line in the log naming both; between two plugins, the
 * first folder and, within a folder, the first jar by name wins, with a WARNING. The built-ins
 * ({@code error}, {@code linear}, {@code striped}, {@code zero}) cannot be replaced, as in the
 * kernel (a WARNING says so). A jar whose providers cannot be loaded is reported and skipped.
 *
 * <p>Plugin classes load through a class loader whose parent is jdm's: a plugin sees jdm's API
 * ({@code io.jdm.core}) and must not bundle it.
 */
final class Plugins {
  private static final System.Logger LOG = System.getLogger(Plugins.class.getName());

  /** The environment variable holding more plugin folders, separated by {@code :}. */
  static final String ENV = "JDM_PLUGIN_PATH";

  private Plugins() {}

  /**
   * The plugin folders: {@code option} entries, then {@code $JDM_PLUGIN_PATH}'s; each may hold
   * several separated by {@code :}; empty entries are skipped.
   */
  static List<Path> folders(List<String> option, Map<String, String> env) {
    List<Path> l = new ArrayList<>();
    List<String> all = new ArrayList<>();
    if (option != null) {
      all.addAll(option);
    }
    String e = env.get(ENV);
    if (e != null) {
      all.add(e);
    }
    for (String s : all) {
      for (String p : s.split(":")) {
        if (!p.isEmpty()) {
          l.add(Path.of(p).toAbsolutePath());
        }
      }
    }
    return l;
  }

  /**
   * The registry for a daemon with plugins in {@code folders}.
   *
   * @throws IOException if a folder does not exist or cannot be listed
   */
  static TargetRegistry registry(List<Path> folders) throws IOException {
    TargetRegistry r = TargetRegistry.builtins();
    Map<String, String> from = new HashMap<>(); // type name -> where it came from
    if (!folders.isEmpty()) {
      List<URL> jars = new ArrayList<>();
      Map<String, Path> jarOf = new HashMap<>();
      for (Path f : folders) {
        if (!Files.isDirectory(f)) {
          throw new IOException("plugin folder " + f + ": no such folder");
        }
        try (Stream<Path> s = Files.list(f)) {
          for (Path j :
              s.filter(p -> p.getFileName().toString().endsWith(".jar")).sorted().toList()) {
            URL u = url(j);
            jars.add(u);
            jarOf.put(u.toString(), j);
          }
        }
      }
      ClassLoader parent = Plugins.class.getClassLoader();
      // kept open for the daemon's life: the plugins' classes load lazily
      @SuppressWarnings("resource")
      URLClassLoader loader = new URLClassLoader("jdm-plugins", jars.toArray(new URL[0]), parent);
      Iterator<TargetType> it = ServiceLoader.load(TargetType.class, loader).iterator();
      while (true) {
        TargetType t;
        try {
          if (!it.hasNext()) {
            break;
          }
          t = it.next();
        } catch (ServiceConfigurationError e) {
          LOG.log(
              System.Logger.Level.WARNING, "cannot load a plugin target type: " + e.getMessage());
          continue;
        }
        if (t.getClass().getClassLoader() != loader) {
          continue; // one of jdm's own, seen through the parent: registered below
        }
        String where = where(t, jarOf);
        String taken = from.get(t.name());
        if (r.get(t.name()) != null) {
          LOG.log(
              System.Logger.Level.WARNING,
              taken == null
                  ? "target type {0} from {1} ignored: {0} is built in and cannot be replaced"
                  : "target type {0} from {1} ignored: {2} provides {0} already",
              t.name(),
              where,
              taken);
          continue;
        }
        register(r, t, where);
        from.put(t.name(), where);
      }
    }
    for (Iterator<TargetType> it = ServiceLoader.load(TargetType.class, parentLoader()).iterator();
        ; ) {
      TargetType t;
      try {
        if (!it.hasNext()) {
          break;
        }
        t = it.next();
      } catch (ServiceConfigurationError e) {
        LOG.log(System.Logger.Level.WARNING, "cannot load a target type: " + e.getMessage(), e);
        continue;
      }
      String user = from.get(t.name());
      if (user != null) {
        LOG.log(
            System.Logger.Level.INFO,
            "target type {0} from {1} replaces jdm''s {0} ({2})",
            t.name(),
            user,
            t.getClass().getName());
        continue;
      }
      if (r.get(t.name()) == null) {
        r.register(t);
      }
    }
    return r;
  }

  private static void register(TargetRegistry r, TargetType t, String where) {
    try {
      r.register(t);
      LOG.log(
          System.Logger.Level.INFO,
          "target type {0} v{1} loaded from {2}",
          t.name(),
          t.version(),
          where);
    } catch (IllegalArgumentException e) {
      LOG.log(
          System.Logger.Level.WARNING, "target type from " + where + " ignored: " + e.getMessage());
    }
  }

  private static ClassLoader parentLoader() {
    ClassLoader cl = Thread.currentThread().getContextClassLoader();
    return cl != null ? cl : Plugins.class.getClassLoader();
  }

  /** {@code /plugins/mine.jar (com.example.MyTarget)}. */
  private static String where(TargetType t, Map<String, Path> jarOf) {
    String jar = "?";
    java.security.CodeSource cs = t.getClass().getProtectionDomain().getCodeSource();
    if (cs != null && cs.getLocation() != null) {
      Path p = jarOf.get(cs.getLocation().toString());
      jar = p != null ? p.toString() : cs.getLocation().toString();
    }
    return jar + " (" + t.getClass().getName() + ")";
  }

  private static URL url(Path jar) throws IOException {
    try {
      return jar.toUri().toURL();
    } catch (MalformedURLException e) {
      throw new IOException(jar + ": " + e.getMessage(), e);
    }
  }
}
