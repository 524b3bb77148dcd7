package io.jdm.cli;

import io.jdm.core.Clock;
import io.jdm.core.Errno;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One client of the control socket.
 *
 * <p>Thread model: a reader thread reads request lines ({@link RequestReader}: bounded per line and
 * by the daemon's shared budget) and hands each to the connection's request thread, which carries
 * requests out one at a time, in order, and writes their answers. The reader keeps reading while a
 * request runs, so it sees the client leave: a request that can run for ever ({@code wait}, or
 * {@code luks_open} with a hostile key-derivation cost) is then interrupted, and its thread and the
 * socket are gone at once; other requests are short and run to their end (interrupting them could
 * leave a device half made), their answer going nowhere.
 *
 * <p>At most {@link #MAX_QUEUED} requests wait per connection (the reader then stops reading). A
 * connection with no request running or waiting, and nothing received, for the idle timeout (on the
 * daemon's {@link Clock}) is closed. A line over the limit, or over the shared budget, gets an
 * {@code ERR} answer, after the answers of the requests before it, and the connection is closed.
 * Every connection that ends on an error is logged.
 */
final class ControlConnection {
  private static final System.Logger LOG = System.getLogger(ControlConnection.class.getName());

  /** Requests read but not yet answered, per connection, before the reader waits. */
  static final int MAX_QUEUED = 8;

  /**
   * After refusing a line, what the client still sends is read and dropped, up to this many bytes,
   * before the socket is closed: closing a Unix socket with unread data resets it, and the client
   * would lose the answer that says why.
   */
  static final long DISCARD_MAX = 256L << 20;

  /** Requests that may run for ever, and are cancelled when their client goes. */
  private static final Set<String> CANCELLABLE = Set.of("wait", "luks_open");

  /** What a connection needs from its daemon. */
  interface Host {
    /** Carries out a request other than {@code shutdown}. */
    Protocol.Response handle(Protocol.Request r);

    /** Tears the daemon down except {@code c}, for a {@code shutdown} request. */
    void shutdown(ControlConnection c);

    /** Called once the shutdown request has been answered. */
    void shutdownAnswered();

    /** Called once when the connection has ended. */
    void ended(ControlConnection c);
  }

  /** Limits, shared by a daemon's connections. */
  record Limits(int maxLine, RequestReader.Budget budget, Clock clock, long idleNanos) {}

  private final Host host;
  private final SocketChannel ch;
  private final long id;
  private final String user;
  private final Limits limits;
  private final Writer out;
  private final ExecutorService requests;
  private final Semaphore queued = new Semaphore(MAX_QUEUED);
  private final Object writeLock = new Object();
  private volatile long lastActivity;
  private final AtomicInteger pending = new AtomicInteger();
  private volatile Thread running; // the request thread while it runs a cancellable request
  private volatile boolean closing;
  private boolean refused; // reader thread only
  private boolean settled; // request thread only

  ControlConnection(Host host, SocketChannel ch, long id, String user, Limits limits) {
    this.host = host;
    this.ch = ch;
    this.id = id;
    this.user = user;
    this.limits = limits;
    this.out = new OutputStreamWriter(Channels.newOutputStream(ch), StandardCharsets.UTF_8);
    this.requests =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "jdmsetup-request-" + id);
              t.setDaemon(true);
              return t;
            });
    this.lastActivity = limits.clock().nanoTime();
  }

  /** Starts the reader thread and the idle timer. */
  void start() {
    Thread t = new Thread(this::read, "jdmsetup-client-" + id);
    t.setDaemon(true);
    t.start();
    scheduleIdleCheck(limits.idleNanos());
  }

  @Override
  public String toString() {
    return "control connection " + id + " (user " + user + ")";
  }

  private void read() {
    Throwable failure = null;
    try (RequestReader in = new RequestReader(ch, limits.maxLine(), limits.budget())) {
      byte[] line;
      while ((line = in.readLine()) != null) {
        lastActivity = limits.clock().nanoTime();
        queued.acquire();
        pending.incrementAndGet();
        byte[] l = line;
        requests.execute(() -> serve(l));
      }
      LOG.log(System.Logger.Level.DEBUG, "{0} closed by the client", this);
    } catch (RequestReader.LineTooLongException e) {
      refuse(Errno.E2BIG, e);
    } catch (RequestReader.BudgetExceededException e) {
      refuse(Errno.ENOMEM, e);
    } catch (IOException e) {
      if (!closing) {
        failure = e;
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException | Error e) {
      failure = e; // an OutOfMemoryError included: it must not end a connection unseen
    } finally {
      end(failure);
    }
  }

  /** Answers a line that cannot be read, after the requests before it, and ends the connection. */
  private void refuse(Errno errno, IOException why) {
    refused = true;
    LOG.log(System.Logger.Level.WARNING, "{0}: {1}; closing it", this, why.getMessage());
    requests.execute(
        () -> {
          try {
            write(Protocol.Response.error("-", errno.name(), why.getMessage()));
          } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "{0}: could not answer: {1}", this, e);
          }
        });
  }

  private void serve(byte[] line) {
    settled = false;
    Protocol.Request req = null;
    try {
      try {
        req = Protocol.Request.decode(Protocol.utf8(line));
      } catch (IllegalArgumentException e) {
        answer(Protocol.Response.error("-", Errno.EINVAL.name(), "bad request: " + e.getMessage()));
        return;
      }
      if (req.verb().equals("shutdown")) {
        host.shutdown(this);
        try {
          answer(Protocol.Response.ok(""));
        } finally {
          host.shutdownAnswered();
          close();
        }
        return;
      }
      boolean cancellable = CANCELLABLE.contains(req.verb());
      if (cancellable) {
        running = Thread.currentThread();
        if (closing) {
          return; // the client left before it started
        }
      }
      Protocol.Response r;
      try {
        r = host.handle(req);
      } finally {
        running = null;
        Thread.interrupted(); // a cancellation that came late must not hit the next request
      }
      answer(r);
    } catch (IOException e) {
      LOG.log(System.Logger.Level.DEBUG, "{0}: the answer to {1} went nowhere: {2}", this, req, e);
    } catch (RuntimeException | Error e) {
      LOG.log(System.Logger.Level.WARNING, this + ": request " + req + " failed", e);
      close();
    } finally {
      settle();
    }
  }

  /**
   * The request is over: counted out and its time noted before the answer goes, so a client that
   * has read the answer never sees the connection still busy or idle since before it.
   */
  private void settle() {
    if (!settled) {
      settled = true;
      lastActivity = limits.clock().nanoTime();
      pending.decrementAndGet();
      queued.release();
    }
  }

  private void answer(Protocol.Response r) throws IOException {
    settle();
    write(r);
  }

  private void write(Protocol.Response r) throws IOException {
    synchronized (writeLock) {
      r.write(out);
    }
  }

  /** The reader has stopped: cancel what may run for ever, let the rest finish, close. */
  private void end(Throwable failure) {
    if (failure != null) {
      LOG.log(System.Logger.Level.WARNING, this + " ended by an error", failure);
    }
    closing = true;
    requests.shutdown();
    cancelRunning();
    try {
      while (!requests.awaitTermination(1, TimeUnit.SECONDS)) {
        cancelRunning(); // a cancellable request that started meanwhile
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (refused && !closing) {
      discardInput();
    }
    closeChannel();
    host.ended(this);
  }

  /** Lets the refusal reach the client: no more output, then drop its input until EOF. */
  private void discardInput() {
    try {
      ch.shutdownOutput();
      ByteBuffer b = ByteBuffer.allocate(64 << 10);
      long dropped = 0;
      while (dropped < DISCARD_MAX) {
        b.clear();
        int n = ch.read(b);
        if (n < 0) {
          return;
        }
        dropped += n;
      }
    } catch (IOException e) {
      LOG.log(System.Logger.Level.DEBUG, "{0}: {1}", this, e);
    }
  }

  private void cancelRunning() {
    Thread t = running;
    if (t != null) {
      t.interrupt();
    }
  }

  /**
   * Closes the connection from outside (daemon shutdown, idle timeout): the reader sees it, a
   * cancellable request is interrupted, and the connection ends.
   */
  void close() {
    closing = true;
    cancelRunning();
    closeChannel();
  }

  private void closeChannel() {
    try {
      ch.close();
    } catch (IOException e) {
      LOG.log(System.Logger.Level.DEBUG, "{0}: close failed: {1}", this, e);
    }
  }

  private void scheduleIdleCheck(long delayNanos) {
    if (limits.idleNanos() <= 0) {
      return;
    }
    limits.clock().schedule(this::idleCheck, delayNanos);
  }

  private void idleCheck() {
    if (closing || !ch.isOpen()) {
      return;
    }
    long idle = limits.clock().nanoTime() - lastActivity;
    boolean quiet = pending.get() == 0;
    if (quiet && idle >= limits.idleNanos()) {
      LOG.log(System.Logger.Level.INFO, "{0}: idle for {1} s, closing it", this, idle / 1e9);
      close();
      return;
    }
    scheduleIdleCheck(quiet ? limits.idleNanos() - idle : limits.idleNanos());
  }
}
