package io.jdm.nbd;

import io.jdm.core.AllocationMap;
import io.jdm.core.Bio;
import io.jdm.core.BioCallback;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.IoLimits;
import io.jdm.core.Workqueue;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLException;

/**
 * One client of an {@link NbdServer}: negotiation, then the transmission phase. The thread model is
 * described on {@link NbdServer}. After {@code NBD_OPT_STARTTLS}, {@link #in}, {@link #out} and the
 * {@link #outbox} go through a {@link TlsChannel} instead of the socket.
 */
final class NbdServerConnection implements Runnable {
  private static final System.Logger LOG = System.getLogger(NbdServerConnection.class.getName());

  /** Longer option payloads are taken as a denial of service: hard disconnect. */
  private static final int MAX_OPTION_LENGTH = 64 * 1024;

  /**
   * Requests read and not yet answered at most: the reader stops reading until replies are written,
   * so a client that pipelines requests and does not read the replies cannot make the server queue
   * without bound.
   */
  static final int MAX_IN_FLIGHT = 1024;

  /**
   * Payload bytes (read buffers until their reply is written, write payloads until their bio
   * completes) the requests in flight hold at most; one request larger than that runs alone.
   */
  static final long MAX_IN_FLIGHT_BYTES = 64L << 20;

  /** Replies the reader thread batches at most before writing them. */
  private static final int MAX_BATCH = 64;

  private static final int SUPPORTED_CLIENT_FLAGS =
      Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES;

  private final NbdServer server;
  private final SocketChannel ch;
  private final long id;
  private final Thread thread;
  private final ChannelInput in;
  private final String peer;
  private final NbdServer.TlsMode tlsMode; // of the address the client connected to

  /** Where negotiation replies go: the socket, or the TLS session once there is one. */
  private GatheringByteChannel out;

  /** The TLS session, or {@code null}. */
  private TlsChannel tls;

  // negotiation state
  private boolean noZeroes;
  private boolean structured;

  /** The export name of the last NBD_OPT_SET_META_CONTEXT that selected base:allocation. */
  private String metaContextExport;

  /** The export's base:allocation context was selected: NBD_CMD_BLOCK_STATUS is served. */
  private boolean blockStatus;

  // transmission state
  private NbdExport export;
  private BlockDevice device;
  private String exportName;
  private long size;
  private int minBlock;
  private int maxPayload;
  private int maxDataSectors;
  private int maxDiscardSectors;
  private int maxZeroesSectors;
  private boolean readOnly;

  /** The id of base:allocation in NBD_REP_META_CONTEXT and block status replies. */
  static final int BASE_ALLOCATION_ID = 1;

  /** Descriptors one block status reply holds at most (proto.md lets a server send fewer). */
  static final int MAX_DESCRIPTORS = 8192;

  /** Requests read and not yet answered (replies written or dropped). */
  private final AtomicInteger inFlight = new AtomicInteger();

  private final Object idle = new Object();
  private volatile boolean draining;
  private volatile boolean shuttingDown;

  /** The reader waits for room ({@link #MAX_IN_FLIGHT}, {@link #MAX_IN_FLIGHT_BYTES}). */
  private volatile boolean readerWaiting;

  private final java.util.concurrent.atomic.AtomicBoolean drainScheduled =
      new java.util.concurrent.atomic.AtomicBoolean();
  private final Workqueue writer; // writes replies for threads that complete bios
  private volatile boolean handshakeExpired;
  private final PayloadPool pool = new PayloadPool();

  /** Replies the reader thread queued since it last wrote; only the reader touches it. */
  private int readerQueued;

  private final Outbox outbox;

  NbdServerConnection(NbdServer server, SocketChannel ch, long id, NbdServer.TlsMode tlsMode) {
    this.server = server;
    this.tlsMode = tlsMode;
    this.ch = ch;
    this.id = id;
    this.in = new ChannelInput(ch, 128 * 1024);
    this.out = ch;
    String p;
    try {
      p = String.valueOf(ch.getRemoteAddress());
    } catch (IOException e) {
      p = "?";
    }
    this.peer = p.isEmpty() ? "unix socket" : p;
    this.outbox = new Outbox(ch, "NBD connection " + id, pool);
    this.thread = new Thread(this, "jdm-nbd-conn-" + id);
    this.writer = Workqueue.create(thread.getName() + "-writer", 1);
    thread.setDaemon(true);
  }

  Thread thread() {
    return thread;
  }

  private String where() {
    return "NBD connection "
        + id
        + " ("
        + peer
        + (tls == null ? "" : ", TLS")
        + (exportName == null ? "" : ", export '" + exportName + "'")
        + ")";
  }

  @Override
  public void run() {
    try {
      io.jdm.core.Clock.Timeout timer = server.armHandshakeTimer(this::handshakeExpired);
      boolean go;
      try {
        go = negotiate();
      } finally {
        if (timer != null) {
          timer.cancel();
        }
      }
      if (go && !handshakeExpired) {
        transmit();
      }
    } catch (EOFException e) {
      LOG.log(System.Logger.Level.DEBUG, "{0}: {1}", where(), e.getMessage());
    } catch (NbdProtocolException e) {
      LOG.log(System.Logger.Level.WARNING, "{0}: {1}; disconnecting", where(), e.getMessage());
    } catch (IOException e) {
      if (!shuttingDown) {
        LOG.log(System.Logger.Level.DEBUG, where() + ": connection failed", e);
      }
    } catch (RuntimeException | Error e) {
      LOG.log(System.Logger.Level.ERROR, where() + ": internal error", e);
    } finally {
      finish();
    }
  }

  /** Stops reading (the reader then drains and closes). */
  void shutdown(long deadlineNanos) {
    shuttingDown = true;
    synchronized (idle) {
      idle.notifyAll(); // a reader waiting for room stops waiting
    }
    try {
      ch.shutdownInput();
    } catch (IOException e) {
      abort();
    }
  }

  /** The handshake timer ran out: close the socket, which ends the negotiation's read. */
  private void handshakeExpired() {
    handshakeExpired = true;
    LOG.log(
        System.Logger.Level.WARNING,
        "{0}: no handshake within {1}; disconnecting",
        where(),
        server.handshakeTimeout());
    try {
      ch.shutdownOutput(); // the client sees the end at once, whatever close() defers
    } catch (IOException e) {
      // closing anyway
    }
    abort();
  }

  /** Closes the socket at once: replies not yet written are lost. */
  void abort() {
    outbox.markBroken();
    NbdServer.closeQuietly(ch);
  }

  // ---------------------------------------------------------------------------------------------
  // Negotiation

  /** Returns {@code true} when transmission starts, {@code false} when the client went away. */
  private boolean negotiate() throws IOException {
    ByteBuffer hello = ByteBuffer.allocate(18);
    hello.putLong(Nbd.INIT_PASSWD).putLong(Nbd.IHAVEOPT);
    hello.putShort((short) (Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES));
    ChannelInput.writeFully(out, hello.flip());
    int clientFlags = in.readInt();
    if ((clientFlags & ~SUPPORTED_CLIENT_FLAGS) != 0) {
      throw new NbdProtocolException(
          "client flags 0x"
              + Integer.toHexString(clientFlags)
              + " include flags this server did not offer (proto.md: the server MUST drop the"
              + " connection)");
    }
    noZeroes = (clientFlags & Nbd.FLAG_C_NO_ZEROES) != 0;
    boolean fixed = (clientFlags & Nbd.FLAG_C_FIXED_NEWSTYLE) != 0;
    // proto.md: NOTLS unless both sides speak fixed newstyle
    NbdServer.TlsMode mode = fixed ? tlsMode : NbdServer.TlsMode.OFF;
    if (!fixed && tlsMode == NbdServer.TlsMode.REQUIRE) {
      throw new NbdProtocolException(
          "client without NBD_FLAG_C_FIXED_NEWSTYLE, which NBD_OPT_STARTTLS needs, on a server"
              + " that requires TLS");
    }
    while (true) {
      long magic = in.readLong();
      if (magic != Nbd.IHAVEOPT) {
        throw new NbdProtocolException(
            "option magic 0x"
                + Long.toHexString(magic)
                + " (expected IHAVEOPT 0x49484156454f5054)");
      }
      int option = in.readInt();
      long length = in.readInt() & 0xffffffffL;
      if (length > MAX_OPTION_LENGTH) {
        throw new NbdProtocolException(
            Nbd.optionName(option)
                + " with "
                + length
                + " bytes of data (this server takes at most "
                + MAX_OPTION_LENGTH
                + ")");
      }
      ByteBuffer data = ByteBuffer.wrap(in.bytes((int) length));
      if (server.isClosed() && option != Nbd.OPT_ABORT) {
        if (option == Nbd.OPT_EXPORT_NAME) {
          // NBD_OPT_EXPORT_NAME has no option reply: the only refusal is to close
          throw new NbdProtocolException("NBD_OPT_EXPORT_NAME while the server is shutting down");
        }
        optionReply(option, Nbd.REP_ERR_SHUTDOWN, "the server is shutting down");
        continue;
      }
      if (mode == NbdServer.TlsMode.REQUIRE
          && tls == null
          && option != Nbd.OPT_STARTTLS
          && option != Nbd.OPT_ABORT) {
        if (option == Nbd.OPT_EXPORT_NAME) {
          throw new NbdProtocolException(
              "NBD_OPT_EXPORT_NAME without TLS on a server that requires it (proto.md, FORCEDTLS:"
                  + " the server must end the session)");
        }
        optionReply(
            option,
            Nbd.REP_ERR_TLS_REQD,
            "this server requires TLS: send NBD_OPT_STARTTLS before " + Nbd.optionName(option));
        continue;
      }
      switch (option) {
        case Nbd.OPT_EXPORT_NAME:
          return exportName(data);
        case Nbd.OPT_ABORT:
          try {
            optionReply(option, Nbd.REP_ACK, (ByteBuffer) null);
          } catch (IOException e) {
            // the client may close without waiting for the ACK (proto.md)
          }
          return false;
        case Nbd.OPT_LIST:
          list(data);
          break;
        case Nbd.OPT_INFO:
        case Nbd.OPT_GO:
          if (infoOrGo(option, data)) {
            return true;
          }
          break;
        case Nbd.OPT_STRUCTURED_REPLY:
          if (data.hasRemaining()) {
            optionReply(option, Nbd.REP_ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY takes no data");
          } else if (structured) {
            optionReply(option, Nbd.REP_ERR_INVALID, "structured replies are already negotiated");
          } else {
            structured = true;
            optionReply(option, Nbd.REP_ACK, (ByteBuffer) null);
          }
          break;
        case Nbd.OPT_LIST_META_CONTEXT:
        case Nbd.OPT_SET_META_CONTEXT:
          metaContext(option, data);
          break;
        case Nbd.OPT_STARTTLS:
          if (mode == NbdServer.TlsMode.OFF) {
            optionReply(option, Nbd.REP_ERR_UNSUP, "NBD_OPT_STARTTLS: this server has no TLS");
          } else if (data.hasRemaining()) {
            optionReply(option, Nbd.REP_ERR_INVALID, "NBD_OPT_STARTTLS takes no data");
          } else if (tls != null) {
            optionReply(option, Nbd.REP_ERR_INVALID, "NBD_OPT_STARTTLS: TLS is already running");
          } else {
            startTls();
          }
          break;
        default:
          optionReply(
              option, Nbd.REP_ERR_UNSUP, Nbd.optionName(option) + " is not supported by jdm");
      }
    }
  }

  /** Acknowledges {@code NBD_OPT_STARTTLS} and runs the handshake; later bytes go through TLS. */
  private void startTls() throws IOException {
    optionReply(Nbd.OPT_STARTTLS, Nbd.REP_ACK, (ByteBuffer) null);
    if (in.buffer().hasRemaining()) {
      // sent before the ACK, so not part of the handshake; taking them as bytes of the TLS
      // session would let whoever injected them into the plaintext stream speak inside it
      throw new NbdProtocolException(
          in.buffer().remaining()
              + " bytes sent after NBD_OPT_STARTTLS before its reply (proto.md: the client waits"
              + " for the reply, then starts the TLS handshake)");
    }
    TlsChannel t;
    try {
      t = TlsChannel.handshake(ch, server.newTlsEngine(), where());
    } catch (SSLException e) {
      throw new NbdProtocolException("TLS handshake failed: " + e.getMessage(), e);
    }
    tls = t;
    in.switchTo(t);
    out = t;
    outbox.switchTo(t);
    structured = false; // proto.md: no negotiation state survives NBD_OPT_STARTTLS
    metaContextExport = null;
    LOG.log(System.Logger.Level.DEBUG, "{0}: {1}", where(), t.describe());
  }

  private void list(ByteBuffer data) throws IOException {
    if (data.hasRemaining()) {
      optionReply(Nbd.OPT_LIST, Nbd.REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
      return;
    }
    for (String name : server.exports().names()) {
      byte[] b = name.getBytes(StandardCharsets.UTF_8);
      ByteBuffer r = ByteBuffer.allocate(4 + b.length);
      r.putInt(b.length).put(b).flip();
      optionReply(Nbd.OPT_LIST, Nbd.REP_SERVER, r);
    }
    optionReply(Nbd.OPT_LIST, Nbd.REP_ACK, (ByteBuffer) null);
  }

  private boolean exportName(ByteBuffer data) throws IOException {
    if (data.remaining() > Nbd.MAX_STRING) {
      // NBD_OPT_EXPORT_NAME has no error reply: the only refusal is to close
      throw new NbdProtocolException(
          "NBD_OPT_EXPORT_NAME with a name of "
              + data.remaining()
              + " bytes (at most "
              + Nbd.MAX_STRING
              + ")");
    }
    String name = StandardCharsets.UTF_8.decode(data).toString();
    blockStatus = structured && name.equals(metaContextExport);
    if (!openExport(name)) {
      // proto.md: an export that cannot be served after NBD_OPT_EXPORT_NAME ends the session
      throw new NbdProtocolException(
          "NBD_OPT_EXPORT_NAME asked for export '" + name + "', which does not exist");
    }
    ByteBuffer r = ByteBuffer.allocate(noZeroes ? 10 : 134);
    r.putLong(size).putShort((short) transmissionFlags());
    r.position(r.limit()).flip();
    ChannelInput.writeFully(out, r);
    return true;
  }

  private boolean infoOrGo(int option, ByteBuffer data) throws IOException {
    if (data.remaining() < 6) {
      optionReply(option, Nbd.REP_ERR_INVALID, Nbd.optionName(option) + ": data too short");
      return false;
    }
    long nameLength = data.getInt() & 0xffffffffL;
    if (nameLength > data.remaining() - 2) {
      optionReply(
          option,
          Nbd.REP_ERR_INVALID,
          Nbd.optionName(option) + ": name length " + nameLength + " exceeds the option data");
      return false;
    }
    if (nameLength > Nbd.MAX_STRING) {
      optionReply(
          option,
          Nbd.REP_ERR_TOO_BIG,
          Nbd.optionName(option)
              + ": export name of "
              + nameLength
              + " bytes (at most "
              + Nbd.MAX_STRING
              + ")");
      return false;
    }
    byte[] nameBytes = new byte[(int) nameLength];
    data.get(nameBytes);
    int n = data.getShort() & 0xffff;
    if (data.remaining() != 2 * n) {
      optionReply(
          option,
          Nbd.REP_ERR_INVALID,
          Nbd.optionName(option) + ": " + n + " information requests do not match the data");
      return false;
    }
    boolean wantName = false;
    boolean wantDescription = false;
    boolean wantBlockSize = false;
    for (int i = 0; i < n; i++) {
      int info = data.getShort() & 0xffff;
      wantName |= info == Nbd.INFO_NAME;
      wantDescription |= info == Nbd.INFO_DESCRIPTION;
      wantBlockSize |= info == Nbd.INFO_BLOCK_SIZE;
    }
    String name = new String(nameBytes, StandardCharsets.UTF_8);
    if (!openExport(name)) {
      optionReply(option, Nbd.REP_ERR_UNKNOWN, "export '" + name + "' does not exist");
      return false;
    }
    ByteBuffer info = ByteBuffer.allocate(12);
    info.putShort((short) Nbd.INFO_EXPORT).putLong(size).putShort((short) transmissionFlags());
    optionReply(option, Nbd.REP_INFO, info.flip());
    // always sent: the minimum block is the device's logical block, not the default of 1
    ByteBuffer bs = ByteBuffer.allocate(14);
    bs.putShort((short) Nbd.INFO_BLOCK_SIZE).putInt(minBlock).putInt(preferredBlock());
    bs.putInt(maxPayload);
    optionReply(option, Nbd.REP_INFO, bs.flip());
    if (wantName) {
      optionReply(option, Nbd.REP_INFO, stringInfo(Nbd.INFO_NAME, exportName));
    }
    if (wantDescription && !export.description().isEmpty()) {
      optionReply(option, Nbd.REP_INFO, stringInfo(Nbd.INFO_DESCRIPTION, export.description()));
    }
    if (!wantBlockSize && minBlock > Bio.SECTOR_SIZE) {
      // proto.md: a client that did not ask for the constraints may send requests aligned to 512
      // bytes only (what it is told to keep to for interoperability); this export cannot take them
      optionReply(
          option,
          Nbd.REP_ERR_BLOCK_SIZE_REQD,
          "export '"
              + exportName
              + "' has a minimum block size of "
              + minBlock
              + " bytes: request NBD_INFO_BLOCK_SIZE");
      releaseExport();
      return false;
    }
    optionReply(option, Nbd.REP_ACK, (ByteBuffer) null);
    if (option == Nbd.OPT_GO) {
      blockStatus = structured && name.equals(metaContextExport);
      return true;
    }
    releaseExport();
    return false;
  }

  /**
   * {@code NBD_OPT_LIST_META_CONTEXT} and {@code NBD_OPT_SET_META_CONTEXT}: the one context is
   * {@code base:allocation}. LIST with no query, or with {@code base:}, reports it; SET selects it
   * only when asked by its full name. Both need structured replies and an existing export.
   */
  private void metaContext(int option, ByteBuffer data) throws IOException {
    String what = Nbd.optionName(option);
    if (!structured) {
      optionReply(option, Nbd.REP_ERR_INVALID, what + " without structured replies");
      return;
    }
    List<String> queries = new java.util.ArrayList<>();
    String name = null;
    try {
      name = string(data);
      long n = data.getInt() & 0xffffffffL;
      for (long i = 0; i < n; i++) {
        queries.add(string(data));
      }
    } catch (java.nio.BufferUnderflowException | IllegalArgumentException e) {
      name = null;
    }
    if (name == null || data.hasRemaining()) {
      optionReply(option, Nbd.REP_ERR_INVALID, what + ": malformed data");
      return;
    }
    boolean exists = openExport(name);
    releaseExport();
    if (!exists) {
      optionReply(option, Nbd.REP_ERR_UNKNOWN, "export '" + name + "' does not exist");
      return;
    }
    boolean list = option == Nbd.OPT_LIST_META_CONTEXT;
    boolean selected = list && queries.isEmpty();
    for (String q : queries) {
      selected |= q.equals(Nbd.BASE_ALLOCATION) || list && q.equals("base:");
    }
    if (!list) {
      metaContextExport = selected ? name : null; // SET replaces what an earlier SET chose
    }
    if (selected) {
      byte[] b = Nbd.BASE_ALLOCATION.getBytes(StandardCharsets.UTF_8);
      ByteBuffer r = ByteBuffer.allocate(4 + b.length);
      r.putInt(list ? 0 : BASE_ALLOCATION_ID).put(b).flip();
      optionReply(option, Nbd.REP_META_CONTEXT, r);
    }
    optionReply(option, Nbd.REP_ACK, (ByteBuffer) null);
  }

  /** A 32-bit length and that many bytes of UTF-8, at most {@link Nbd#MAX_STRING}. */
  private static String string(ByteBuffer data) {
    long len = data.getInt() & 0xffffffffL;
    if (len > Math.min(data.remaining(), Nbd.MAX_STRING)) {
      throw new IllegalArgumentException("string of " + len + " bytes");
    }
    byte[] b = new byte[(int) len];
    data.get(b);
    return new String(b, StandardCharsets.UTF_8);
  }

  private static ByteBuffer stringInfo(int type, String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    ByteBuffer r = ByteBuffer.allocate(2 + b.length);
    return r.putShort((short) type).put(b).flip();
  }

  /** Opens {@code name} (the default export for ""); {@code false} if there is none. */
  private boolean openExport(String name) throws IOException {
    releaseExport();
    NbdExports exports = server.exports();
    NbdExport e = exports.open(name);
    String canonical = name;
    if (e == null && name.isEmpty()) {
      List<String> names = exports.names();
      if (names.size() == 1) {
        canonical = names.get(0);
        e = exports.open(canonical);
      }
    }
    if (e == null) {
      return false;
    }
    export = e;
    device = e.device();
    exportName = canonical;
    readOnly = e.isReadOnly() || server.forceReadOnly();
    IoLimits l = device.limits();
    size = device.size();
    minBlock = l.logicalBlockSize();
    maxPayload = Nbd.MAX_PAYLOAD;
    long maxSectorsBytes = (long) l.maxSectors() << Bio.SECTOR_SHIFT;
    if (l.maxSectors() != IoLimits.UNLIMITED && maxSectorsBytes >= preferredBlock()) {
      maxPayload = (int) Math.min(maxPayload, maxSectorsBytes);
    }
    int lbSectors = l.logicalBlockSectors();
    maxDataSectors = roundDown(Math.min(l.maxSectors(), Nbd.MAX_PAYLOAD >>> 9), lbSectors);
    maxDiscardSectors = roundDown(l.maxDiscardSectors(), lbSectors);
    maxZeroesSectors = roundDown(l.maxWriteZeroesSectors(), lbSectors);
    return true;
  }

  private static int roundDown(int sectors, int lbSectors) {
    return sectors - sectors % lbSectors;
  }

  private int preferredBlock() {
    IoLimits l = device.limits();
    int p = Math.max(Math.max(l.physicalBlockSize(), minBlock), 4096);
    return Math.min(p, 65536);
  }

  private int transmissionFlags() {
    int f = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH | Nbd.FLAG_SEND_FUA | Nbd.FLAG_SEND_CACHE;
    if (readOnly) {
      f |= Nbd.FLAG_READ_ONLY;
    } else {
      if (maxDiscardSectors > 0) {
        f |= Nbd.FLAG_SEND_TRIM;
      }
      if (maxZeroesSectors > 0) {
        f |= Nbd.FLAG_SEND_WRITE_ZEROES;
      }
    }
    if (structured) {
      f |= Nbd.FLAG_SEND_DF; // every read is answered with one data chunk
    }
    if (export.shared() || readOnly) {
      f |= Nbd.FLAG_CAN_MULTI_CONN;
    }
    return f;
  }

  private void releaseExport() {
    NbdExport e = export;
    export = null;
    device = null;
    exportName = null;
    if (e != null && e.closeWhenDone()) {
      NbdServer.closeQuietly(e.device());
    }
  }

  private void optionReply(int option, int type, String message) throws IOException {
    optionReply(option, type, ByteBuffer.wrap(message.getBytes(StandardCharsets.UTF_8)));
  }

  private void optionReply(int option, int type, ByteBuffer data) throws IOException {
    int n = data == null ? 0 : data.remaining();
    ByteBuffer h = ByteBuffer.allocate(20);
    h.putLong(Nbd.REPLY_MAGIC).putInt(option).putInt(type).putInt(n).flip();
    if (data == null) {
      ChannelInput.writeFully(out, h);
    } else {
      ByteBuffer[] bufs = {h, data};
      while (data.hasRemaining()) {
        out.write(bufs);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Transmission

  private void transmit() throws IOException {
    LOG.log(
        System.Logger.Level.DEBUG,
        "{0}: transmission, {1} bytes, structured replies {2}",
        where(),
        size,
        structured);
    while (true) {
      if (in.buffer().remaining() < Nbd.REQUEST_SIZE && readerQueued > 0) {
        // the next read may block: first send the replies of bios that completed inline (the
        // others are the writer's: taking them here could block this thread on a client that
        // reads no replies, and stop it reading requests the device could already serve)
        readerQueued = 0;
        drainReplies();
      }
      ByteBuffer b = in.ensure(Nbd.REQUEST_SIZE);
      int magic = b.getInt();
      if (magic != Nbd.REQUEST_MAGIC) {
        throw new NbdProtocolException(
            "request magic 0x" + Integer.toHexString(magic) + " (expected 0x25609513)");
      }
      int flags = b.getShort() & 0xffff;
      int type = b.getShort() & 0xffff;
      long cookie = b.getLong();
      long offset = b.getLong();
      long length = b.getInt() & 0xffffffffL;
      if (type == Nbd.CMD_DISC) {
        LOG.log(System.Logger.Level.DEBUG, "{0}: NBD_CMD_DISC", where());
        return;
      }
      request(flags, type, cookie, offset, length);
    }
  }

  private void request(int flags, int type, long cookie, long offset, long length)
      throws IOException {
    ByteBuffer payload = null;
    if (type != Nbd.CMD_WRITE) {
      awaitRoom(type == Nbd.CMD_READ ? Math.min(length, Nbd.MAX_PAYLOAD) : 0);
    } else {
      if (length > Nbd.MAX_PAYLOAD) {
        // proto.md: EINVAL for a payload over the maximum; its bytes are read and dropped so the
        // stream stays in step (nothing is buffered, so this costs the client's bandwidth only)
        awaitRoom(0);
        if (in.buffer().remaining() < length) {
          drainReplies();
        }
        in.skip(length);
        inFlight.incrementAndGet();
        reply(
            cookie,
            type,
            offset,
            Nbd.EINVAL,
            "NBD_CMD_WRITE of "
                + length
                + " bytes: longer than the maximum payload of "
                + Nbd.MAX_PAYLOAD
                + " bytes",
            null);
        return;
      }
      awaitRoom(length);
      payload = pool.acquire((int) length);
      if (in.buffer().remaining() < length) {
        drainReplies();
      }
      in.readFully(payload);
      payload.flip();
    }
    inFlight.incrementAndGet();
    if (shuttingDown) {
      pool.release(payload);
      reply(cookie, type, offset, Nbd.ESHUTDOWN, "the server is shutting down", null);
      return;
    }
    int error = check(flags, type, offset, length);
    if (error != 0) {
      pool.release(payload);
      reply(cookie, type, offset, error, rejectMessage(error, type, offset, length), null);
      return;
    }
    int sectors = (int) (length >>> Bio.SECTOR_SHIFT);
    long sector = offset >>> Bio.SECTOR_SHIFT;
    int bioFlags = (flags & Nbd.CMD_FLAG_FUA) != 0 ? Bio.FUA : 0;
    switch (type) {
      case Nbd.CMD_READ:
        if (length == 0) {
          reply(cookie, type, offset, 0, null, ByteBuffer.allocate(0));
          return;
        }
        new Request(cookie, type, offset, pool.acquire((int) length))
            .submit(Bio.Op.READ, 0, sector, sectors, maxDataSectors);
        return;
      case Nbd.CMD_WRITE:
        if (length == 0) {
          reply(cookie, type, offset, 0, null, null);
          return;
        }
        new Request(cookie, type, offset, payload)
            .submit(Bio.Op.WRITE, bioFlags, sector, sectors, maxDataSectors);
        return;
      case Nbd.CMD_FLUSH:
        new Request(cookie, type, offset, null).submitFlush();
        return;
      case Nbd.CMD_TRIM:
        if (length == 0) {
          reply(cookie, type, offset, 0, null, null);
          return;
        }
        new Request(cookie, type, offset, null)
            .submit(Bio.Op.DISCARD, bioFlags, sector, sectors, maxDiscardSectors);
        return;
      case Nbd.CMD_WRITE_ZEROES:
        if (length == 0) {
          reply(cookie, type, offset, 0, null, null);
          return;
        }
        if ((flags & Nbd.CMD_FLAG_NO_HOLE) != 0) {
          bioFlags |= Bio.NOUNMAP;
        }
        new Request(cookie, type, offset, null)
            .submit(Bio.Op.WRITE_ZEROES, bioFlags, sector, sectors, maxZeroesSectors);
        return;
      case Nbd.CMD_CACHE:
        reply(cookie, type, offset, 0, null, null); // a hint; nothing to prefetch into
        return;
      case Nbd.CMD_BLOCK_STATUS:
        blockStatus(cookie, flags, offset, length);
        return;
      default:
        throw new AssertionError(type);
    }
  }

  /**
   * Waits until one more request, holding {@code bytes} of payload, stays within {@link
   * #MAX_IN_FLIGHT} and {@link #MAX_IN_FLIGHT_BYTES}. Writes the reader's own queued replies first:
   * the requests in flight are answered by the threads completing them, and whoever writes their
   * replies calls {@link #answered}, which wakes the reader.
   */
  private void awaitRoom(long bytes) throws IOException {
    if (hasRoom(bytes)) {
      return;
    }
    readerQueued = 0;
    drainReplies();
    readerWaiting = true;
    try {
      synchronized (idle) {
        while (!shuttingDown && !hasRoom(bytes)) {
          idle.wait();
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException(where() + ": interrupted");
    } finally {
      readerWaiting = false;
    }
  }

  private boolean hasRoom(long bytes) {
    if (inFlight.get() >= MAX_IN_FLIGHT) {
      return false;
    }
    long held = pool.held();
    return bytes == 0 || held == 0 || held + bytes <= MAX_IN_FLIGHT_BYTES;
  }

  /** The NBD error for a request that must not reach the device, or 0. */
  private int check(int flags, int type, long offset, long length) {
    int allowed;
    boolean writes = false;
    boolean ranged = true;
    switch (type) {
      case Nbd.CMD_READ:
        allowed = Nbd.CMD_FLAG_FUA | (structured ? Nbd.CMD_FLAG_DF : 0);
        break;
      case Nbd.CMD_WRITE:
        allowed = Nbd.CMD_FLAG_FUA;
        writes = true;
        break;
      case Nbd.CMD_FLUSH:
        allowed = Nbd.CMD_FLAG_FUA;
        ranged = false;
        break;
      case Nbd.CMD_TRIM:
        allowed = Nbd.CMD_FLAG_FUA;
        writes = true;
        break;
      case Nbd.CMD_WRITE_ZEROES:
        allowed = Nbd.CMD_FLAG_FUA | Nbd.CMD_FLAG_NO_HOLE;
        writes = true;
        break;
      case Nbd.CMD_CACHE:
        allowed = Nbd.CMD_FLAG_FUA;
        break;
      case Nbd.CMD_BLOCK_STATUS:
        if (!blockStatus) {
          return Nbd.EINVAL; // no metadata context selected
        }
        allowed = Nbd.CMD_FLAG_FUA | Nbd.CMD_FLAG_REQ_ONE;
        break;
      default:
        return Nbd.EINVAL; // unknown command
    }
    if ((flags & ~allowed) != 0) {
      return Nbd.EINVAL;
    }
    if (writes && readOnly) {
      return Nbd.EPERM;
    }
    if (type == Nbd.CMD_TRIM && maxDiscardSectors == 0
        || type == Nbd.CMD_WRITE_ZEROES && maxZeroesSectors == 0) {
      return Nbd.EINVAL; // not advertised
    }
    if (!ranged) {
      return 0;
    }
    if (offset < 0 || offset > size || length > size - offset) {
      return type == Nbd.CMD_WRITE || type == Nbd.CMD_WRITE_ZEROES ? Nbd.ENOSPC : Nbd.EINVAL;
    }
    if (type == Nbd.CMD_BLOCK_STATUS) {
      return length == 0 ? Nbd.EINVAL : 0; // any byte range: the answer is rounded out
    }
    if (((offset | length) & (minBlock - 1)) != 0) {
      return Nbd.EINVAL;
    }
    if (type == Nbd.CMD_READ && length > Nbd.MAX_PAYLOAD) {
      // proto.md: EOVERFLOW tells a DF read it may retry without DF; anything else is EINVAL
      return (flags & Nbd.CMD_FLAG_DF) != 0 ? Nbd.EOVERFLOW : Nbd.EINVAL;
    }
    return 0;
  }

  private String rejectMessage(int error, int type, long offset, long length) {
    String req =
        commandName(type) + " of " + length + " bytes at offset " + Long.toUnsignedString(offset);
    switch (error) {
      case Nbd.EPERM:
        return req + ": export '" + exportName + "' is read-only";
      case Nbd.ENOSPC:
        return req + ": beyond the end of the export (" + size + " bytes)";
      case Nbd.EOVERFLOW:
        return req + ": longer than the maximum payload of " + Nbd.MAX_PAYLOAD + " bytes";
      default:
        if (type > Nbd.CMD_BLOCK_STATUS || type == Nbd.CMD_DISC) {
          return "unknown command " + type;
        }
        if (type == Nbd.CMD_BLOCK_STATUS && !blockStatus) {
          return req + ": no metadata context was selected (NBD_OPT_SET_META_CONTEXT)";
        }
        if (offset < 0 || offset > size || length > size - offset) {
          return req + ": beyond the end of the export (" + size + " bytes)";
        }
        if (length > Nbd.MAX_PAYLOAD && type == Nbd.CMD_READ) {
          return req + ": longer than the maximum payload of " + Nbd.MAX_PAYLOAD + " bytes";
        }
        if (((offset | length) & (minBlock - 1)) != 0) {
          return req + ": not aligned to the minimum block size " + minBlock;
        }
        return req + ": invalid flags or command not offered";
    }
  }

  private static String commandName(int type) {
    switch (type) {
      case Nbd.CMD_READ:
        return "NBD_CMD_READ";
      case Nbd.CMD_WRITE:
        return "NBD_CMD_WRITE";
      case Nbd.CMD_FLUSH:
        return "NBD_CMD_FLUSH";
      case Nbd.CMD_TRIM:
        return "NBD_CMD_TRIM";
      case Nbd.CMD_CACHE:
        return "NBD_CMD_CACHE";
      case Nbd.CMD_WRITE_ZEROES:
        return "NBD_CMD_WRITE_ZEROES";
      case Nbd.CMD_BLOCK_STATUS:
        return "NBD_CMD_BLOCK_STATUS";
      default:
        return "command " + type;
    }
  }

  /**
   * One NBD request on its way through the device: one bio, or several when the request is longer
   * than the device takes at once (the parts share the buffer and the first error wins).
   */
  /**
   * One request being served: a carrier bio with this as its callback, submitted as it is when the
   * device takes it whole, or cut at {@code maxSectors} into chained children ({@link
   * Bio#chainSlice}, {@link Bio#chain}) that are in flight together; the carrier completes once all
   * have, with the first error.
   */
  private final class Request implements BioCallback {
    final long cookie;
    final int type;
    final long offset;
    final ByteBuffer data;

    Request(long cookie, int type, long offset, ByteBuffer data) {
      this.cookie = cookie;
      this.type = type;
      this.offset = offset;
      this.data = data;
    }

    void submitFlush() {
      submitPart(Bio.flush(this));
    }

    void submit(Bio.Op op, int flags, long sector, int sectors, int maxSectors) {
      Bio carrier = Bio.of(op, flags, sector, sectors, data, this);
      if (maxSectors <= 0 || sectors <= maxSectors) {
        submitPart(carrier);
        return;
      }
      for (int done = 0; done < sectors; ) {
        int k = Math.min(maxSectors, sectors - done);
        Bio part =
            data != null
                ? carrier.chainSlice(done, k)
                : carrier.chain(op, flags, sector + done, k, null);
        submitPart(part);
        done += k;
      }
      carrier.complete(BlockStatus.OK); // the carrier's own share: its parts decide
    }

    private void submitPart(Bio bio) {
      try {
        device.submit(bio);
      } catch (RuntimeException e) {
        // a closed export (a removed mapped device): fail the request, keep the connection
        LOG.log(System.Logger.Level.DEBUG, where() + ": submit failed", e);
        if (!bio.isCompleted()) {
          bio.complete(BlockStatus.IOERR);
        }
      }
    }

    @Override
    public void done(Bio bio) {
      done(bio.status());
    }

    private void done(BlockStatus s) {
      BlockStatus e = s == BlockStatus.OK ? null : s;
      if (type == Nbd.CMD_WRITE || e != null) {
        pool.release(data); // a read's buffer goes back once its reply is written
      }
      if (e == null) {
        reply(cookie, type, offset, 0, null, type == Nbd.CMD_READ ? data : null);
      } else {
        reply(
            cookie,
            type,
            offset,
            Nbd.errorOf(e),
            commandName(type) + " at offset " + offset + ": " + e.description() + " error",
            null);
      }
    }
  }

  /**
   * Answers {@code NBD_CMD_BLOCK_STATUS} for base:allocation from the device's {@link
   * AllocationMap} (a device without one is all data), on this thread: the device's answer is a
   * quick look-up. Descriptors start at {@code offset} and cover at most {@code length} bytes (the
   * sectors are rounded out to ask the device, the answer clipped back).
   */
  private void blockStatus(long cookie, int flags, long offset, long length) {
    long end = offset + length;
    long sector = offset >>> Bio.SECTOR_SHIFT;
    long endSector = (end + Bio.SECTOR_SIZE - 1) >>> Bio.SECTOR_SHIFT;
    int max = (flags & Nbd.CMD_FLAG_REQ_ONE) != 0 ? 1 : MAX_DESCRIPTORS;
    long[] lens = new long[Math.min(max, 64)];
    int[] states = new int[lens.length];
    int n = 0;
    long pos = offset;
    try {
      scan:
      while (pos < end) {
        List<AllocationMap.Extent> ex = AllocationMap.extents(device, sector, endSector - sector);
        if (ex.isEmpty()) {
          break;
        }
        for (AllocationMap.Extent e : ex) {
          long stop = Math.min(end, (sector + e.sectors()) << Bio.SECTOR_SHIFT);
          int state =
              ((e.flags() & AllocationMap.Extent.HOLE) != 0 ? Nbd.STATE_HOLE : 0)
                  | ((e.flags() & AllocationMap.Extent.ZERO) != 0 ? Nbd.STATE_ZERO : 0);
          if (n > 0 && states[n - 1] == state) {
            lens[n - 1] += stop - pos;
          } else if (n == max) {
            break scan;
          } else {
            if (n == lens.length) {
              lens = Arrays.copyOf(lens, Math.min(max, n * 2));
              states = Arrays.copyOf(states, lens.length);
            }
            lens[n] = stop - pos;
            states[n++] = state;
          }
          pos = stop;
          sector += e.sectors();
          if (pos >= end) {
            break scan;
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      LOG.log(System.Logger.Level.DEBUG, where() + ": block status failed", e);
      reply(
          cookie,
          Nbd.CMD_BLOCK_STATUS,
          offset,
          Nbd.EIO,
          "NBD_CMD_BLOCK_STATUS at offset " + offset + ": " + e.getMessage(),
          null);
      return;
    }
    if (n == 0) {
      lens[0] = length; // a device that said nothing: data
      states[0] = 0;
      n = 1;
    }
    ByteBuffer h = ByteBuffer.allocate(Nbd.STRUCTURED_HEADER_SIZE + 4 + 8 * n);
    h.putInt(Nbd.STRUCTURED_REPLY_MAGIC).putShort((short) Nbd.REPLY_FLAG_DONE);
    h.putShort((short) Nbd.REPLY_TYPE_BLOCK_STATUS).putLong(cookie).putInt(4 + 8 * n);
    h.putInt(BASE_ALLOCATION_ID);
    for (int i = 0; i < n; i++) {
      h.putInt((int) lens[i]).putInt(states[i]); // lengths sum to at most length, a u32
    }
    outbox.add(h.flip(), null);
    queued();
  }

  // ---------------------------------------------------------------------------------------------
  // Replies

  /**
   * Queues the reply to one request and writes it unless the reader thread will (it batches the
   * replies of bios that completed inline). {@code data} is the read payload on success.
   */
  private void reply(
      long cookie, int type, long offset, int error, String message, ByteBuffer data) {
    queueReply(cookie, type, offset, error, message, data);
    queued();
  }

  /** After a reply is queued: writes it now, batches it, or has the writer send it. */
  private void queued() {
    if (Thread.currentThread() != thread) {
      // Completed on someone else's thread (a device worker, a timer): never block it on this
      // socket, which a client that stops reading would do. The connection's writer drains.
      scheduleDrain();
    } else if (++readerQueued >= MAX_BATCH) {
      // a client that keeps the input full still gets its replies in bounded batches
      readerQueued = 0;
      drainReplies();
    }
  }

  private void queueReply(
      long cookie, int type, long offset, int error, String message, ByteBuffer data) {
    if (!structured || (type != Nbd.CMD_READ && error == 0)) {
      ByteBuffer h = ByteBuffer.allocate(Nbd.SIMPLE_REPLY_SIZE);
      h.putInt(Nbd.SIMPLE_REPLY_MAGIC).putInt(error).putLong(cookie).flip();
      outbox.add(h, error == 0 && type == Nbd.CMD_READ ? data : null);
      return;
    }
    if (error == 0) {
      if (data.remaining() == 0) {
        ByteBuffer h = ByteBuffer.allocate(Nbd.STRUCTURED_HEADER_SIZE);
        h.putInt(Nbd.STRUCTURED_REPLY_MAGIC).putShort((short) Nbd.REPLY_FLAG_DONE);
        h.putShort((short) Nbd.REPLY_TYPE_NONE).putLong(cookie).putInt(0).flip();
        outbox.add(h, null);
        return;
      }
      ByteBuffer h = ByteBuffer.allocate(Nbd.STRUCTURED_HEADER_SIZE + 8);
      h.putInt(Nbd.STRUCTURED_REPLY_MAGIC).putShort((short) Nbd.REPLY_FLAG_DONE);
      h.putShort((short) Nbd.REPLY_TYPE_OFFSET_DATA).putLong(cookie);
      h.putInt(8 + data.remaining()).putLong(offset).flip();
      outbox.add(h, data);
      return;
    }
    byte[] msg = message == null ? new byte[0] : message.getBytes(StandardCharsets.UTF_8);
    int msgLen = Math.min(msg.length, Nbd.MAX_STRING);
    ByteBuffer h = ByteBuffer.allocate(Nbd.STRUCTURED_HEADER_SIZE + 6 + msgLen);
    h.putInt(Nbd.STRUCTURED_REPLY_MAGIC).putShort((short) Nbd.REPLY_FLAG_DONE);
    h.putShort((short) Nbd.REPLY_TYPE_ERROR).putLong(cookie).putInt(6 + msgLen);
    h.putInt(error).putShort((short) msgLen).put(msg, 0, msgLen).flip();
    outbox.add(h, null);
  }

  /** Writes every queued reply unless another thread is doing so (it will take ours too). */
  private void drainReplies() {
    int n = outbox.drain();
    if (n > 0) {
      answered(n);
    }
  }

  /** Has the writer drain the outbox, unless a drain is already scheduled. */
  private void scheduleDrain() {
    if (!drainScheduled.compareAndSet(false, true)) {
      return;
    }
    try {
      writer.execute(
          () -> {
            drainScheduled.set(false); // replies queued from now on schedule another drain
            drainReplies();
          });
    } catch (IllegalStateException e) {
      // the connection has finished: its socket is closed, so draining here is quick
      drainScheduled.set(false);
      drainReplies();
    }
  }

  private void answered(int n) {
    if (inFlight.addAndGet(-n) == 0 && draining || readerWaiting) {
      synchronized (idle) {
        idle.notifyAll();
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // End of the connection

  private void finish() {
    draining = true;
    drainReplies();
    long timeout = server.shutdownTimeout().toNanos();
    long deadline = System.nanoTime() + timeout;
    synchronized (idle) {
      while (inFlight.get() > 0) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          LOG.log(
              System.Logger.Level.WARNING,
              "{0}: {1} requests still in flight after {2}; closing without their replies",
              where(),
              inFlight.get(),
              server.shutdownTimeout());
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
    if (tls != null && !outbox.isBroken() && ch.isOpen()) {
      try {
        tls.closeOutbound(); // proto.md: whoever ends a TLS session shuts TLS down first
      } catch (IOException e) {
        LOG.log(
            System.Logger.Level.DEBUG, "{0}: no TLS close_notify: {1}", where(), e.getMessage());
      }
    }
    NbdServer.closeQuietly(ch);
    if (inFlight.get() == 0) {
      releaseExport();
    } else {
      LOG.log(
          System.Logger.Level.WARNING,
          "{0}: export left open because requests never completed",
          where());
    }
    writer.shutdown(); // a drain still queued fails fast on the closed socket
    server.connectionEnded(this);
    LOG.log(System.Logger.Level.DEBUG, "{0}: closed", where());
  }
}
