package io.jdm.nbd;

import io.jdm.core.DeviceMapper;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;

/**
 * An NBD server ({@code doc/proto.md} of NetworkBlockDevice/nbd) exporting block devices to qemu,
 * libnbd's tools, fio's {@code nbd} engine, the kernel's {@code nbd-client}, or {@link
 * NbdBlockDevice}.
 *
 * <p>Protocol: fixed newstyle negotiation only (oldstyle is not offered); the options {@code
 * NBD_OPT_EXPORT_NAME}, {@code GO}, {@code INFO} (with {@code NBD_INFO_EXPORT}, {@code NAME},
 * {@code DESCRIPTION} and {@code BLOCK_SIZE}, the minimum block being the device's logical block
 * size; a client that does not ask for {@code BLOCK_SIZE} is answered {@code
 * NBD_REP_ERR_BLOCK_SIZE_REQD} when that minimum is over 512 bytes), {@code LIST}, {@code ABORT},
 * {@code STRUCTURED_REPLY}, {@code LIST_META_CONTEXT} and {@code SET_META_CONTEXT} (the one context
 * {@code base:allocation}, from the device's {@link io.jdm.core.AllocationMap}) and, when TLS is
 * configured, {@code STARTTLS}; every other option is answered {@code NBD_REP_ERR_UNSUP}. The empty
 * export name is the default export ({@link NbdExports#withDefault}). Commands {@code READ}, {@code
 * WRITE}, {@code FLUSH}, {@code TRIM} (when the device supports discard), {@code WRITE_ZEROES}
 * (when it supports write-zeroes; {@code NO_HOLE} becomes {@link io.jdm.core.Bio#NOUNMAP}), {@code
 * CACHE} (a no-op), {@code BLOCK_STATUS} (with {@code REQ_ONE}; answered on the reader thread),
 * {@code DISC}, and the {@code FUA} flag ({@link io.jdm.core.Bio#FUA}).
 *
 * <p>TLS ({@link Builder#tls}): {@code NBD_OPT_STARTTLS} upgrades the connection, on TCP or on a
 * Unix-domain socket, to TLS 1.3 or 1.2 on a JDK {@link SSLContext} (X.509 certificates: the JDK
 * has no TLS-PSK, see {@link NbdTls}); proto.md's rules hold as in {@link TlsMode}. A failed TLS
 * handshake (a client certificate the context does not trust, bytes that are not TLS) ends that
 * connection only. Connections without TLS take the same path as on a server without it.
 *
 * <p>Thread model: one acceptor thread per listening address and one reader thread per connection.
 * The reader decodes requests and submits them as bios without waiting; a reply is written when its
 * bio completes, by the completing thread (replies of bios that completed on the reader thread
 * itself are batched into one gathering write before the reader blocks again). So any number of
 * requests are in flight per connection, replies go out in completion order, and no thread is ever
 * parked per request.
 *
 * <p>Errors, as proto.md asks: a request past the end fails with {@code NBD_EINVAL} ({@code
 * NBD_ENOSPC} for writes and write-zeroes), an unaligned one with {@code NBD_EINVAL}, a write to a
 * read-only export with {@code NBD_EPERM}, an unknown command or flag with {@code NBD_EINVAL}, a
 * read or write longer than 32 MiB with {@code NBD_EINVAL} (the write's payload is read and
 * dropped), or {@code NBD_EOVERFLOW} for a read with {@code DF}. A peer that breaks the protocol
 * (wrong magic, unknown client flags) is disconnected; other connections are not affected.
 *
 * <p>{@link #close()} stops accepting, stops reading on every connection, waits (up to the shutdown
 * timeout) until every request already submitted has completed and its reply is written, then
 * closes the connections; requests read while shutting down are failed with {@code NBD_ESHUTDOWN}.
 */
public final class NbdServer implements Closeable {
  private static final System.Logger LOG = System.getLogger(NbdServer.class.getName());

  private final NbdExports exports;
  private final boolean readOnly;
  private final Duration shutdownTimeout;
  private final int maxConnections;
  private final Duration handshakeTimeout; // null: none
  private final io.jdm.core.Clock clock;
  private final SSLContext tlsContext; // null: no TLS on any address
  private final TlsMode tlsMode; // of listen(address)
  private final boolean needClientAuth;
  private final AtomicLong connectionIds = new AtomicLong();
  private final List<Listener> listeners = new ArrayList<>();
  private static final long ACCEPT_RETRY_MILLIS = 100;
  private final Set<NbdServerConnection> connections = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  private NbdServer(Builder b) {
    this.exports = b.exports;
    this.readOnly = b.readOnly;
    this.shutdownTimeout = b.shutdownTimeout;
    this.maxConnections = b.maxConnections;
    this.handshakeTimeout = b.handshakeTimeout;
    this.clock = b.clock;
    this.tlsContext = b.tlsContext;
    this.tlsMode = b.tlsMode;
    this.needClientAuth = b.needClientAuth;
  }

  /**
   * Whether and how a server offers TLS, as nbdkit's {@code --tls=off|on|require} (proto.md calls
   * them NOTLS, SELECTIVETLS with no TLS-only export, and FORCEDTLS).
   */
  public enum TlsMode {
    /** No TLS: {@code NBD_OPT_STARTTLS} is answered {@code NBD_REP_ERR_UNSUP}. */
    OFF,
    /**
     * TLS is offered and not required: a client may upgrade with {@code NBD_OPT_STARTTLS} before
     * any other option or after some, or never. Negotiation state from before the upgrade (a
     * structured-reply request) is forgotten, as proto.md asks; a second {@code STARTTLS} is
     * answered {@code NBD_REP_ERR_INVALID}.
     */
    ON,
    /**
     * TLS is required: until the upgrade, every option but {@code NBD_OPT_STARTTLS} and {@code
     * NBD_OPT_ABORT} is answered {@code NBD_REP_ERR_TLS_REQD}, and {@code NBD_OPT_EXPORT_NAME}
     * (which cannot be refused with a reply) closes the connection, as does a client that did not
     * set {@code NBD_FLAG_C_FIXED_NEWSTYLE} (it could not send {@code STARTTLS}). After the upgrade
     * the server behaves as without TLS, except that a second {@code STARTTLS} is answered {@code
     * NBD_REP_ERR_INVALID}.
     */
    REQUIRE
  }

  /** A server for {@code exports}; call {@link #listen} to start serving. */
  public static Builder builder(NbdExports exports) {
    return new Builder(exports);
  }

  /** A server exporting every mapped device of {@code dm} under its name. */
  public static NbdServer create(DeviceMapper dm) {
    return builder(NbdExports.of(dm)).build();
  }

  /** A server for {@code exports} with default settings. */
  public static NbdServer create(NbdExports exports) {
    return builder(exports).build();
  }

  /**
   * Binds {@code address} and starts accepting connections on it: an {@link InetSocketAddress}
   * (port 0 picks a free port) or a {@link UnixDomainSocketAddress} (the socket file must not
   * exist; {@link #close()} deletes it). TLS as {@link Builder#tls} says.
   *
   * @return the bound address (with the chosen port)
   */
  public SocketAddress listen(SocketAddress address) throws IOException {
    return listen(address, tlsMode);
  }

  /**
   * {@link #listen(SocketAddress)} with the TLS mode of this address: a daemon may require TLS on
   * TCP and leave its Unix socket, which file permissions guard, without (proto.md lets the mode
   * depend on the connection, as long as it stays the same for the connection's lifetime).
   *
   * @throws IllegalStateException if {@code tlsMode} is not {@code OFF} and the server has no TLS
   *     context ({@link Builder#tls})
   */
  public synchronized SocketAddress listen(SocketAddress address, TlsMode tlsMode)
      throws IOException {
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(tlsMode, "tlsMode");
    if (closed) {
      throw new IllegalStateException("NBD server is closed");
    }
    if (tlsMode != TlsMode.OFF && tlsContext == null) {
      throw new IllegalStateException(
          "TLS " + tlsMode + " on " + address + " without a TLS context (Builder.tls)");
    }
    ServerSocketChannel ssc;
    Path socketFile = null;
    if (address instanceof UnixDomainSocketAddress) {
      ssc = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
      socketFile = ((UnixDomainSocketAddress) address).getPath();
    } else {
      ssc = ServerSocketChannel.open();
      ssc.socket().setReuseAddress(true);
    }
    try {
      ssc.bind(address, 128);
    } catch (IOException e) {
      ssc.close();
      throw new IOException("NBD server: cannot listen on " + address + ": " + e.getMessage(), e);
    }
    SocketAddress bound = ssc.getLocalAddress();
    Listener l = new Listener(ssc, bound, socketFile, tlsMode);
    listeners.add(l);
    l.thread.start();
    LOG.log(System.Logger.Level.INFO, "NBD server listening on {0}, TLS {1}", bound, tlsMode);
    return bound;
  }

  /** The addresses this server listens on. */
  public synchronized List<SocketAddress> addresses() {
    List<SocketAddress> a = new ArrayList<>();
    for (Listener l : listeners) {
      a.add(l.address);
    }
    return a;
  }

  /** Connections currently open (in negotiation or transmission). */
  public int connectionCount() {
    return connections.size();
  }

  NbdExports exports() {
    return exports;
  }

  boolean forceReadOnly() {
    return readOnly;
  }

  /** A server-side engine for one connection's TLS session; only with a TLS context. */
  SSLEngine newTlsEngine() {
    SSLEngine e = tlsContext.createSSLEngine();
    e.setUseClientMode(false);
    e.setNeedClientAuth(needClientAuth);
    e.setEnabledProtocols(NbdTls.protocols(e));
    return e;
  }

  boolean isClosed() {
    return closed;
  }

  void connectionEnded(NbdServerConnection c) {
    connections.remove(c);
  }

  /**
   * Stops the server: no new connections; every connection stops reading, completes what it has in
   * flight (waiting up to the shutdown timeout) and closes. Idempotent.
   */
  @Override
  public void close() throws IOException {
    List<Listener> ls;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      ls = new ArrayList<>(listeners);
    }
    IOException failure = null;
    for (Listener l : ls) {
      try {
        l.channel.close();
      } catch (IOException e) {
        failure = e;
      }
    }
    long deadline = System.nanoTime() + shutdownTimeout.toNanos();
    for (Listener l : ls) {
      join(l.thread, deadline);
      if (l.socketFile != null) {
        Files.deleteIfExists(l.socketFile);
      }
    }
    List<NbdServerConnection> cs = new ArrayList<>(connections);
    for (NbdServerConnection c : cs) {
      c.shutdown(deadline);
    }
    for (NbdServerConnection c : cs) {
      join(c.thread(), deadline + Duration.ofSeconds(5).toNanos());
      if (c.thread().isAlive()) {
        c.abort();
        join(c.thread(), System.nanoTime() + Duration.ofSeconds(5).toNanos());
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  private static void join(Thread t, long deadlineNanos) {
    long left = deadlineNanos - System.nanoTime();
    try {
      if (left > 0) {
        t.join(Math.max(1, left / 1_000_000));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Arms the handshake timer of a new connection; {@code null} when there is none. */
  io.jdm.core.Clock.Timeout armHandshakeTimer(Runnable expired) {
    return handshakeTimeout == null ? null : clock.schedule(expired, handshakeTimeout.toNanos());
  }

  Duration handshakeTimeout() {
    return handshakeTimeout;
  }

  Duration shutdownTimeout() {
    return shutdownTimeout;
  }

  private final class Listener implements Runnable {
    final ServerSocketChannel channel;
    final SocketAddress address;
    final Path socketFile;
    final TlsMode tlsMode;
    final Thread thread;

    Listener(ServerSocketChannel channel, SocketAddress address, Path socketFile, TlsMode tlsMode) {
      this.channel = channel;
      this.address = address;
      this.socketFile = socketFile;
      this.tlsMode = tlsMode;
      this.thread = new Thread(this, "jdm-nbd-accept-" + address);
      thread.setDaemon(true);
    }

    @Override
    public void run() {
      while (true) {
        SocketChannel ch;
        try {
          ch = channel.accept();
        } catch (ClosedChannelException e) {
          return;
        } catch (IOException e) {
          if (closed) {
            return;
          }
          LOG.log(System.Logger.Level.WARNING, "NBD server on " + address + ": accept failed", e);
          try {
            // out of file descriptors, say: retrying at once would only spin
            Thread.sleep(ACCEPT_RETRY_MILLIS);
          } catch (InterruptedException ie) {
            return;
          }
          continue;
        }
        if (closed) {
          closeQuietly(ch);
          return;
        }
        if (connections.size() >= maxConnections) {
          LOG.log(
              System.Logger.Level.WARNING,
              "NBD server on {0}: {1} connections already, closing a new one (maxConnections)",
              address,
              maxConnections);
          closeQuietly(ch);
          continue;
        }
        try {
          if (!(address instanceof UnixDomainSocketAddress)) {
            ch.socket().setTcpNoDelay(true);
          }
        } catch (IOException e) {
          LOG.log(System.Logger.Level.DEBUG, "TCP_NODELAY not set", e);
        }
        NbdServerConnection c =
            new NbdServerConnection(NbdServer.this, ch, connectionIds.incrementAndGet(), tlsMode);
        connections.add(c);
        if (closed) {
          // close() may have taken its snapshot of the connections before this one was added
          connections.remove(c);
          closeQuietly(ch);
          return;
        }
        c.thread().start();
      }
    }
  }

  static void closeQuietly(Closeable c) {
    try {
      c.close();
    } catch (IOException e) {
      LOG.log(System.Logger.Level.DEBUG, "close failed", e);
    }
  }

  /** Settings of a server. */
  public static final class Builder {
    private final NbdExports exports;
    private boolean readOnly;
    private Duration shutdownTimeout = Duration.ofSeconds(30);
    private int maxConnections = 256;
    private Duration handshakeTimeout;
    private io.jdm.core.Clock clock;
    private SSLContext tlsContext;
    private TlsMode tlsMode = TlsMode.OFF;
    private boolean needClientAuth;

    private Builder(NbdExports exports) {
      this.exports = Objects.requireNonNull(exports, "exports");
    }

    /** Exports every device read-only (default: as each export says). */
    public Builder readOnly(boolean readOnly) {
      this.readOnly = readOnly;
      return this;
    }

    /** How long {@link NbdServer#close()} waits for in-flight requests (default 30 s). */
    public Builder shutdownTimeout(Duration timeout) {
      if (timeout.isNegative()) {
        throw new IllegalArgumentException("shutdown timeout " + timeout + " < 0");
      }
      this.shutdownTimeout = timeout;
      return this;
    }

    /**
     * Connections served at once (default 256): a new connection beyond it is closed at once,
     * before the handshake, so an idle or hostile client cannot hold a thread per connection
     * without bound.
     */
    public Builder maxConnections(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("maxConnections " + max + " < 1");
      }
      this.maxConnections = max;
      return this;
    }

    /**
     * Closes a connection that has not finished its handshake (reached transmission) within {@code
     * timeout} by {@code clock} (a {@code DeviceMapper}'s {@code clock()}, say; tests use a manual
     * one). Default: no timeout.
     */
    public Builder handshakeTimeout(Duration timeout, io.jdm.core.Clock clock) {
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("handshake timeout " + timeout + " <= 0");
      }
      this.handshakeTimeout = timeout;
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Offers TLS ({@code NBD_OPT_STARTTLS}) with {@code context}'s certificate and trust ({@link
     * NbdTls#serverContext(Path)} reads them from PEM files), as {@code mode} says on the addresses
     * of {@link NbdServer#listen(SocketAddress)}; {@link NbdServer#listen(SocketAddress, TlsMode)}
     * chooses per address. Default: no context, {@link TlsMode#OFF}. {@code context} may be {@code
     * null} only with {@code OFF}.
     */
    public Builder tls(SSLContext context, TlsMode mode) {
      Objects.requireNonNull(mode, "mode");
      if (mode != TlsMode.OFF) {
        Objects.requireNonNull(context, "context (TLS mode " + mode + ")");
      }
      this.tlsContext = context;
      this.tlsMode = mode;
      return this;
    }

    /**
     * Requires a client certificate that the TLS context trusts (its CA certificates: {@code
     * ca-cert.pem} for {@link NbdTls#serverContext(Path)}); a client without one fails the TLS
     * handshake and is disconnected. Default: no client certificate is asked for. Only with a TLS
     * context; it applies to TLS sessions, so on an address whose mode is {@link TlsMode#ON} a
     * plaintext client is not asked for anything: authentication needs {@link TlsMode#REQUIRE}.
     */
    public Builder needClientAuth(boolean need) {
      this.needClientAuth = need;
      return this;
    }

    /**
     * @throws IllegalStateException if client certificates are required without TLS
     */
    public NbdServer build() {
      if (needClientAuth && tlsContext == null) {
        throw new IllegalStateException(
            "needClientAuth(true) without TLS: call tls(context, mode) as well");
      }
      return new NbdServer(this);
    }
  }
}
