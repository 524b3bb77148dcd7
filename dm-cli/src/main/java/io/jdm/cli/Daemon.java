package io.jdm.cli;

import io.jdm.core.DeviceMapper;
import io.jdm.core.Errno;
import io.jdm.nbd.NbdDeviceResolver;
import io.jdm.nbd.NbdServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
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
 * <p>Thread model: one acceptor thread and one thread per control connection; requests are carried
 * out by {@link Requests}, which relies on the device mapper's own thread safety.
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
  private final Set<SocketChannel> clients = ConcurrentHashMap.newKeySet();
  private final CountDownLatch terminated = new CountDownLatch(1);
  private final List<SocketAddress> nbdAddresses;
  private boolean closed;

  /** The pid file is locked by a live daemon. */
  public static final class AlreadyRunningException extends IOException {
    private static final long serialVersionUID = 1L;

    AlreadyRunningException(String message) {
      super(message);
    }
  }

  /**
   * Starts a daemon on {@code dir}, creating the folder (mode 0700) if needed.
   *
   * @param listen a TCP address to export on as well, or {@code null}
   * @throws AlreadyRunningException if a daemon runs on {@code dir}
   * @throws IOException if a socket cannot be made
   */
  public static Daemon start(RuntimeDir dir, InetSocketAddress listen) throws IOException {
    return new Daemon(dir, listen);
  }

  private Daemon(RuntimeDir dir, InetSocketAddress listen) throws IOException {
    this.dir = dir;
    checkSocketPath(dir.controlSocket());
    checkSocketPath(dir.nbdSocket());
    if (!Files.isDirectory(dir.path())) {
      Files.createDirectories(
          dir.path(),
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }
    checkOwner(dir.path());
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
      m = NbdDeviceResolver.install(DeviceMapper.create());
      // an idle or stuck client must not hold a connection (and its thread) for ever
      n =
          NbdServer.builder(io.jdm.nbd.NbdExports.of(m))
              .handshakeTimeout(java.time.Duration.ofSeconds(30), m.clock())
              .build();
      List<SocketAddress> addrs = new ArrayList<>();
      addrs.add(n.listen(UnixDomainSocketAddress.of(dir.nbdSocket())));
      if (listen != null) {
        addrs.add(n.listen(listen));
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

  /**
   * Whoever can reach the control socket owns the device mapper: a folder made by someone else (a
   * shared temporary folder prepared by another user) is refused.
   */
  private static void checkOwner(Path p) throws IOException {
    String me = System.getProperty("user.name");
    String owner = Files.getOwner(p).getName();
    if (!owner.equals(me)) {
      throw new IOException(p + " belongs to " + owner + ", not to " + me);
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
      clients.add(ch);
      Thread t = new Thread(() -> serve(ch), "jdmsetup-client");
      t.setDaemon(true);
      t.start();
    }
  }

  private void serve(SocketChannel ch) {
    try (ch) {
      BufferedReader in =
          new BufferedReader(
              new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
      Writer out = new OutputStreamWriter(Channels.newOutputStream(ch), StandardCharsets.UTF_8);
      String line;
      while ((line = readLine(in)) != null) {
        Protocol.Response r;
        Protocol.Request req = null;
        try {
          req = Protocol.Request.decode(line);
          r = requests.handle(req);
        } catch (IllegalArgumentException e) {
          r = Protocol.Response.error("-", Errno.EINVAL.name(), "bad request: " + e.getMessage());
        }
        if (req != null && req.verb().equals("shutdown") && r.ok()) {
          close(ch); // tear everything down, then answer: the client sees a finished daemon
          try {
            r.write(out);
          } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "shutdown requester went away", e);
          }
          terminated.countDown();
          return;
        }
        r.write(out);
      }
    } catch (IOException e) {
      LOG.log(System.Logger.Level.DEBUG, "control connection ended: " + e);
    } finally {
      clients.remove(ch);
    }
  }

  private static String readLine(BufferedReader in) throws IOException {
    String line = in.readLine();
    if (line != null && line.length() > Protocol.MAX_LINE) {
      throw new IOException("request line over " + Protocol.MAX_LINE + " characters");
    }
    return line;
  }

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

  private void close(SocketChannel keep) {
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
    for (SocketChannel c : clients) {
      if (c != keep) {
        try {
          c.close();
        } catch (IOException e) {
          LOG.log(System.Logger.Level.DEBUG, "closing a control connection failed", e);
        }
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
