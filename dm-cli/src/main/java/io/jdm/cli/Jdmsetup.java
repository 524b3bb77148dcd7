package io.jdm.cli;

import io.jdm.core.Errno;
import io.jdm.nbd.NbdBlockDevice;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.logging.ConsoleHandler;
import java.util.logging.Handler;
import java.util.logging.Logger;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ScopeType;

/**
 * {@code jdmsetup}, dmsetup for jdm: {@code jdmsetup daemon} runs a device mapper with a control
 * socket and an NBD server in a state folder ({@link RuntimeDir}); every other command talks to
 * that daemon, with {@code dmsetup}'s names, arguments, output and exit codes (0 on success, 1 on
 * failure, with {@code Command failed.} on stderr).
 *
 * <p>{@link #execute} runs one command line with the given streams and environment, so tests drive
 * the same entry point as {@link #main}.
 */
@Command(
    name = "jdmsetup",
    mixinStandardHelpOptions = true,
    scope = ScopeType.INHERIT, // every command takes --help
    versionProvider = Jdmsetup.Version.class,
    subcommands = CommandLine.HelpCommand.class,
    description = {
      "dmsetup for jdm: device-mapper devices in a JVM daemon, exported over NBD.",
      "The daemon's folder is --runtime-dir, else $JDM_RUNTIME_DIR, else $XDG_RUNTIME_DIR/jdm,"
          + " else <tmp>/jdm-<user>."
    })
public final class Jdmsetup {
  private static final System.Logger LOG = System.getLogger(Jdmsetup.class.getName());

  @Option(
      names = "--runtime-dir",
      paramLabel = "DIR",
      scope = ScopeType.INHERIT,
      description = "The daemon's state folder (control socket, nbd.sock, pid file, log).")
  String runtimeDirOption;

  private final Map<String, String> env;
  final InputStream stdin;
  final PrintWriter out;
  final PrintWriter err;

  private Jdmsetup(Map<String, String> env, InputStream stdin, PrintWriter out, PrintWriter err) {
    this.env = env;
    this.stdin = stdin;
    this.out = out;
    this.err = err;
  }

  /** Runs one command line and exits with its status. */
  public static void main(String[] args) {
    System.exit(execute(args, System.getenv(), System.in, System.out, System.err));
  }

  /**
   * Runs one command line.
   *
   * @param env the environment ({@code JDM_RUNTIME_DIR}, {@code XDG_RUNTIME_DIR})
   * @param stdin where {@code create} and {@code load} read a table when given none
   * @return the exit status: 0 on success, 1 on failure
   */
  public static int execute(
      String[] args, Map<String, String> env, InputStream stdin, PrintStream out, PrintStream err) {
    PrintWriter o = new PrintWriter(out, true, StandardCharsets.UTF_8);
    PrintWriter e = new PrintWriter(err, true, StandardCharsets.UTF_8);
    try {
      return commandLine(env, stdin, o, e).execute(args);
    } finally {
      o.flush();
      e.flush();
    }
  }

  static CommandLine commandLine(
      Map<String, String> env, InputStream stdin, PrintWriter out, PrintWriter err) {
    Jdmsetup app = new Jdmsetup(env, stdin, out, err);
    CommandLine cl = new CommandLine(app);
    cl.addSubcommand(new VerityCommands(app));
    cl.addSubcommand(new CryptCommands(app));
    // cryptsetup's verbs at the top level too, but for status, which is dmsetup's there
    CryptCommands crypt = new CryptCommands(app);
    CommandLine donor = new CommandLine(crypt);
    java.util.Set<CommandLine> topCrypt =
        java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    for (CommandLine sub : donor.getSubcommands().values()) {
      if (!topCrypt.contains(sub) && !sub.getCommandName().equals("status")) {
        topCrypt.add(sub);
        cl.addSubcommand(sub.getCommandName(), sub);
      }
    }
    // picocli calls a method command on its parent's object, now the root: call these on crypt
    cl.setExecutionStrategy(
        parsed -> {
          List<CommandLine> chain = parsed.asCommandLineList();
          CommandLine last = chain.get(chain.size() - 1);
          if (!topCrypt.contains(last)) {
            return new CommandLine.RunLast().execute(parsed);
          }
          Integer help = CommandLine.executeHelpRequest(parsed);
          if (help != null) {
            return help;
          }
          return invoke(crypt, last);
        });
    HelpFamilies.install(cl);
    cl.setOut(out);
    cl.setErr(err);
    cl.setCaseInsensitiveEnumValuesAllowed(true);
    cl.setParameterExceptionHandler(
        (ex, args) -> {
          CommandLine c = ex.getCommandLine();
          if (ex instanceof CommandLine.UnmatchedArgumentException
              && c.getParent() != null
              && ((CommandLine.UnmatchedArgumentException) ex)
                  .getUnmatched().stream().noneMatch(a -> a.startsWith("-"))) {
            // an extra positional argument: dmsetup's words, then the command's usage
            c.getErr().println("Incorrect number of arguments.");
          } else {
            c.getErr().println(c.getCommandName() + ": " + ex.getMessage());
          }
          c.usage(c.getErr());
          return 1; // dmsetup exits 1 on bad usage too
        });
    cl.setExecutionExceptionHandler(
        (ex, c, parsed) -> {
          boolean expected = ex instanceof IOException || ex instanceof IllegalArgumentException;
          c.getErr().println("jdmsetup: " + (expected ? ex.getMessage() : ex.toString()));
          LOG.log(System.Logger.Level.DEBUG, "command failed", ex);
          return 1;
        });
    return cl;
  }

  /**
   * Calls the method command {@code c} on {@code target} with its parsed values, as picocli's own
   * {@code commandMethodParamValues} lays them out: a mixin parameter takes the mixin's object and
   * its options' places, any other parameter the next option or positional.
   */
  private static int invoke(Object target, CommandLine c) {
    CommandLine.Model.CommandSpec spec = c.getCommandSpec();
    java.lang.reflect.Method m = (java.lang.reflect.Method) spec.userObject();
    java.lang.reflect.Parameter[] ps = m.getParameters();
    Object[] values = new Object[ps.length];
    List<CommandLine.Model.ArgSpec> args = spec.args();
    int next = 0;
    for (int i = 0; i < ps.length; i++) {
      CommandLine.Mixin mixin = ps[i].getAnnotation(CommandLine.Mixin.class);
      if (mixin != null) {
        CommandLine.Model.CommandSpec ms =
            spec.mixins().get(mixin.name().isEmpty() ? ps[i].getName() : mixin.name());
        values[i] = ms.userObject();
        next += ms.args().size();
      } else {
        values[i] = args.get(next++).getValue();
      }
    }
    try {
      return (Integer) m.invoke(target, values);
    } catch (java.lang.reflect.InvocationTargetException e) {
      Throwable t = e.getCause();
      throw new CommandLine.ExecutionException(c, String.valueOf(t.getMessage()), t);
    } catch (IllegalAccessException e) {
      throw new CommandLine.ExecutionException(c, e.toString(), e);
    }
  }

  RuntimeDir runtimeDir() {
    return RuntimeDir.resolve(runtimeDirOption, env);
  }

  // ---------------------------------------------------------------------------------------------
  // The daemon

  @Command(
      name = "daemon",
      description = {
        "Runs the daemon: a device mapper with a control socket and an NBD server on nbd.sock"
            + " (each mapped device exported under its name).",
        "Stops cleanly on SIGTERM, on `jdmsetup daemon --stop` and on a shutdown request."
      })
  int daemon(
      @Option(
              names = "--listen",
              paramLabel = "HOST:PORT",
              description =
                  "Also export over TCP (port 0 picks one). Loopback only (127.0.0.1, [::1])"
                      + " unless --allow-remote.")
          String listen,
      @Option(
              names = "--allow-remote",
              description =
                  "Allow --listen on an address other than loopback: every device, unlocked LUKS"
                      + " volumes included, is served read-write to whoever reaches it.")
          boolean allowRemote,
      @Option(
              names = "--tls",
              paramLabel = "DIR",
              description =
                  "Require TLS for NBD over TCP, with qemu's tls-creds-x509 files in DIR:"
                      + " server-cert.pem, server-key.pem (PKCS#8), and ca-cert.pem to require"
                      + " client certificates signed by it.")
          Path tls,
      @Option(
              names = "--export-readonly",
              paramLabel = "NAME",
              description = "Export device NAME read-only over NBD (repeatable).")
          List<String> readOnlyExports,
      @Option(
              names = "--default-export",
              paramLabel = "NAME",
              description =
                  "Serve device NAME to NBD clients that ask for the default (empty) export name,"
                      + " such as nbd+unix:///?socket=... (default: the only device, if there is"
                      + " one).")
          String defaultExport,
      @Option(
              names = "--path-checker",
              paramLabel = "SECONDS",
              description =
                  "Multipath devices probe their failed paths every SECONDS and reinstate those"
                      + " that answer (a jdm extension; off by default: reinstate_path, as"
                      + " multipathd would).")
          Integer pathChecker,
      @Option(
              names = "--foreground",
              description = "Run in this process until stopped (the default).")
          boolean foreground,
      @Option(
              names = "--background",
              description = "Start the daemon as a new process and return once it serves.")
          boolean background,
      @Option(names = "--stop", description = "Stop the running daemon and wait until it has.")
          boolean stop,
      @Option(
              names = "--plugin-path",
              paramLabel = "DIR[:DIR...]",
              description =
                  "Folders of jars with your own target types (TargetType providers found by"
                      + " ServiceLoader), before $JDM_PLUGIN_PATH's; yours win over jdm's of the"
                      + " same name (repeatable).")
          List<String> pluginPath,
      @Option(names = "--notify-ready", hidden = true) boolean notifyReady)
      throws IOException, InterruptedException {
    RuntimeDir dir = runtimeDir();
    if (stop) {
      return call(Protocol.Request.of("shutdown").build(), null);
    }
    Daemon.Options.Builder ob = Daemon.Options.builder().allowRemote(allowRemote);
    Plugins.folders(pluginPath, env).forEach(ob::pluginFolder);
    if (tls != null) {
      ob.tls(tls.toAbsolutePath());
    }
    if (readOnlyExports != null) {
      readOnlyExports.forEach(ob::readOnlyExport);
    }
    if (defaultExport != null) {
      ob.defaultExport(defaultExport);
    }
    if (listen != null) {
      ob.listen(parseHostPort(listen));
    }
    if (pathChecker != null) {
      if (pathChecker < 1) {
        err.println("jdmsetup: --path-checker " + pathChecker + ": expected seconds >= 1");
        return 1;
      }
      ob.pathChecker(Duration.ofSeconds(pathChecker));
    }
    Daemon.Options options;
    try {
      options = ob.build();
    } catch (IllegalArgumentException e) {
      err.println("jdmsetup: " + e.getMessage());
      return 1;
    }
    for (InetSocketAddress a : options.listen()) {
      if (!a.getAddress().isLoopbackAddress() && tls == null) {
        err.println(
            "jdmsetup: WARNING: every device is exported over NBD on "
                + Daemon.Options.hostPort(a)
                + " with no authentication and no encryption");
      }
    }
    if (background && !foreground) {
      List<String> pass = new ArrayList<>();
      if (listen != null) {
        pass.addAll(List.of("--listen", listen));
      }
      if (allowRemote) {
        pass.add("--allow-remote");
      }
      if (tls != null) {
        pass.addAll(List.of("--tls", tls.toAbsolutePath().toString()));
      }
      if (readOnlyExports != null) {
        readOnlyExports.forEach(n -> pass.addAll(List.of("--export-readonly", n)));
      }
      if (defaultExport != null) {
        pass.addAll(List.of("--default-export", defaultExport));
      }
      if (pathChecker != null) {
        pass.addAll(List.of("--path-checker", pathChecker.toString()));
      }
      if (pluginPath != null) {
        // absolute: the daemon may run elsewhere; $JDM_PLUGIN_PATH reaches it through the
        // environment
        Plugins.folders(pluginPath, Map.of())
            .forEach(p -> pass.addAll(List.of("--plugin-path", p.toString())));
      }
      return Background.start(dir, pass, out, err);
    }
    if (!notifyReady) {
      oneLineConsole();
    }
    Daemon d;
    try {
      d = Daemon.start(dir, options);
    } catch (Daemon.AlreadyRunningException e) {
      err.println(e.getMessage());
      return 1;
    } catch (IOException e) {
      err.println("jdmsetup: cannot start the daemon on " + dir + ": " + e.getMessage());
      return 1;
    }
    Thread hook = new Thread(d::close, "jdmsetup-sigterm");
    Runtime.getRuntime().addShutdownHook(hook);
    if (notifyReady) {
      detachConsole();
      out.println("ready " + ProcessHandle.current().pid());
      out.flush();
      out.close();
      err.close();
    }
    try {
      d.awaitTermination();
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the hook is running: it closes the daemon
      }
    }
    return 0;
  }

  private static InetSocketAddress parseHostPort(String s) {
    int colon = s.lastIndexOf(':');
    if (colon < 0) {
      throw new IllegalArgumentException("--listen " + s + ": expected HOST:PORT");
    }
    String host = s.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(s.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--listen " + s + ": bad port");
    }
    InetSocketAddress a = new InetSocketAddress(host.isEmpty() ? "0.0.0.0" : host, port);
    if (a.isUnresolved()) {
      throw new IllegalArgumentException("--listen " + s + ": unknown host " + host);
    }
    return a;
  }

  /** A background daemon logs only to daemon.log. */
  private static void detachConsole() {
    Logger root = Logger.getLogger("");
    for (Handler h : root.getHandlers()) {
      if (h instanceof ConsoleHandler) {
        root.removeHandler(h);
      }
    }
  }

  /** A foreground daemon shows its log on stderr as daemon.log has it. */
  private static void oneLineConsole() {
    for (Handler h : Logger.getLogger("").getHandlers()) {
      if (h instanceof ConsoleHandler) {
        h.setFormatter(new OneLineFormatter());
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // dmsetup's commands

  @Command(
      name = "create",
      description =
          "Creates a device and loads its table (--table, a FILE, else stdin) unless --notable.")
  int create(
      @Parameters(index = "0", paramLabel = "NAME") String name,
      @Parameters(index = "1", arity = "0..1", paramLabel = "FILE") Path file,
      @Option(
              names = "--table",
              paramLabel = "TABLE",
              description = "Table text, lines by ';' or newline.")
          String table,
      @Option(names = "--notable", description = "Create the device without a table.")
          boolean notable,
      @Option(
              names = {"-r", "--readonly"},
              description = "Load the table read-only.")
          boolean readOnly,
      @Option(
              names = {"-u", "--uuid"},
              paramLabel = "UUID")
          String uuid)
      throws IOException {
    if (table != null && notable) {
      return commandLineError("--table and --notable are incompatible.");
    }
    if (file != null && (table != null || notable)) {
      return incorrectArguments("create"); // dmsetup would silently ignore FILE
    }
    String t = notable ? null : tableText(table, file);
    return call(
        Protocol.Request.of("create")
            .arg("name", name)
            .arg("uuid", uuid)
            .flag("readonly", readOnly)
            .arg("table", t)
            .build(),
        label(name, uuid, null));
  }

  /** dmsetup's answer to a bad switch: the reason, then {@code Couldn't process command line.} */
  private int commandLineError(String reason) {
    err.println(reason);
    err.println("Couldn't process command line.");
    return 1;
  }

  /** dmsetup's answer to a positional argument too many, with the command's usage. */
  private int incorrectArguments(String command) {
    err.println("Incorrect number of arguments.");
    CommandLine root = commandLine(env, stdin, out, err);
    root.getSubcommands().get(command).usage(err);
    return 1;
  }

  /**
   * What dmsetup's failure line names ({@code ioctl on NAME UUID(MAJ:MIN) failed}): the name, the
   * uuid, the number asked for.
   */
  private static String label(String name, String uuid, Select sel) {
    StringBuilder sb = new StringBuilder(name == null ? "" : name).append(' ');
    if (uuid != null) {
      sb.append(uuid);
    } else if (name == null && sel != null && sel.uuid != null) {
      sb.append(sel.uuid);
    }
    if (name == null && sel != null && sel.major != null && sel.uuid == null) {
      sb.append('(').append(sel.major).append(':').append(sel.minor).append(')');
    }
    return sb.toString();
  }

  /**
   * dmsetup's device selection: {@code -u UUID} or {@code -j MAJOR -m MINOR}, used when no device
   * is named.
   */
  static final class Select {
    @Option(
        names = {"-u", "--uuid"},
        paramLabel = "UUID",
        description = "The device with this uuid (when no NAME is given).")
    String uuid;

    @Option(
        names = {"-j", "--major"},
        paramLabel = "MAJOR",
        description = "With -m: the device with this number (when no NAME is given).")
    Integer major;

    @Option(
        names = {"-m", "--minor"},
        paramLabel = "MINOR",
        description = "With -j: the device with this number.")
    Integer minor;

    boolean given() {
      return uuid != null || major != null;
    }

    /** Adds the selection keys to a request that names no device. */
    Protocol.Request.Builder to(Protocol.Request.Builder b) {
      if (uuid != null) {
        return b.arg("by_uuid", uuid);
      }
      if (major != null) {
        return b.arg("by_major", Integer.toString(major)).arg("by_minor", Integer.toString(minor));
      }
      return b;
    }
  }

  /** dmsetup refuses {@code -j} without {@code -m} and the other way round. */
  private boolean badSelect(Select sel) {
    if ((sel.major == null) != (sel.minor == null)) {
      commandLineError("Please specify both major number and minor number.");
      return true;
    }
    return false;
  }

  @Command(
      name = "load",
      aliases = "reload",
      description = "Loads a table (--table, a FILE, else stdin) into the inactive slot.")
  int load(
      @Parameters(index = "0", paramLabel = "NAME") String name,
      @Parameters(index = "1", arity = "0..1", paramLabel = "FILE") Path file,
      @Option(names = "--table", paramLabel = "TABLE") String table,
      @Option(names = {"-r", "--readonly"}) boolean readOnly)
      throws IOException {
    if (file != null && table != null) {
      return incorrectArguments("load");
    }
    return call(
        Protocol.Request.of("load")
            .arg("name", name)
            .flag("readonly", readOnly)
            .arg("table", tableText(table, file))
            .build(),
        name);
  }

  /** dmsetup's {@code --table} takes {@code ;} as a line separator. */
  private String tableText(String table, Path file) throws IOException {
    if (table != null) {
      return table.replace(';', '\n');
    }
    if (file != null) {
      try {
        return Files.readString(file, StandardCharsets.UTF_8);
      } catch (NoSuchFileException e) {
        throw new IOException(file + ": No such file or directory", e);
      }
    }
    return new String(stdin.readAllBytes(), StandardCharsets.UTF_8);
  }

  @Command(name = "suspend", description = "Suspends a device (flushing unless --noflush).")
  int suspend(
      @Option(names = "--noflush") boolean noflush,
      @CommandLine.Mixin Select sel,
      @Parameters(paramLabel = "NAME", arity = "0..*") List<String> names)
      throws IOException {
    return each(
        names, sel, n -> Protocol.Request.of("suspend").arg("name", n).flag("noflush", noflush));
  }

  @Command(name = "resume", description = "Resumes a device, making an inactive table live.")
  int resume(
      @Option(names = "--noflush") boolean noflush,
      @CommandLine.Mixin Select sel,
      @Parameters(paramLabel = "NAME", arity = "0..*") List<String> names)
      throws IOException {
    return each(
        names, sel, n -> Protocol.Request.of("resume").arg("name", n).flag("noflush", noflush));
  }

  @Command(name = "remove", description = "Removes a device.")
  int remove(
      @Option(
              names = {"-f", "--force"},
              description = "Replace the table with one that fails all I/O first.")
          boolean force,
      @Option(names = "--deferred", description = "Remove it when its last user closes it.")
          boolean deferred,
      @Option(
              names = "--retry",
              description =
                  "While the device is busy, try again (every 0.2 s, 25 times), as libdm does.")
          boolean retry,
      @CommandLine.Mixin Select sel,
      @Parameters(paramLabel = "NAME", arity = "0..*") List<String> names)
      throws IOException {
    PerName f =
        n ->
            Protocol.Request.of("remove")
                .arg("name", n)
                .flag("force", force)
                .flag("deferred", deferred);
    if (!retry) {
      return each(names, sel, f);
    }
    if (badSelect(sel)) {
      return 1;
    }
    List<String> targets = names == null || names.isEmpty() ? singletonNull() : names;
    if (targets.get(0) == null && !sel.given()) {
      return noDevice();
    }
    int rc = 0;
    for (String n : targets) {
      Protocol.Request r = (n == null ? sel.to(f.request(null)) : f.request(n)).build();
      Protocol.Response resp = send(r);
      for (int i = 0; resp != null && busy(resp) && i < REMOVE_RETRIES; i++) {
        retrySleeper.sleep();
        resp = send(r);
      }
      rc |= answer(r, label(n, null, sel), resp, new StringBuilder());
    }
    return rc;
  }

  /** libdm's {@code DM_IOCTL_RETRIES}: how often {@code remove --retry} tries again. */
  static final int REMOVE_RETRIES = 25;

  /** Waits between {@code remove --retry} attempts; tests replace it. */
  interface Sleeper {
    void sleep();
  }

  /** libdm's {@code DM_RETRY_USLEEP_DELAY}: 200 ms. */
  static volatile Sleeper retrySleeper =
      () -> {
        try {
          Thread.sleep(200);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      };

  private static boolean busy(Protocol.Response r) {
    return !r.ok() && Errno.EBUSY.name().equals(r.errno());
  }

  private static List<String> singletonNull() {
    List<String> l = new ArrayList<>();
    l.add(null);
    return l;
  }

  private int noDevice() {
    err.println("No device specified.");
    err.println("Command failed.");
    return 1;
  }

  @Command(name = "remove_all", description = "Removes every device it can.")
  int removeAll(@Option(names = {"-f", "--force"}) boolean force) throws IOException {
    return call(Protocol.Request.of("remove_all").flag("force", force).build(), null);
  }

  @Command(name = "rename", description = "Renames a device, or sets its uuid (--setuuid).")
  int rename(
      @Parameters(index = "0", paramLabel = "NAME") String name,
      @Parameters(index = "1", arity = "0..1", paramLabel = "NEW_NAME") String newName,
      @Option(names = "--setuuid", paramLabel = "UUID") String uuid)
      throws IOException {
    if ((newName == null) == (uuid == null)) {
      err.println("rename: give NEW_NAME or --setuuid UUID");
      return 1;
    }
    return call(
        Protocol.Request.of("rename")
            .arg("name", name)
            .arg("newname", newName)
            .arg("uuid", uuid)
            .build(),
        name);
  }

  @Command(name = "clear", description = "Drops the inactive table.")
  int clear(
      @CommandLine.Mixin Select sel,
      @Parameters(paramLabel = "NAME", arity = "0..*") List<String> names)
      throws IOException {
    return each(names, sel, n -> Protocol.Request.of("clear").arg("name", n));
  }

  @Command(
      name = "ls",
      description = {
        "Lists devices with their numbers (-o devno), mapped devices' names (-o devname) or kernel"
            + " names (-o blkdevname), or as a tree.",
        "--target TYPE: only devices with a target of that type (with -u or -j/-m: that device"
            + " if it has one)."
      })
  int ls(
      @Option(names = "--tree") boolean tree,
      @Option(names = "--target", paramLabel = "TYPE") String target,
      @Option(
              names = {"-o", "--options"},
              paramLabel = "OPTIONS")
          String options,
      @CommandLine.Mixin Select sel)
      throws IOException {
    if (badSelect(sel)) {
      return 1;
    }
    String names = null;
    if (options != null && !tree) {
      names = devNameOption(options);
      if (names == null) {
        return 1;
      }
    }
    Protocol.Request.Builder b =
        Protocol.Request.of("ls").flag("tree", tree).arg("target", target).arg("names", names);
    if (target != null) {
      sel.to(b); // dmsetup's ls honours -u/-j only through its status path
    }
    return call(b.build(), target != null ? label(null, null, sel) : null);
  }

  /**
   * dmsetup's {@code -o} for {@code ls} and {@code deps}: {@code devno}, {@code devname} or {@code
   * blkdevname} (comma-separated, the last wins; prefixes accepted as dmsetup accepts them), or
   * {@code null} with dmsetup's complaint printed.
   */
  private String devNameOption(String options) {
    String kind = "devno";
    for (String o : options.split(",", -1)) {
      if (o.isEmpty()) {
        break;
      }
      if ("devno".startsWith(o)) {
        kind = "devno";
      } else if ("blkdevname".startsWith(o)) {
        kind = "blkdevname";
      } else if ("devname".startsWith(o)) {
        kind = "devname";
      } else {
        commandLineError("Option not recognised: " + options.substring(options.indexOf(o)) + ".");
        return null;
      }
    }
    return kind;
  }

  @Command(name = "table", description = "Prints live tables (crypt keys hidden).")
  int table(
      @Option(names = "--showkeys", description = "Show crypt keys.") boolean showKeys,
      @Option(names = "--inactive", description = "The inactive table.") boolean inactive,
      @Option(
              names = "--target",
              paramLabel = "TYPE",
              description = "Only the lines of targets of this type.")
          String target,
      @CommandLine.Mixin Select sel,
      @Parameters(paramLabel = "NAME", arity = "0..*") List<String> names)
      throws IOException {
    return query(
        Protocol.Request.of("table")
            .flag("showkeys", showKeys)
            .flag("inactive", inactive)
            .arg("target", target),
        names,
        sel);
  }

  @Command(name = "status", description = "Prints the targets' status lines.")
  int status(
      @Option(
              names = "--target",
              paramLabel = "TYPE",
              description = "Only the lines of targets of this type.")
          String target,
      @CommandLine.Mixin Select sel,
      @Parameters(paramLabel = "NAME", arity = "0..*") List<String> names)
      throws IOException {
    return query(Protocol.Request.of("status").arg("target", target), names, sel);
  }

  @Command(
      name = "info",
      description = {
        "Prints what dmsetup info prints; with -c, dmsetup's report: -o FIELDS (+FIELDS adds to"
            + " the default; -o help lists them), --noheadings, --separator, --nameprefixes."
      })
  int info(
      @Option(
              names = {"-c", "-C", "--columns"},
              description = "One line per device.")
          boolean columns,
      @Option(
              names = {"-o", "--options"},
              paramLabel = "FIELDS")
          String options,
      @Option(names = "--noheadings", description = "No heading line (and ':' between fields).")
          boolean noHeadings,
      @Option(names = "--separator", paramLabel = "SEP") String separator,
      @Option(names = "--nameprefixes", description = "DM_FIELD='value' words.")
          boolean namePrefixes,
      @CommandLine.Mixin Select sel,
      @Parameters(paramLabel = "NAME", arity = "0..*") List<String> names)
      throws IOException {
    if (badSelect(sel)) {
      return 1;
    }
    if (!columns) {
      // without -c, dmsetup reads -o as ls's and deps's device-name option
      if (options != null && devNameOption(options) == null) {
        return 1;
      }
      return query(Protocol.Request.of("info"), names, sel);
    }
    if (options != null && (options.equals("help") || options.equals("?"))) {
      err.print(Report.help());
      return 0;
    }
    Report report;
    try {
      report = Report.of(options, noHeadings, separator, namePrefixes);
    } catch (Report.UnknownFieldException e) {
      err.print(Report.help());
      err.println(" ");
      err.println("Unrecognised field: " + e.getMessage());
      return 1;
    }
    // column alignment is the client's business, as in dmsetup: the daemon sends the fields
    StringBuilder sb = new StringBuilder();
    int rc = query(Protocol.Request.of("report"), names, sel, sb);
    if (sb.toString().equals("No devices found\n")) {
      out.print(sb);
      return rc;
    }
    for (String line : sb.toString().split("\n")) {
      if (line.startsWith("device ")) {
        report.add(line);
      }
    }
    out.print(report.render());
    return rc;
  }

  @Command(
      name = "deps",
      description =
          "Prints the devices each device uses: numbers, or with -o devname / -o blkdevname the"
              + " mapped devices' names or kernel names.")
  int deps(
      @Option(
              names = {"-o", "--options"},
              paramLabel = "OPTIONS")
          String options,
      @CommandLine.Mixin Select sel,
      @Parameters(paramLabel = "NAME", arity = "0..*") List<String> names)
      throws IOException {
    String kind = null;
    if (options != null) {
      kind = devNameOption(options);
      if (kind == null) {
        return 1;
      }
    }
    return query(
        Protocol.Request.of("deps").arg("names", "devno".equals(kind) ? null : kind), names, sel);
  }

  @Command(name = "message", description = "Sends a message to the target at SECTOR.")
  int message(
      @Parameters(index = "0", paramLabel = "NAME") String name,
      @Parameters(index = "1", paramLabel = "SECTOR") String sector,
      @Parameters(index = "2..*", arity = "1..*", paramLabel = "MSG") List<String> words)
      throws IOException {
    // the kernel re-splits the message into words
    Protocol.Request.Builder b =
        Protocol.Request.of("message").arg("name", name).arg("sector", sector);
    for (String w : String.join(" ", words).trim().split("\\s+")) {
      b.arg("arg", w);
    }
    return call(b.build(), name);
  }

  @Command(name = "targets", description = "Lists the target types and their versions.")
  int targets() throws IOException {
    return call(Protocol.Request.of("targets").build(), null);
  }

  @Command(name = "version", description = "Prints the library and driver (daemon) versions.")
  int version() throws IOException {
    out.println("Library version:   " + Version.VERSION + " (jdmsetup)");
    return call(Protocol.Request.of("version").build(), null);
  }

  @Command(
      name = "wait",
      description = "Waits until the device's event number differs from EVENT_NR (default 0).")
  int waitEvent(
      @CommandLine.Mixin Select sel,
      @Parameters(paramLabel = "NAME [EVENT_NR]", arity = "0..2") List<String> args)
      throws IOException {
    if (badSelect(sel)) {
      return 1;
    }
    List<String> a = args == null ? List.of() : args;
    String name = null;
    if (!sel.given()) {
      if (a.isEmpty()) {
        return noDevice();
      }
      name = a.get(0);
      a = a.subList(1, a.size());
    }
    if (a.size() > 1) {
      return incorrectArguments("wait");
    }
    String event = a.isEmpty() ? null : a.get(0);
    Protocol.Request.Builder b = Protocol.Request.of("wait").arg("name", name).arg("event", event);
    if (name == null) {
      sel.to(b);
    }
    return call(b.build(), label(name, null, sel));
  }

  @Command(
      name = "nbd-write",
      hidden = true,
      description = "Writes LENGTH bytes of PATTERN at OFFSET through jdm's NBD client.")
  int nbdWrite(
      @Parameters(index = "0", paramLabel = "URI") String uri,
      @Parameters(index = "1", paramLabel = "OFFSET") long offset,
      @Parameters(index = "2", paramLabel = "LENGTH") int length,
      @Option(names = "--pattern", defaultValue = "0x5a") String pattern)
      throws IOException {
    byte p = (byte) Integer.decode(pattern).intValue();
    byte[] data = new byte[length];
    Arrays.fill(data, p);
    try (NbdBlockDevice d = NbdBlockDevice.open(uri)) {
      d.write(ByteBuffer.wrap(data), offset);
      d.flush();
    }
    out.printf(Locale.ROOT, "wrote %d/%d bytes at offset %d%n", length, length, offset);
    return 0;
  }

  // ---------------------------------------------------------------------------------------------
  // Talking to the daemon

  private interface PerName {
    Protocol.Request.Builder request(String name);
  }

  /** suspend, resume, remove, clear: each named device, or the one -u / -j -m selects. */
  private int each(List<String> names, Select sel, PerName f) throws IOException {
    if (badSelect(sel)) {
      return 1;
    }
    if (names == null || names.isEmpty()) {
      if (!sel.given()) {
        return noDevice();
      }
      return call(sel.to(f.request(null)).build(), label(null, null, sel));
    }
    int rc = 0;
    for (String n : names) {
      rc |= call(f.request(n).build(), n);
    }
    return rc;
  }

  private int query(Protocol.Request.Builder b, List<String> names, Select sel) throws IOException {
    if (badSelect(sel)) {
      return 1;
    }
    StringBuilder sb = new StringBuilder();
    int rc = query(b, names, sel, sb);
    out.print(sb);
    return rc;
  }

  /**
   * info, table, status, deps: named devices one by one, as dmsetup does (lines prefixed {@code
   * NAME: } when there are several), the one -u / -j -m selects, or all.
   */
  private int query(Protocol.Request.Builder b, List<String> names, Select sel, StringBuilder body)
      throws IOException {
    if (names == null || names.isEmpty()) {
      return call(sel.to(b).build(), sel.given() ? label(null, null, sel) : null, body);
    }
    int rc = 0;
    Protocol.Request proto = b.build();
    for (String n : names) {
      Protocol.Request.Builder one = Protocol.Request.of(proto.verb());
      for (Map.Entry<String, String> a : proto.args()) {
        one.arg(a.getKey(), a.getValue());
      }
      one.flag("prefix", names.size() > 1);
      rc |= call(one.arg("name", n).build(), n, body);
    }
    return rc;
  }

  private int call(Protocol.Request r, String name) throws IOException {
    StringBuilder sb = new StringBuilder();
    int rc = call(r, name, sb);
    out.print(sb);
    out.flush();
    return rc;
  }

  /** Sends {@code r}; appends the answer to {@code body}, or prints dmsetup's failure text. */
  private int call(Protocol.Request r, String name, StringBuilder body) throws IOException {
    return answer(r, name, send(r), body);
  }

  private int answer(Protocol.Request r, String name, Protocol.Response resp, StringBuilder body) {
    if (resp == null) {
      return 1;
    }
    if (resp.ok()) {
      body.append(resp.body());
      return 0;
    }
    failure(r.verb(), name, resp);
    return 1;
  }

  /** Sends {@code r} to the daemon; {@code null}, with the message printed, if none runs. */
  Protocol.Response send(Protocol.Request r) throws IOException {
    try (ControlClient c = ControlClient.connect(runtimeDir())) {
      return c.call(r);
    } catch (ControlClient.NoDaemonException e) {
      err.println(e.getMessage());
      return null;
    }
  }

  private static final List<String> QUERIES =
      List.of("info", "report", "table", "status", "deps", "wait");

  void failure(String verb, String name, Protocol.Response r) {
    Errno errno = errno(r.errno());
    boolean notFound =
        errno == Errno.ENXIO
            && r.message().startsWith("device ")
            && r.message().endsWith(" does not exist");

    if (notFound && QUERIES.contains(verb)) {
      err.println("Device does not exist.");
    } else {
      err.println(
          "device-mapper: "
              + r.ioctl()
              + " ioctl on "
              + (name == null ? " " : name.indexOf(' ') >= 0 ? name : name + " ")
              + " failed: "
              + (errno == null ? r.errno() : errno.text()));
      if (!notFound && !r.message().isEmpty()) {
        // the name alone (a label may carry a uuid or number) for "table: NAME:"
        String bare =
            name == null || name.indexOf(' ') < 0 ? name : name.substring(0, name.indexOf(' '));
        String where = r.ioctl().equals("reload") && bare != null ? "table: " + bare : "ioctl";
        err.println("device-mapper: " + where + ": " + r.message());
      }
    }
    err.println("Command failed.");
  }

  private static Errno errno(String name) {
    try {
      return Errno.valueOf(name);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /** The version from the build. */
  static final class Version implements CommandLine.IVersionProvider {
    static final String VERSION = load();

    private static String load() {
      Properties p = new Properties();
      try (InputStream in = Jdmsetup.class.getResourceAsStream("version.properties")) {
        if (in != null) {
          p.load(in);
        }
      } catch (IOException e) {
        LOG.log(System.Logger.Level.DEBUG, "no version.properties", e);
      }
      return p.getProperty("version", "unknown");
    }

    @Override
    public String[] getVersion() {
      return new String[] {"jdmsetup " + VERSION};
    }
  }
}
