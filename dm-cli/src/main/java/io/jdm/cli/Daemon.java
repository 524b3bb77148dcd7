package io.jdm.cli;

import io.jdm.core.Clock;
import io.jdm.core.DeviceMapper;
import io.jdm.core.Errno;
import io.jdm.core.TargetRegistry;
import io.jdm.nbd.NbdDeviceResolver;
import io.jdm.nbd.NbdExports;
import io.jdm.nbd.NbdServer;
import io.jdm.nbd.NbdTls;
import io.jdm.targets.multipath.MultipathTargetType;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Handler;
import java.util.logging.Logger;

/**
 * A running {@code jdmsetup} daemon: a {@link DeviceMapper} (with every target type the service
 * loader finds and the {@code nbd://} resolver), its control socket, and an {@link NbdServer}
 * exporting every mapped device under its name on {@code nbd.sock} (and on TCP if asked).
 *
 * <p>Start-up takes the lock on the pid file first: if another process (or another daemon in this
 * JVM) holds it, {@link #start} fails with {@link AlreadyRunningException} and touches nothing.
 * Otherwise any socket left in the folder belongs to a daemon that died, and is removed.
 *
 * <p>{@link #close()} (a {@code shutdown} request, {@code jdmsetup daemon --stop}, SIGTERM) stops
 * accepting, closes the NBD server (in-flight requests complete), closes the device mapper
 * (removing every device) and deletes the sockets and the pid file.
 *
 * <p>Who may connect: only processes of the daemon's user or root ({@code SO_PEERCRED}, {@link
 * PeerTrust}); the folder is the user's own and writable by nobody else. What a client can hold is
 * bounded ({@link Options}): connections, bytes per request line, bytes of all request buffers
 * together, idle time. NBD over TCP is refused on any address but loopback unless {@link
 * Options.Builder#allowRemote} says otherwise.
 *
 * <p>Thread model: one acceptor thread, and per control connection a reader thread and a request
 * thread ({@link ControlConnection}); requests are carried out by {@link Requests}, which relies on
 * the device mapper's own thread safety.
 */
public final class Daemon implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Daemon.class.getName());

  /** Linux limits a Unix socket path to 107 bytes. */
  private static final int MAX_SOCKET_PATH = 107;

  private final RuntimeDir dir;
  private final DeviceMapper dm;
  private final NbdServer nbd;
  private final ServerSocketChannel control;
  private final FileChannel pidChannel;
  private final FileLock pidLock;
  private final Handler logHandler;
  private final Requests requests;
  private final Thread acceptor;
  private final Options options;
  private final PeerTrust trust;
  private final ControlConnection.Limits limits;
  private final AtomicLong connectionIds = new AtomicLong();
  private final Set<ControlConnection> clients = ConcurrentHashMap.newKeySet();
  private final CountDownLatch terminated = new CountDownLatch(1);
  private final List<SocketAddress> nbdAddresses;
  private boolean closed;

  /**
   * How a daemon serves.
   *
   * @param listen TCP addresses to export NBD on as well (none by default)
   * @param allowRemote whether a TCP address other than loopback may be used (every device,
   *     unlocked LUKS volumes included, is then served to whoever reaches it)
   * @param maxConnections control connections at most; more are answered {@code EBUSY} and closed
   * @param maxRequestLine bytes per request line at most ({@code E2BIG} beyond)
   * @param requestMemory bytes that all connections' request buffers may hold together ({@code
   *     ENOMEM} beyond)
   * @param idleTimeout how long a control connection may sit with nothing to do (zero: for ever)
   * @param clock the device mapper's clock, which also times idle connections and NBD handshakes;
   *     {@code null} for a system clock of the device mapper's own
   * @param trustedUser whose connections are served (besides root)
   * @param tls a folder of qemu's {@code tls-creds-x509} layout ({@code server-cert.pem}, {@code
   *     server-key.pem}, and {@code ca-cert.pem} to require client certificates signed by it): NBD
   *     over TCP then requires TLS; {@code null} for none
   * @param readOnlyExports names of devices exported read-only over NBD, whatever the device
   * @param defaultExport the device NBD clients get when they ask for the empty export name (the
   *     protocol's default export); {@code null}: the only device when there is exactly one
   * @param pathChecker how often multipath devices probe their failed paths and reinstate those
   *     that answer ({@link MultipathTargetType#withPathChecker}, a jdm extension); {@code null}:
   *     never, as the kernel (paths come back with the {@code reinstate_path} message)
   * @param pluginPath folders of jars holding the user's target types ({@link Plugins}); a user's
   *     type wins over one jdm ships under the same name
   */
  public record Options(
      List<InetSocketAddress> listen,
      boolean allowRemote,
      int maxConnections,
      int maxRequestLine,
      long requestMemory,
      Duration idleTimeout,
      Clock clock,
      String trustedUser,
      Path tls,
      Set<String> readOnlyExports,
      String defaultExport,
      Duration pathChecker,
      List<Path> pluginPath) {
    /** Checks the values. */
    public Options {
      listen = List.copyOf(listen);
      pluginPath = List.copyOf(pluginPath);
      readOnlyExports = Set.copyOf(readOnlyExports);
      if (defaultExport != null && defaultExport.isEmpty()) {
        throw new IllegalArgumentException("default export: empty name");
      }
      if (maxConnections < 1) {
        throw new IllegalArgumentException("maxConnections " + maxConnections + " < 1");
      }
      if (maxRequestLine < 1 || maxRequestLine > requestMemory) {
        throw new IllegalArgumentException(
            "maxRequestLine "
                + maxRequestLine
                + " (expected: 1 <= maxRequestLine <= requestMemory "
                + requestMemory
                + ")");
      }
      Objects.requireNonNull(idleTimeout, "idleTimeout");
      Objects.requireNonNull(trustedUser, "trustedUser");
      if (pathChecker != null && (pathChecker.isNegative() || pathChecker.isZero())) {
        throw new IllegalArgumentException(
            "path checker interval " + pathChecker + " (expected: > 0)");
      }
      if (!allowRemote) {
        for (InetSocketAddress a : listen) {
          if (a.getAddress() == null || !a.getAddress().isLoopbackAddress()) {
            throw new IllegalArgumentException(
                "refusing to export every device over NBD on "
                    + hostPort(a)
                    + " without --allow-remote: anyone who reaches this address can read and"
                    + " write every device, unlocked LUKS volumes included (listen on 127.0.0.1 or"
                    + " [::1], or give --allow-remote)");
          }
        }
      }
    }

    /** {@code 0.0.0.0:10809}, {@code [::]:10809}. */
    static String hostPort(InetSocketAddress a) {
      String h = a.getAddress() == null ? a.getHostString() : a.getAddress().getHostAddress();
      return (h.indexOf(':') >= 0 ? "[" + h + "]" : h) + ":" + a.getPort();
    }

    /** The defaults: no TCP, 256 connections, 16 MiB lines, 80 MiB in all, 10 min idle. */
    public static Builder builder() {
      return new Builder();
    }

    /** Builds {@link Options}. */
    public static final class Builder {
      private final List<InetSocketAddress> listen = new ArrayList<>();
      private boolean allowRemote;
      private int maxConnections = 256;
      private int maxRequestLine = Protocol.MAX_LINE;
      private long requestMemory = 80L << 20; // four lines of the largest size at once
      private Duration idleTimeout = Duration.ofMinutes(10);
      private Clock clock; // null: the device mapper's own
      private String trustedUser = System.getProperty("user.name");
      private Path tls;
      private final Set<String> readOnlyExports = new java.util.HashSet<>();
      private String defaultExport;
      private Duration pathChecker;
      private final List<Path> pluginPath = new ArrayList<>();

      private Builder() {}

      /** Loads the user's target types from the jars in {@code folder} ({@link Plugins}). */
      public Builder pluginFolder(Path folder) {
        pluginPath.add(Objects.requireNonNull(folder, "folder"));
        return this;
      }

      /**
       * Multipath devices probe their failed paths every {@code interval} on the device mapper's
       * clock and reinstate those that answer (see {@link Options#pathChecker()}).
       */
      public Builder pathChecker(Duration interval) {
        this.pathChecker = Objects.requireNonNull(interval, "interval");
        return this;
      }

      /**
       * Requires TLS for NBD over TCP, with the credentials in {@code dir} (see {@link
       * Options#tls()}).
       */
      public Builder tls(Path dir) {
        this.tls = Objects.requireNonNull(dir, "dir");
        return this;
      }

      /** Exports the device called {@code name} read-only over NBD. */
      public Builder readOnlyExport(String name) {
        readOnlyExports.add(Objects.requireNonNull(name, "name"));
        return this;
      }

      /** Serves device {@code name} to NBD clients asking for the empty (default) export name. */
      public Builder defaultExport(String name) {
        this.defaultExport = Objects.requireNonNull(name, "name");
        return this;
      }

      /** Also exports NBD on {@code address}. */
      public Builder listen(InetSocketAddress address) {
        listen.add(Objects.requireNonNull(address, "address"));
        return this;
      }

      /** Allows TCP addresses other than loopback. */
      public Builder allowRemote(boolean allow) {
        this.allowRemote = allow;
        return this;
      }

      public Builder maxConnections(int max) {
        this.maxConnections = max;
        return this;
      }

      public Builder maxRequestLine(int bytes) {
        this.maxRequestLine = bytes;
        return this;
      }

      public Builder requestMemory(long bytes) {
        this.requestMemory = bytes;
        return this;
      }

      public Builder idleTimeout(Duration timeout) {
        this.idleTimeout = timeout;
        return this;
      }

      public Builder clock(Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
        return this;
      }

      /** Serves connections of {@code user} (and root) instead of the daemon's own user's. */
      Builder trustedUser(String user) {
        this.trustedUser = user;
        return this;
      }

      public Options build() {
        return new Options(
            listen,
            allowRemote,
            maxConnections,
            maxRequestLine,
            requestMemory,
            idleTimeout,
            clock,
            trustedUser,
            tls,
            readOnlyExports,
            defaultExport,
            pathChecker,
            pluginPath);
      }
    }
  }

  /** The pid file is locked by a live daemon. */
  public static final class AlreadyRunningException extends IOException {
    private static final long serialVersionUID = 1L;

    AlreadyRunningException(String message) {
      super(message);
    }
  }

  /**
   * Starts a daemon on {@code dir} with the default {@link Options} (no TCP).
   *
   * @throws AlreadyRunningException if a daemon runs on {@code dir}
   * @throws IOException if a socket cannot be made
   */
  public static Daemon start(RuntimeDir dir) throws IOException {
    return start(dir, Options.builder().build());
  }

  /**
   * Starts a daemon on {@code dir} with {@code options}, creating the folder (mode 0700) if needed.
   *
   * @throws AlreadyRunningException if a daemon runs on {@code dir}
   * @throws IOException if a socket cannot be made, or the folder is another user's or writable by
   *     others
   */
  public static Daemon start(RuntimeDir dir, Options options) throws IOException {
    return new Daemon(dir, options);
  }

  private Daemon(RuntimeDir dir, Options options) throws IOException {
    this.dir = dir;
    this.options = options;
    this.trust = new PeerTrust(options.trustedUser());
    checkSocketPath(dir.controlSocket());
    checkSocketPath(dir.nbdSocket());
    if (!Files.isDirectory(dir.path())) {
      Files.createDirectories(
          dir.path(),
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }
    trust.checkFolder(dir.path());
    FileChannel pc =
        FileChannel.open(dir.pidFile(), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    FileLock lock;
    try {
      lock = pc.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null;
    } catch (IOException e) {
      pc.close();
      throw e;
    }
    if (lock == null) {
      pc.close();
      throw new AlreadyRunningException(
          "jdmsetup: a daemon is already running on " + dir + readPid(dir.pidFile()));
    }
    this.pidChannel = pc;
    this.pidLock = lock;
    DeviceMapper m = null;
    NbdServer n = null;
    ServerSocketChannel c = null;
    Handler h = null;
    try {
      h = OneLineFormatter.fileHandler(dir.logFile());
      Logger.getLogger("").addHandler(h);
      removeStale(dir.controlSocket());
      removeStale(dir.nbdSocket());
      pc.truncate(0);
      pc.write(
          ByteBuffer.wrap(
              (ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)),
          0);
      DeviceMapper.Builder dmb =
          DeviceMapper.builder().registry(Plugins.registry(options.pluginPath()));
      if (options.clock() != null) {
        dmb.clock(options.clock());
      }
      if (options.pathChecker() != null) {
        TargetRegistry registry = TargetRegistry.loadDefault();
        registry.unregister("multipath");
        registry.register(MultipathTargetType.withPathChecker(options.pathChecker()));
        dmb.registry(registry);
      }
      m = NbdDeviceResolver.install(dmb.build());
      // an idle or stuck client must not hold a connection (and its thread) for ever
      Set<String> ro = options.readOnlyExports();
      NbdExports exports = NbdExports.readOnly(NbdExports.of(m), ro::contains);
      if (options.defaultExport() != null) {
        exports = NbdExports.withDefault(exports, options.defaultExport());
      }
      NbdServer.Builder nb =
          NbdServer.builder(exports).handshakeTimeout(Duration.ofSeconds(30), m.clock());
      if (options.tls() != null) {
        nb.tls(NbdTls.serverContext(options.tls()), NbdServer.TlsMode.REQUIRE)
            .needClientAuth(Files.exists(options.tls().resolve("ca-cert.pem")));
      }
      n = nb.build();
      List<SocketAddress> addrs = new ArrayList<>();
      // nbd.sock is as private as the control socket: TLS is for TCP
      addrs.add(n.listen(UnixDomainSocketAddress.of(dir.nbdSocket()), NbdServer.TlsMode.OFF));
      for (InetSocketAddress a : options.listen()) {
        addrs.add(n.listen(a)); // TLS required when --tls is given
        if (!a.getAddress().isLoopbackAddress() && options.tls() == null) {
          LOG.log(
              System.Logger.Level.WARNING,
              "exporting every device over NBD on {0} without authentication or encryption:"
                  + " whoever reaches it can read and write them",
              Options.hostPort(a));
        }
      }
      c = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
      c.bind(UnixDomainSocketAddress.of(dir.controlSocket()));
      Files.setPosixFilePermissions(
          dir.controlSocket(), PosixFilePermissions.fromString("rw-------"));
      this.nbdAddresses = List.copyOf(addrs);
    } catch (IOException | RuntimeException e) {
      closeAll(e, c, n, m);
      if (h != null) {
        Logger.getLogger("").removeHandler(h);
        h.close();
      }
      Files.deleteIfExists(dir.controlSocket());
      lock.release();
      pc.close();
      throw e;
    }
    this.dm = m;
    this.limits =
        new ControlConnection.Limits(
            options.maxRequestLine(),
            new RequestReader.Budget(options.requestMemory()),
            m.clock(),
            options.idleTimeout().toNanos());
    this.nbd = n;
    this.control = c;
    this.logHandler = h;
    this.requests = new Requests(dm);
    this.acceptor = new Thread(this::acceptLoop, "jdmsetup-control");
    acceptor.setDaemon(true);
    acceptor.start();
    LOG.log(
        System.Logger.Level.INFO,
        "jdmsetup daemon {0} on {1}: control socket {2}, NBD on {3}",
        Long.toString(ProcessHandle.current().pid()),
        dir,
        dir.controlSocket(),
        nbdAddresses);
  }

  private static void checkSocketPath(Path p) throws IOException {
    if (p.toString().getBytes(StandardCharsets.UTF_8).length > MAX_SOCKET_PATH) {
      throw new IOException(
          "jdmsetup: socket path "
              + p
              + " is too long for a Unix socket (max "
              + MAX_SOCKET_PATH
              + " bytes); choose a shorter --runtime-dir");
    }
  }

  private static String readPid(Path pidFile) {
    try {
      String s = Files.readString(pidFile, StandardCharsets.US_ASCII).trim();
      return s.isEmpty() ? "" : " (pid " + s + ")";
    } catch (IOException e) {
      return "";
    }
  }

  private static void removeStale(Path socket) throws IOException {
    if (Files.deleteIfExists(socket)) {
      LOG.log(System.Logger.Level.WARNING, "removed stale socket {0}", socket);
    }
  }

  private static void closeAll(Exception e, AutoCloseable... cs) {
    for (AutoCloseable c : cs) {
      if (c != null) {
        try {
          c.close();
        } catch (Exception suppressed) {
          e.addSuppressed(suppressed);
        }
      }
    }
  }

  /** The state folder. */
  public RuntimeDir runtimeDir() {
    return dir;
  }

  /** The device mapper this daemon serves. */
  public DeviceMapper deviceMapper() {
    return dm;
  }

  /** Where the NBD server listens: {@code nbd.sock}, then the TCP address if one was asked. */
  public List<SocketAddress> nbdAddresses() {
    return nbdAddresses;
  }

  private void acceptLoop() {
    while (true) {
      SocketChannel ch;
      try {
        ch = control.accept();
      } catch (IOException e) {
        if (control.isOpen()) {
          LOG.log(System.Logger.Level.ERROR, "control socket failed; no more requests", e);
        }
        return;
      }
      try {
        admit(ch);
      } catch (IOException | RuntimeException e) {
        LOG.log(System.Logger.Level.WARNING, "control connection refused: {0}", e.toString());
        try {
          ch.close();
        } catch (IOException suppressed) {
          LOG.log(System.Logger.Level.DEBUG, "close failed", suppressed);
        }
      }
    }
  }

  /** Serves {@code ch} if its peer is trusted and there is room; else answers why not, closes. */
  private void admit(SocketChannel ch) throws IOException {
    String user = PeerTrust.peerUser(ch);
    long id = connectionIds.incrementAndGet();
    if (!trust.trusts(user)) {
      LOG.log(
          System.Logger.Level.WARNING,
          "control connection {0} refused: its process runs as {1}, not as {2}",
          id,
          user,
          trust.describe());
      refuse(ch, Errno.EACCES, "the daemon serves processes of " + trust.describe() + " only");
      return;
    }
    if (clients.size() >= options.maxConnections()) {
      LOG.log(
          System.Logger.Level.WARNING,
          "control connection {0} refused: {1} connections already",
          id,
          clients.size());
      refuse(
          ch,
          Errno.EBUSY,
          "too many control connections (at most " + options.maxConnections() + ")");
      return;
    }
    ControlConnection c = new ControlConnection(host, ch, id, user, limits);
    clients.add(c);
    synchronized (this) {
      if (closed) {
        clients.remove(c);
        ch.close();
        return;
      }
    }
    c.start();
  }

  private static void refuse(SocketChannel ch, Errno errno, String why) throws IOException {
    Writer w = new OutputStreamWriter(Channels.newOutputStream(ch), StandardCharsets.UTF_8);
    Protocol.Response.error("-", errno.name(), why).write(w);
    // drop what the client sent already: closing with unread data would reset the connection and
    // lose the answer; nothing more is waited for
    ch.shutdownOutput();
    ch.configureBlocking(false);
    ByteBuffer b = ByteBuffer.allocate(4096);
    for (int i = 0; i < 16 && ch.read(b) > 0; i++) {
      b.clear();
    }
    ch.close();
  }

  /** Control connections open now. */
  int connectionCount() {
    return clients.size();
  }

  /** Bytes the control connections' request buffers hold now. */
  long requestMemoryInUse() {
    return limits.budget().used();
  }

  private final ControlConnection.Host host =
      new ControlConnection.Host() {
        @Override
        public Protocol.Response handle(Protocol.Request r) {
          return requests.handle(r);
        }

        @Override
        public void shutdown(ControlConnection c) {
          close(c); // tear everything down, then answer: the client sees a finished daemon
        }

        @Override
        public void shutdownAnswered() {
          terminated.countDown();
        }

        @Override
        public void ended(ControlConnection c) {
          clients.remove(c);
        }
      };

  /** Blocks until the daemon has been closed and a {@code shutdown} requester answered. */
  public void awaitTermination() throws InterruptedException {
    terminated.await();
  }

  /** Tears everything down (see the class comment). Idempotent. */
  @Override
  public void close() {
    close(null);
    terminated.countDown();
  }

  private void close(ControlConnection keep) {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    LOG.log(System.Logger.Level.INFO, "jdmsetup daemon on {0}: shutting down", dir);
    try {
      control.close();
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "closing the control socket failed", e);
    }
    for (ControlConnection c : clients) {
      if (c != keep) {
        c.close(); // cancels a wait or a key derivation it is running
      }
    }
    try {
      nbd.close();
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "closing the NBD server failed", e);
    }
    try {
      dm.close();
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "closing the device mapper failed", e);
    }
    try {
      Files.deleteIfExists(dir.controlSocket());
      Files.deleteIfExists(dir.nbdSocket());
      Files.deleteIfExists(dir.pidFile());
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "cleaning " + dir + " failed", e);
    }
    try {
      pidLock.release();
      pidChannel.close();
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "releasing the pid file failed", e);
    }
    LOG.log(System.Logger.Level.INFO, "jdmsetup daemon on {0}: stopped", dir);
    Logger.getLogger("").removeHandler(logHandler);
    logHandler.close();
  }
}
