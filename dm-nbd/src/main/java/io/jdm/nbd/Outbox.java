package io.jdm.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.util.ArrayList;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Messages waiting to go out on one socket, written without a thread of their own: any thread may
 * {@link #add} a message; {@link #drain} writes every queued message unless another thread is
 * already writing (that thread takes the new message too, because it re-checks the queue after it
 * lets go). Messages queued together leave in one gathering write, which is what keeps a deep
 * pipeline from costing a system call per message.
 *
 * <p>After the first write error the outbox is broken: queued and later messages are dropped (and
 * still counted as taken, so the owner's in-flight accounting stays right).
 */
final class Outbox {
  private static final System.Logger LOG = System.getLogger(Outbox.class.getName());
  private static final int MAX_GATHER = 64;

  private volatile GatheringByteChannel ch;
  private final String where;
  private final ConcurrentLinkedQueue<ByteBuffer[]> queue = new ConcurrentLinkedQueue<>();
  private final AtomicInteger writing = new AtomicInteger();
  private final ArrayList<ByteBuffer> gather = new ArrayList<>();
  private final ArrayList<ByteBuffer> written = new ArrayList<>();
  private final PayloadPool pool;
  private volatile boolean broken;
  private volatile IOException failure;

  /** An outbox that gives payloads back to {@code pool} once written ({@code null}: never). */
  Outbox(GatheringByteChannel ch, String where, PayloadPool pool) {
    this.ch = ch;
    this.where = where;
    this.pool = pool;
  }

  /**
   * Writes to {@code ch} from now on (a TLS session over the same socket, after {@code
   * NBD_OPT_STARTTLS}); only while no message is queued or being written.
   */
  void switchTo(GatheringByteChannel ch) {
    if (!queue.isEmpty() || writing.get() != 0) {
      throw new IllegalStateException(where + ": switching channels with messages queued");
    }
    this.ch = ch;
  }

  /** Queues a message (a header and an optional payload; {@code null} for none). */
  void add(ByteBuffer header, ByteBuffer payload) {
    queue.add(payload == null ? new ByteBuffer[] {header} : new ByteBuffer[] {header, payload});
  }

  /**
   * Writes what is queued unless another thread is writing. Returns how many messages this call
   * took off the queue (written, or dropped because the outbox is broken).
   */
  int drain() {
    int taken = 0;
    while (!queue.isEmpty()) {
      if (!writing.compareAndSet(0, 1)) {
        return taken;
      }
      try {
        taken += writeQueued();
      } finally {
        writing.set(0);
      }
    }
    return taken;
  }

  boolean isBroken() {
    return broken;
  }

  /** The write error that broke the outbox, or {@code null}. */
  IOException failure() {
    return failure;
  }

  /** Drops everything from now on (the connection is going away). */
  void markBroken() {
    broken = true;
  }

  private int writeQueued() {
    int taken = 0;
    ByteBuffer[] m;
    while ((m = queue.poll()) != null) {
      taken++;
      if (m.length > 1 && pool != null) {
        written.add(m[1]);
      }
      if (broken) {
        continue;
      }
      for (ByteBuffer b : m) {
        if (b.hasRemaining()) {
          gather.add(b);
        }
      }
      if (gather.size() >= MAX_GATHER || queue.isEmpty()) {
        flush();
      }
    }
    flush();
    return taken;
  }

  private void flush() {
    if (!gather.isEmpty()) {
      ByteBuffer[] bufs = gather.toArray(new ByteBuffer[0]);
      gather.clear();
      if (!broken) {
        try {
          ByteBuffer last = bufs[bufs.length - 1];
          GatheringByteChannel c = ch;
          while (last.hasRemaining()) {
            c.write(bufs);
          }
        } catch (IOException e) {
          failure = e;
          broken = true;
          LOG.log(System.Logger.Level.DEBUG, "{0}: write failed: {1}", where, e.getMessage());
        }
      }
    }
    for (ByteBuffer b : written) {
      pool.release(b);
    }
    written.clear();
  }
}
