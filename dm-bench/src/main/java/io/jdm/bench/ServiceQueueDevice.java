package io.jdm.bench;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.IoLimits;
import java.io.IOException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A device of bounded concurrency, for benchmarks: one service thread takes the bios in arrival
 * order, holds each for a fixed service time, then passes it to the device below. So it serves one
 * bio at a time whatever the queue depth, like a disk with one actuator and no reordering: the
 * queue depth a user keeps only lengthens the wait. Not a test double for correctness.
 */
final class ServiceQueueDevice implements BlockDevice {
  private final BlockDevice below;
  private final long serviceNanos;
  private final LinkedBlockingQueue<Bio> queue = new LinkedBlockingQueue<>();
  private final Thread server;
  private volatile boolean closed;

  ServiceQueueDevice(BlockDevice below, long serviceNanos) {
    this.below = below;
    this.serviceNanos = serviceNanos;
    this.server = new Thread(this::serve, "service-" + below.name());
    server.setDaemon(true);
    server.start();
  }

  private void serve() {
    try {
      while (!closed) {
        Bio bio = queue.poll(100, TimeUnit.MILLISECONDS);
        if (bio == null) {
          continue;
        }
        long until = System.nanoTime() + serviceNanos;
        long left;
        while ((left = until - System.nanoTime()) > 0) {
          LockSupport.parkNanos(left);
        }
        below.submit(bio);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public String name() {
    return below.name();
  }

  @Override
  public long sectors() {
    return below.sectors();
  }

  @Override
  public IoLimits limits() {
    return below.limits();
  }

  @Override
  public boolean isReadOnly() {
    return below.isReadOnly();
  }

  @Override
  public void submit(Bio bio) {
    queue.add(bio);
  }

  @Override
  public void close() throws IOException {
    closed = true;
    server.interrupt();
    below.close();
  }
}
