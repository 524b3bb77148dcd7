package io.jdm.nbd;

import io.jdm.core.AbstractBlockDevice;
import io.jdm.core.Bio;
import io.jdm.core.BioCallback;
import io.jdm.core.BlockStatus;
import io.jdm.core.Clock;
import io.jdm.core.IoLimits;
import io.jdm.core.Workqueue;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;

/**
 * A remote NBD export as a {@link io.jdm.core.BlockDevice}: the client side of {@code doc/proto.md}
 * of NetworkBlockDevice/nbd, usable under a table ({@link NbdDeviceResolver}) so a mirror or a
 * stripe can span NBD servers such as {@code qemu-nbd}, {@code nbdkit}, {@code nbd-server} or
 * {@link NbdServer}.
 *
 * <p>Negotiation: fixed newstyle; for an {@code nbds} URI, {@code NBD_OPT_STARTTLS} first and a TLS
 * 1.3 or 1.2 handshake that checks the server's certificate against the URI's CA ({@code
 * tls-certificates}) and its name against the host (a server that refuses TLS is not used in the
 * clear); then {@code NBD_OPT_GO} asking for {@code NBD_INFO_BLOCK_SIZE} (with a fall-back to
 * {@code NBD_OPT_EXPORT_NAME} for servers that answer {@code NBD_REP_ERR_UNSUP}). The export's
 * minimum block becomes the logical block size (at least 512), its maximum payload {@link
 * IoLimits#maxSectors()}; the transmission flags decide discard ({@code SEND_TRIM}), write-zeroes
 * ({@code SEND_WRITE_ZEROES}), {@link IoLimits#writeCache()} ({@code SEND_FLUSH}), {@link
 * IoLimits#fua()} ({@code SEND_FUA}) and read-only. Simple replies are used (structured replies are
 * not requested).
 *
 * <p>Requests are pipelined: {@link #submit} sends the request and returns; one reader thread per
 * connection matches replies to requests by cookie and completes the bios, so any number of bios
 * may be in flight. A bio longer than the export takes in one request is sent as several. {@link
 * Bio#PREFLUSH} sends a flush and the write only after the flush's reply (the server may reorder
 * requests in flight); {@link Bio#FUA} without {@code SEND_FUA} is a write followed by a flush.
 *
 * <p>Failure: when the server goes away (the connection closes, a reply breaks the protocol) every
 * bio in flight completes with {@link BlockStatus#TRANSPORT}, and so does every later one while
 * there is no connection, at once (nothing waits for a reconnection: a multipath device above needs
 * the error to try another path). Once the server answers {@code NBD_ESHUTDOWN}, that request and
 * every later bio fail with {@code TRANSPORT}, while the requests already sent keep the answers the
 * server still gives them. Server errors map to statuses: {@code NBD_EIO} and {@code NBD_EPERM} to
 * {@link BlockStatus#IOERR}, {@code NBD_ENOSPC} to {@link BlockStatus#NOSPC}, {@code NBD_ENOMEM} to
 * {@link BlockStatus#RESOURCE}, {@code NBD_ENOTSUP} to {@link BlockStatus#NOTSUPP}, anything else
 * to {@link BlockStatus#INVAL}.
 *
 * <p>Reconnection, if asked ({@link NbdReconnect}, {@code reconnect=1} in the URI): once the
 * connection is lost, a worker thread dials again {@link NbdReconnect#interval()} later on the
 * device's {@link Clock}, each failure doubling the wait up to {@link NbdReconnect#maxInterval()}.
 * An attempt re-does the whole negotiation (TLS too) and is refused, and retried later, if the
 * export's size, block sizes or transmission flags are not what they were (the device's size and
 * limits cannot change under a table); {@link #reconnectFailure()} says why the last one failed. A
 * multipath device's path checker ({@code MultipathTargetType.withPathChecker}) then finds the path
 * answering again and reinstates it.
 *
 * <p>{@link #close()} waits (up to 30 s) for the bios in flight, sends {@code NBD_CMD_DISC} and
 * closes the connection; it also calls off a reconnection waiting for its time, aborts one under
 * way and stops the reconnect thread.
 */
public final class NbdBlockDevice extends AbstractBlockDevice {
  private static final System.Logger LOG = System.getLogger(NbdBlockDevice.class.getName());
  private static final AtomicLong THREAD_IDS = new AtomicLong();
  private static final int MAX_OPTION_REPLY = 64 * 1024;
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(30);
  private static final long JOIN_MILLIS = 5000;

  /** The clock of devices opened without one, for their reconnect backoff. */
  private static final class SystemClockHolder {
    static final Clock CLOCK = Clock.system();
  }

  private final SocketAddress address;
  private final String export;
  private final Tls tlsConfig; // null without TLS
  private final long exportSize; // bytes, as the first negotiation found it
  private final int maxDataSectors;
  private final int maxRangeSectors;
  private final String threadName;
  private final AtomicLong cookies = new AtomicLong();
  private final Workqueue writer; // sends for the reply readers

  /** The connection in use; replaced by a reconnection. */
  private volatile Conn conn;

  /** Bios submitted and not yet completed. */
  private final AtomicInteger outstanding = new AtomicInteger();

  private final Object idle = new Object();
  private volatile boolean closing; // written under lock

  // Reconnection: null/0 when not asked
  private final NbdReconnect reconnect;
  private final Workqueue reconnector;
  private final Object lock = new Object();
  private long nextDelayNanos; // guarded by lock
  private SocketChannel dialling; // guarded by lock
  private volatile String reconnectFailure;
  private final AtomicInteger reconnects = new AtomicInteger();
  private final AtomicInteger attempts = new AtomicInteger();

  private NbdBlockDevice(
      Session s,
      String name,
      boolean readOnly,
      SocketAddress address,
      String export,
      Tls tls,
      NbdReconnect reconnect,
      Clock clock) {
    super(name, s.sectors, s.limits, readOnly || (s.flags & Nbd.FLAG_READ_ONLY) != 0);
    this.address = address;
    this.export = export;
    this.tlsConfig = tls;
    this.exportSize = s.size;
    this.maxDataSectors = s.limits.maxSectors();
    int lbSectors = s.limits.logicalBlockSectors();
    int range = (int) ((0xffffffffL >>> Bio.SECTOR_SHIFT));
    this.maxRangeSectors = range - range % lbSectors;
    this.threadName = "jdm-nbd-client-" + THREAD_IDS.incrementAndGet();
    this.writer = Workqueue.create(threadName + "-writer", 1);
    this.reconnect = reconnect;
    this.reconnector =
        reconnect == null
            ? null
            : Workqueue.create(
                threadName + "-reconnect", 1, clock != null ? clock : SystemClockHolder.CLOCK);
    this.conn = new Conn(s);
  }

  /** Connects to the export an NBD URI names ({@link NbdUri}). */
  public static NbdBlockDevice open(String uri) throws IOException {
    return open(NbdUri.parse(uri), false);
  }

  /**
   * Connects to the export {@code uri} names; read-only if asked or if the server says so. A
   * reconnection the URI asks for is timed by the system clock.
   */
  public static NbdBlockDevice open(NbdUri uri, boolean readOnly) throws IOException {
    return open(uri, readOnly, null);
  }

  /**
   * Connects to the export {@code uri} names; read-only if asked or if the server says so. A
   * reconnection the URI asks for ({@link NbdUri#reconnect()}) is timed by {@code clock} ({@code
   * null}: the system clock), the device mapper's when a {@link NbdDeviceResolver} opens it.
   */
  public static NbdBlockDevice open(NbdUri uri, boolean readOnly, Clock clock) throws IOException {
    Tls tls = null;
    if (uri.tls()) {
      SSLContext c;
      if (uri.tlsCertificates() != null) {
        c = NbdTls.clientContext(uri.tlsCertificates());
      } else {
        try {
          c = SSLContext.getDefault();
        } catch (java.security.NoSuchAlgorithmException e) {
          throw new IOException(uri + ": the JDK has no default TLS context", e);
        }
      }
      tls = new Tls(c, uri.tlsHostname() != null ? uri.tlsHostname() : uri.host(), uri.port());
    }
    return connect(
        uri.address(), uri.export(), readOnly, uri.toString(), tls, uri.reconnect(), clock);
  }

  /** How to start TLS: the context, and the name the server's certificate must carry (or null). */
  private record Tls(SSLContext context, String hostname, int port) {
    SSLEngine engine() {
      SSLEngine e =
          hostname == null ? context.createSSLEngine() : context.createSSLEngine(hostname, port);
      e.setUseClientMode(true);
      SSLParameters p = e.getSSLParameters();
      p.setProtocols(NbdTls.protocols(e));
      if (hostname != null) {
        p.setEndpointIdentificationAlgorithm("HTTPS"); // the name checks of RFC 2818
      }
      e.setSSLParameters(p);
      return e;
    }
  }

  /**
   * Connects to {@code export} on the server at {@code address} (TCP or Unix-domain).
   *
   * @throws NbdProtocolException if the server is not an NBD server or refuses the export
   */
  public static NbdBlockDevice connect(SocketAddress address, String export, boolean readOnly)
      throws IOException {
    return connect(address, export, readOnly, address + "/" + export, null, null, null);
  }

  /**
   * As {@link #connect(SocketAddress, String, boolean)}, reconnecting as {@code reconnect} says
   * once the server goes away, on {@code clock}.
   */
  public static NbdBlockDevice connect(
      SocketAddress address, String export, boolean readOnly, NbdReconnect reconnect, Clock clock)
      throws IOException {
    Objects.requireNonNull(reconnect, "reconnect");
    Objects.requireNonNull(clock, "clock");
    return connect(address, export, readOnly, address + "/" + export, null, reconnect, clock);
  }

  private static NbdBlockDevice connect(
      SocketAddress address,
      String export,
      boolean readOnly,
      String name,
      Tls tls,
      NbdReconnect reconnect,
      Clock clock)
      throws IOException {
    Session s = dial(address, export, name, tls, null);
    try {
      NbdBlockDevice d =
          new NbdBlockDevice(s, name, readOnly, address, export, tls, reconnect, clock);
      d.conn.reader.start();
      LOG.log(
          System.Logger.Level.DEBUG,
          "{0}: connected, {1} sectors, flags 0x{2}",
          name,
          s.sectors,
          Integer.toHexString(s.flags));
      return d;
    } catch (RuntimeException e) {
      NbdServer.closeQuietly(s.ch);
      throw e;
    }
  }

  /**
   * Opens a connection and negotiates. {@code dialling}, if given, sees the channel before it
   * connects (so that {@link #close} can abort a reconnection) and returns {@code false} to stop.
   */
  private static Session dial(
      SocketAddress address,
      String export,
      String name,
      Tls tls,
      java.util.function.Predicate<SocketChannel> dialling)
      throws IOException {
    SocketChannel ch;
    try {
      ch =
          address instanceof UnixDomainSocketAddress
              ? SocketChannel.open(StandardProtocolFamily.UNIX)
              : SocketChannel.open();
    } catch (IOException e) {
      throw new IOException(name + ": cannot open a socket: " + e.getMessage(), e);
    }
    try {
      if (dialling != null && !dialling.test(ch)) {
        throw new IOException(name + ": closed");
      }
      try {
        ch.connect(address);
      } catch (IOException e) {
        throw new IOException(name + ": cannot connect to " + address + ": " + e.getMessage(), e);
      }
      if (address instanceof java.net.InetSocketAddress) {
        ch.socket().setTcpNoDelay(true);
      }
      try {
        return negotiate(ch, export, name, tls);
      } catch (IOException e) {
        if (tls != null && !(e instanceof NbdProtocolException)) {
          // under TLS 1.3 a server checks the client's certificate after the client's side of the
          // handshake is over, and a refusal is often only a closed connection
          throw new IOException(
              name
                  + ": connection lost in a TLS negotiation (a server that refuses the client"
                  + " certificate ends it so): "
                  + e.getMessage(),
              e);
        }
        throw e;
      }
    } catch (IOException | RuntimeException e) {
      NbdServer.closeQuietly(ch);
      throw e;
    }
  }

  /** The transmission flags the server sent. */
  int transmissionFlags() {
    return conn.flags;
  }

  /** {@code true} when the server allows several connections to one export (CAN_MULTI_CONN). */
  public boolean canMultiConn() {
    return (conn.flags & Nbd.FLAG_CAN_MULTI_CONN) != 0;
  }

  /**
   * {@code true} while there is no connection and every bio fails with TRANSPORT (for good, unless
   * the device reconnects).
   */
  public boolean isBroken() {
    return conn.broken;
  }

  /** How this device reconnects, or {@code null}: never. */
  public NbdReconnect reconnect() {
    return reconnect;
  }

  /** Reconnection attempts made so far, successful or not (for tests). */
  int attempts() {
    return attempts.get();
  }

  /** The prefix of this device's thread names (for tests). */
  String threadName() {
    return threadName;
  }

  /** How many times this device has reconnected. */
  public int reconnects() {
    return reconnects.get();
  }

  /**
   * Why the last reconnection attempt failed ({@code null} if none has failed since the last
   * connection was made): the server's refusal, a changed export size, a connection refused...
   */
  public String reconnectFailure() {
    return reconnectFailure;
  }

  // ---------------------------------------------------------------------------------------------
  // Reconnection

  /** The connection {@code c} is gone: schedules the first attempt to replace it. */
  private void connectionLost(Conn c) {
    if (reconnect == null) {
      return;
    }
    synchronized (lock) {
      if (closing || conn != c) {
        return;
      }
      nextDelayNanos = reconnect.interval().toNanos();
      scheduleAttempt();
    }
  }

  /** Queues an attempt after the current backoff, and doubles it; under {@code lock}. */
  private void scheduleAttempt() {
    long delay = nextDelayNanos;
    long max = reconnect.maxInterval().toNanos();
    nextDelayNanos = delay > max / 2 ? max : Math.min(max, delay * 2);
    try {
      reconnector.schedule(this::attempt, delay);
    } catch (IllegalStateException e) {
      // closing
    }
  }

  /** One reconnection attempt, on the reconnect thread. */
  private void attempt() {
    if (closing) {
      return;
    }
    try {
      tryReconnect();
    } finally {
      attempts.incrementAndGet();
    }
  }

  private void tryReconnect() {
    Session s;
    try {
      s =
          dial(
              address,
              export,
              name(),
              tlsConfig,
              ch -> {
                synchronized (lock) {
                  dialling = ch;
                  return !closing;
                }
              });
    } catch (IOException | RuntimeException e) {
      retry(e.getMessage() != null ? e.getMessage() : e.toString());
      return;
    } finally {
      synchronized (lock) {
        dialling = null;
      }
    }
    String changed = changed(s);
    if (changed != null) {
      NbdServer.closeQuietly(s.ch);
      retry(changed);
      return;
    }
    Conn c = new Conn(s);
    synchronized (lock) {
      if (closing) {
        NbdServer.closeQuietly(s.ch);
        return;
      }
      reconnectFailure = null;
      conn = c;
      reconnects.incrementAndGet();
      c.reader.start();
    }
    LOG.log(System.Logger.Level.INFO, "{0}: reconnected", name());
  }

  private void retry(String why) {
    reconnectFailure = why;
    synchronized (lock) {
      if (closing) {
        return;
      }
      LOG.log(
          System.Logger.Level.WARNING,
          "{0}: reconnection failed ({1}); next attempt in {2} s",
          name(),
          why,
          NbdReconnect.seconds(Duration.ofNanos(nextDelayNanos)));
      scheduleAttempt();
    }
  }

  /** What is no longer as the device was made, or {@code null} if nothing. */
  private String changed(Session s) {
    if (s.size != exportSize) {
      return name()
          + ": the export's size changed from "
          + exportSize
          + " to "
          + s.size
          + " bytes; a device's size cannot change under a table, so the new connection is not"
          + " used";
    }
    if (!s.limits.equals(limits())) {
      return name()
          + ": the export's block sizes or transmission flags changed ("
          + limits()
          + " before, "
          + s.limits
          + " now); the new connection is not used";
    }
    if (!isReadOnly() && (s.flags & Nbd.FLAG_READ_ONLY) != 0) {
      return name() + ": the export became read-only; the new connection is not used";
    }
    return null;
  }

  // ---------------------------------------------------------------------------------------------
  // Negotiation

  /** What negotiation found out. */
  private static final class Session {
    SocketChannel ch;
    TlsChannel tls;
    ChannelInput in;
    long sectors;
    int flags;
    long size; // bytes, as the server said
    IoLimits limits;
  }

  private static Session negotiate(SocketChannel ch, String export, String name, Tls tls)
      throws IOException {
    ChannelInput in = new ChannelInput(ch, 256 * 1024);
    GatheringByteChannel out = ch;
    long magic = in.readLong();
    if (magic != Nbd.INIT_PASSWD) {
      throw new NbdProtocolException(
          name
              + ": not an NBD server (first magic 0x"
              + Long.toHexString(magic)
              + ", expected NBDMAGIC)");
    }
    long second = in.readLong();
    if (second == Nbd.CLISERV_MAGIC) {
      throw new NbdProtocolException(
          name + ": the server speaks the oldstyle handshake, which jdm does not support");
    }
    if (second != Nbd.IHAVEOPT) {
      throw new NbdProtocolException(
          name + ": second magic 0x" + Long.toHexString(second) + " (expected IHAVEOPT)");
    }
    int hsFlags = in.readUnsignedShort();
    boolean fixed = (hsFlags & Nbd.FLAG_FIXED_NEWSTYLE) != 0;
    boolean noZeroes = (hsFlags & Nbd.FLAG_NO_ZEROES) != 0;
    int clientFlags =
        (fixed ? Nbd.FLAG_C_FIXED_NEWSTYLE : 0) | (noZeroes ? Nbd.FLAG_C_NO_ZEROES : 0);
    ByteBuffer cf = ByteBuffer.allocate(4).putInt(clientFlags).flip();
    ChannelInput.writeFully(ch, cf);
    Session s = new Session();
    s.ch = ch;
    s.in = in;
    if (tls != null) {
      if (!fixed) {
        throw new NbdProtocolException(
            name + ": the server does not speak fixed newstyle, so it cannot start TLS");
      }
      s.tls = startTls(ch, in, tls, name);
      out = s.tls;
    }
    byte[] nameBytes = export.getBytes(StandardCharsets.UTF_8);
    if (nameBytes.length > Nbd.MAX_STRING) {
      throw new IllegalArgumentException(
          name + ": export name of " + nameBytes.length + " bytes (at most 4096)");
    }
    long size = -1;
    int minBlock = 0;
    int preferred = 0;
    long maxPayload = 0;
    boolean viaExportName = !fixed;
    if (fixed) {
      ByteBuffer go = ByteBuffer.allocate(16 + 4 + nameBytes.length + 4);
      go.putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_GO).putInt(4 + nameBytes.length + 4);
      go.putInt(nameBytes.length).put(nameBytes).putShort((short) 1);
      go.putShort((short) Nbd.INFO_BLOCK_SIZE).flip();
      ChannelInput.writeFully(out, go);
      while (true) {
        OptionReply r = optionReply(in, Nbd.OPT_GO, "NBD_OPT_GO", name);
        int type = r.type();
        ByteBuffer data = r.data();
        if (type == Nbd.REP_ACK) {
          break;
        }
        if (type == Nbd.REP_INFO) {
          if (data.remaining() < 2) {
            throw new NbdProtocolException(name + ": NBD_REP_INFO without a type");
          }
          int info = data.getShort() & 0xffff;
          if (info == Nbd.INFO_EXPORT) {
            if (data.remaining() != 10) {
              throw new NbdProtocolException(name + ": NBD_INFO_EXPORT of wrong length");
            }
            size = data.getLong();
            s.flags = data.getShort() & 0xffff;
          } else if (info == Nbd.INFO_BLOCK_SIZE) {
            if (data.remaining() != 12) {
              throw new NbdProtocolException(name + ": NBD_INFO_BLOCK_SIZE of wrong length");
            }
            minBlock = data.getInt();
            preferred = data.getInt();
            maxPayload = data.getInt() & 0xffffffffL;
          }
          continue; // other information is ignored, as proto.md asks
        }
        if (type == Nbd.REP_ERR_UNSUP) {
          viaExportName = true;
          break;
        }
        String msg = StandardCharsets.UTF_8.decode(data).toString();
        throw new NbdProtocolException(
            name
                + ": the server refused export '"
                + export
                + "' with "
                + Nbd.replyName(type)
                + (msg.isEmpty() ? "" : ": " + msg));
      }
    }
    if (viaExportName) {
      ByteBuffer opt = ByteBuffer.allocate(16 + nameBytes.length);
      opt.putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_EXPORT_NAME).putInt(nameBytes.length);
      opt.put(nameBytes).flip();
      ChannelInput.writeFully(out, opt);
      ByteBuffer r;
      try {
        r = in.ensure(10);
      } catch (EOFException e) {
        throw new NbdProtocolException(
            name + ": the server closed the connection: no export '" + export + "'");
      }
      size = r.getLong();
      s.flags = r.getShort() & 0xffff;
      if (!noZeroes) {
        in.skip(124);
      }
    }
    if (size < 0) {
      throw new NbdProtocolException(name + ": NBD_OPT_GO succeeded without NBD_INFO_EXPORT");
    }
    s.limits = limits(name, s.flags, minBlock, preferred, maxPayload);
    long lbs = s.limits.logicalBlockSize();
    long usable = size - size % lbs;
    if (usable != size) {
      LOG.log(
          System.Logger.Level.WARNING,
          "{0}: export size {1} is not a multiple of {2}; the last {3} bytes are not used",
          name,
          size,
          lbs,
          size - usable);
    }
    s.size = size;
    s.sectors = usable >>> Bio.SECTOR_SHIFT;
    return s;
  }

  /** An option reply's type and data. */
  private record OptionReply(int type, ByteBuffer data) {}

  /** Reads one option reply to {@code option}, its data bounded by {@link #MAX_OPTION_REPLY}. */
  private static OptionReply optionReply(
      ChannelInput in, int option, String optionName, String name) throws IOException {
    ByteBuffer h = in.ensure(20);
    long magic = h.getLong();
    int got = h.getInt();
    int type = h.getInt();
    long length = h.getInt() & 0xffffffffL;
    if (magic != Nbd.REPLY_MAGIC || got != option) {
      throw new NbdProtocolException(
          name
              + ": bad reply to "
              + optionName
              + " (magic 0x"
              + Long.toHexString(magic)
              + ", option "
              + got
              + ")");
    }
    if (length > MAX_OPTION_REPLY) {
      throw new NbdProtocolException(
          name + ": option reply of " + length + " bytes (at most " + MAX_OPTION_REPLY + ")");
    }
    return new OptionReply(type, ByteBuffer.wrap(in.bytes((int) length)));
  }

  /**
   * Sends {@code NBD_OPT_STARTTLS} (the first option, so nothing is negotiated in the clear) and
   * runs the handshake; {@code in} reads through TLS from then on.
   */
  private static TlsChannel startTls(SocketChannel ch, ChannelInput in, Tls tls, String name)
      throws IOException {
    ByteBuffer opt = ByteBuffer.allocate(16);
    opt.putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_STARTTLS).putInt(0).flip();
    ChannelInput.writeFully(ch, opt);
    OptionReply r = optionReply(in, Nbd.OPT_STARTTLS, "NBD_OPT_STARTTLS", name);
    int type = r.type();
    String msg = StandardCharsets.UTF_8.decode(r.data()).toString();
    if (type != Nbd.REP_ACK) {
      throw new NbdProtocolException(
          name
              + ": the server refused TLS with "
              + Nbd.replyName(type)
              + (msg.isEmpty() ? "" : " (" + msg + ")")
              + "; an nbds URI is never used without it");
    }
    if (in.buffer().hasRemaining()) {
      throw new NbdProtocolException(
          name + ": bytes after the reply to NBD_OPT_STARTTLS, before the TLS handshake");
    }
    TlsChannel t;
    try {
      t = TlsChannel.handshake(ch, tls.engine(), name);
    } catch (javax.net.ssl.SSLException e) {
      throw new NbdProtocolException(name + ": TLS handshake failed: " + e.getMessage(), e);
    }
    in.switchTo(t);
    LOG.log(System.Logger.Level.DEBUG, "{0}: {1}", name, t.describe());
    return t;
  }

  private static IoLimits limits(
      String name, int flags, int minBlock, int preferred, long maxPayload)
      throws NbdProtocolException {
    int lbs = Bio.SECTOR_SIZE;
    if (minBlock != 0) {
      if (Integer.bitCount(minBlock) != 1 || minBlock > 65536) {
        throw new NbdProtocolException(
            name
                + ": minimum block size "
                + minBlock
                + " (proto.md: a power of 2, at most 64 KiB)");
      }
      lbs = Math.max(lbs, minBlock);
    }
    int pbs = lbs;
    if (preferred != 0 && Integer.bitCount(preferred) == 1) {
      pbs = Math.max(lbs, Math.min(preferred, 65536));
    }
    long payload = maxPayload == 0 ? Nbd.MAX_PAYLOAD : Math.min(maxPayload, Nbd.MAX_PAYLOAD);
    int maxSectors = (int) (payload >>> Bio.SECTOR_SHIFT);
    int lbSectors = lbs >>> Bio.SECTOR_SHIFT;
    maxSectors = Math.max(lbSectors, maxSectors - maxSectors % lbSectors);
    int range = (int) (0xffffffffL >>> Bio.SECTOR_SHIFT);
    range -= range % lbSectors;
    boolean readOnly = (flags & Nbd.FLAG_READ_ONLY) != 0;
    return IoLimits.builder()
        .logicalBlockSize(lbs)
        .physicalBlockSize(pbs)
        .ioMin(pbs)
        .maxSectors(maxSectors)
        .maxDiscardSectors(!readOnly && (flags & Nbd.FLAG_SEND_TRIM) != 0 ? range : 0)
        .discardGranularity(lbs)
        .maxWriteZeroesSectors(!readOnly && (flags & Nbd.FLAG_SEND_WRITE_ZEROES) != 0 ? range : 0)
        .writeCache((flags & Nbd.FLAG_SEND_FLUSH) != 0)
        .fua((flags & Nbd.FLAG_SEND_FUA) != 0)
        .build();
  }

  // ---------------------------------------------------------------------------------------------
  // Submission

  @Override
  protected void doSubmit(Bio bio) {
    outstanding.incrementAndGet();
    Conn c = conn;
    if (c.broken || c.serverShuttingDown) {
      finish(bio, BlockStatus.TRANSPORT);
      return;
    }
    if (bio.sectors() == 0 && bio.op() != Bio.Op.FLUSH) {
      finish(bio, BlockStatus.OK); // proto.md leaves zero-length requests unspecified: not sent
      return;
    }
    int flags = c.flags;
    switch (bio.op()) {
      case READ:
        new Job(c, bio, Nbd.CMD_READ, 0, false).sendParts();
        return;
      case WRITE:
        {
          boolean flushable = (flags & Nbd.FLAG_SEND_FLUSH) != 0;
          boolean fua = bio.hasFlag(Bio.FUA);
          boolean nativeFua = fua && (flags & Nbd.FLAG_SEND_FUA) != 0;
          Job j =
              new Job(
                  c,
                  bio,
                  Nbd.CMD_WRITE,
                  nativeFua ? Nbd.CMD_FLAG_FUA : 0,
                  fua && !nativeFua && flushable);
          if (bio.hasFlag(Bio.PREFLUSH) && flushable) {
            j.preflush();
          } else {
            j.sendParts();
          }
          return;
        }
      case FLUSH:
        if ((flags & Nbd.FLAG_SEND_FLUSH) == 0) {
          finish(bio, BlockStatus.OK); // no cache to flush
        } else {
          new Job(c, bio, Nbd.CMD_FLUSH, 0, false).sendFlush();
        }
        return;
      case DISCARD:
        if (limits().maxDiscardSectors() == 0) {
          finish(bio, BlockStatus.NOTSUPP);
        } else {
          new Job(c, bio, Nbd.CMD_TRIM, fuaFlag(flags, bio), false).sendParts();
        }
        return;
      case WRITE_ZEROES:
        if (limits().maxWriteZeroesSectors() == 0) {
          finish(bio, BlockStatus.NOTSUPP);
        } else {
          int f = fuaFlag(flags, bio) | (bio.hasFlag(Bio.NOUNMAP) ? Nbd.CMD_FLAG_NO_HOLE : 0);
          new Job(c, bio, Nbd.CMD_WRITE_ZEROES, f, false).sendParts();
        }
        return;
      default:
        finish(bio, BlockStatus.NOTSUPP);
    }
  }

  private static int fuaFlag(int flags, Bio bio) {
    return bio.hasFlag(Bio.FUA) && (flags & Nbd.FLAG_SEND_FUA) != 0 ? Nbd.CMD_FLAG_FUA : 0;
  }

  private void finish(Bio bio, BlockStatus status) {
    try {
      bio.complete(status);
    } finally {
      if (outstanding.decrementAndGet() == 0 && closing) {
        synchronized (idle) {
          idle.notifyAll();
        }
      }
    }
  }

  /**
   * One bio on the wire of one connection, in stages run one after the other: an optional flush
   * first ({@link Bio#PREFLUSH}), the data, an optional flush after (emulated FUA). Each stage is a
   * carrier bio whose callback is this job; the data stage's requests (parts) are chained children
   * of its carrier ({@link Bio#chainSlice}, {@link Bio#chain}), in flight together, the first error
   * winning, and a single-part stage sends its carrier itself. A stage after the connection is gone
   * fails with TRANSPORT, even if the device has reconnected meanwhile (the flush before it was
   * answered by a connection, and a server, that no longer exist).
   */
  private final class Job implements BioCallback {
    final Conn c;
    final Bio bio;
    final int type;
    final int cmdFlags;
    final boolean postflush;
    int stage; // 0 = data, 1 = preflush, 2 = postflush

    Job(Conn c, Bio bio, int type, int cmdFlags, boolean postflush) {
      this.c = c;
      this.bio = bio;
      this.type = type;
      this.cmdFlags = cmdFlags;
      this.postflush = postflush;
    }

    void preflush() {
      stage = 1;
      sendFlush();
    }

    void sendFlush() {
      c.send(new Part(Bio.flush(this), Nbd.CMD_FLUSH, 0, 0, 0, null));
    }

    void sendParts() {
      stage = 0;
      long offset = bio.sector() << Bio.SECTOR_SHIFT;
      int sectors = bio.sectors();
      ByteBuffer data = bio.data() == null ? null : bio.data().slice(bio.dataOffset(), bio.bytes());
      Bio carrier = Bio.of(bio.op(), bio.flags(), bio.sector(), sectors, data, this);
      int max = type == Nbd.CMD_READ || type == Nbd.CMD_WRITE ? maxDataSectors : maxRangeSectors;
      if (sectors <= max) {
        c.send(new Part(carrier, type, cmdFlags, offset, sectors << Bio.SECTOR_SHIFT, data));
        return;
      }
      for (int done = 0; done < sectors; ) {
        int k = Math.min(max, sectors - done);
        Bio part =
            data != null
                ? carrier.chainSlice(done, k)
                : carrier.chain(bio.op(), bio.flags(), bio.sector() + done, k, null);
        ByteBuffer d =
            data == null ? null : data.slice(done << Bio.SECTOR_SHIFT, k << Bio.SECTOR_SHIFT);
        c.send(
            new Part(
                part,
                type,
                cmdFlags,
                offset + ((long) done << Bio.SECTOR_SHIFT),
                k << Bio.SECTOR_SHIFT,
                d));
        done += k;
      }
      carrier.complete(BlockStatus.OK); // the carrier's own share: its parts decide
    }

    /** A stage's carrier completed. */
    @Override
    public void done(Bio carrier) {
      BlockStatus s = carrier.status();
      if (s == BlockStatus.OK && stage == 1) {
        sendParts();
      } else if (s == BlockStatus.OK && stage == 0 && postflush) {
        stage = 2;
        sendFlush();
      } else {
        finish(bio, s);
      }
    }
  }

  /** One NBD request, completing {@code bio} (a stage's carrier or one of its children). */
  private static final class Part {
    final Bio bio;
    final int type;
    final int cmdFlags;
    final long offset;
    final int length;
    final ByteBuffer data;

    Part(Bio bio, int type, int cmdFlags, long offset, int length, ByteBuffer data) {
      this.bio = bio;
      this.type = type;
      this.cmdFlags = cmdFlags;
      this.offset = offset;
      this.length = length;
      this.data = data;
    }

    void done(BlockStatus s) {
      bio.complete(s);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // One connection

  /** One negotiated connection: its socket, its requests in flight and its reply reader. */
  private final class Conn {
    final SocketChannel ch;
    final TlsChannel tls; // null without TLS
    final ChannelInput in;
    final Outbox out;
    final int flags;
    final Thread reader;
    final ConcurrentHashMap<Long, Part> pending = new ConcurrentHashMap<>();
    volatile boolean broken;
    private boolean lost; // guarded by this: fail() ran
    volatile String brokenReason;
    volatile boolean serverShuttingDown;

    Conn(Session s) {
      this.ch = s.ch;
      this.tls = s.tls;
      this.in = s.in;
      this.flags = s.flags;
      this.out = new Outbox(tls == null ? ch : tls, name(), null);
      this.reader = new Thread(this::readReplies, threadName);
      reader.setDaemon(true);
    }

    void send(Part p) {
      long cookie = cookies.incrementAndGet();
      pending.put(cookie, p);
      if (broken) {
        if (pending.remove(cookie) != null) {
          p.done(BlockStatus.TRANSPORT);
        }
        return;
      }
      ByteBuffer h = ByteBuffer.allocate(Nbd.REQUEST_SIZE);
      h.putInt(Nbd.REQUEST_MAGIC).putShort((short) p.cmdFlags).putShort((short) p.type);
      h.putLong(cookie).putLong(p.offset).putInt(p.length).flip();
      out.add(h, p.type == Nbd.CMD_WRITE ? p.data : null);
      if (Thread.currentThread() == reader) {
        // A request sent from the reply reader (the next stage of a flush/FUA job, or a bio a
        // completion submits) must not block it: a server that stops reading until its replies
        // are read would then wait for us for ever. The writer thread drains instead.
        writer.execute(this::drain);
        return;
      }
      drain();
    }

    void drain() {
      out.drain();
      if (out.isBroken()) {
        fail("sending failed: " + out.failure());
      }
    }

    void readReplies() {
      Part current = null; // taken out of pending, its payload still being read
      try {
        while (true) {
          ByteBuffer h = in.ensure(Nbd.SIMPLE_REPLY_SIZE);
          int magic = h.getInt();
          if (magic != Nbd.SIMPLE_REPLY_MAGIC) {
            throw new NbdProtocolException(
                "reply magic 0x" + Integer.toHexString(magic) + " (expected 0x67446698)");
          }
          int error = h.getInt();
          long cookie = h.getLong();
          Part p = pending.remove(cookie);
          if (p == null) {
            throw new NbdProtocolException(
                "reply for cookie " + cookie + ", which is not in flight");
          }
          if (p.type == Nbd.CMD_READ && error == 0) {
            current = p;
            in.readFully(p.data);
            current = null;
          }
          BlockStatus s = Nbd.statusOf(error);
          if (error == Nbd.ESHUTDOWN && !serverShuttingDown) {
            // proto.md: the server still answers what it has; only new requests are pointless
            serverShuttingDown = true;
            LOG.log(
                System.Logger.Level.WARNING,
                "{0}: the server is shutting down (NBD_ESHUTDOWN); new I/O fails with TRANSPORT",
                name());
          }
          p.done(s);
        }
      } catch (EOFException e) {
        fail(closing ? "closed" : "the server closed the connection");
      } catch (IOException e) {
        fail(closing ? "closed" : e.getMessage());
      } catch (RuntimeException | Error e) {
        LOG.log(System.Logger.Level.ERROR, name() + ": reader failed", e);
        fail("internal error: " + e);
      }
      if (current != null) {
        // the connection ended in the middle of this read's payload: fail() no longer sees it
        current.done(BlockStatus.TRANSPORT);
      }
    }

    /**
     * The connection is gone: every request in flight and every later one fails with TRANSPORT, and
     * the device starts reconnecting if it was asked to.
     */
    void fail(String reason) {
      boolean first = false;
      synchronized (this) {
        if (!lost) {
          lost = true;
          brokenReason = reason;
          first = true;
        }
      }
      if (first) {
        connectionLost(this); // first: whoever sees the device broken sees the attempt scheduled
        broken = true;
        out.markBroken();
        NbdServer.closeQuietly(ch); // the reader, if still reading, stops
        if (!closing) {
          LOG.log(
              System.Logger.Level.WARNING,
              "{0}: connection lost ({1}); I/O fails with TRANSPORT{2}",
              name(),
              reason,
              reconnect == null ? "" : " until it reconnects");
        }
      }
      List<Long> cookies = new ArrayList<>(pending.keySet());
      for (Long c : cookies) {
        Part p = pending.remove(c);
        if (p != null) {
          p.done(BlockStatus.TRANSPORT);
        }
      }
    }
  }

  /** Why the connection is gone, or {@code null} while there is one. */
  public String brokenReason() {
    return conn.brokenReason;
  }

  @Override
  protected void doClose() throws IOException {
    SocketChannel abort;
    synchronized (lock) {
      closing = true;
      abort = dialling;
    }
    if (reconnector != null) {
      if (abort != null) {
        NbdServer.closeQuietly(abort); // a reconnection under way gives up
      }
      reconnector.shutdown(); // calls off the next attempt and waits for one running
    }
    Conn c = conn;
    long deadline = System.nanoTime() + CLOSE_TIMEOUT.toNanos();
    synchronized (idle) {
      while (outstanding.get() > 0 && !c.broken) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          LOG.log(
              System.Logger.Level.WARNING,
              "{0}: closing with {1} bios still in flight; they fail with TRANSPORT",
              name(),
              outstanding.get());
          break;
        }
        try {
          idle.wait(Math.max(1, left / 1_000_000));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
    }
    if (!c.broken) {
      ByteBuffer h = ByteBuffer.allocate(Nbd.REQUEST_SIZE);
      h.putInt(Nbd.REQUEST_MAGIC).putShort((short) 0).putShort((short) Nbd.CMD_DISC);
      h.putLong(cookies.incrementAndGet()).putLong(0).putInt(0).flip();
      c.out.add(h, null);
      c.out.drain();
      if (c.tls != null && !c.out.isBroken()) {
        try {
          c.tls.closeOutbound();
        } catch (IOException e) {
          LOG.log(
              System.Logger.Level.DEBUG, "{0}: no TLS close_notify: {1}", name(), e.getMessage());
        }
      }
      try {
        c.ch.shutdownOutput();
      } catch (IOException e) {
        LOG.log(System.Logger.Level.DEBUG, "shutdownOutput failed", e);
      }
    }
    // the server closes after NBD_CMD_DISC; the reader then sees the end of the stream
    try {
      c.reader.join(JOIN_MILLIS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    c.ch.close();
    try {
      c.reader.join(JOIN_MILLIS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    c.fail("closed");
    writer.shutdown();
  }
}
