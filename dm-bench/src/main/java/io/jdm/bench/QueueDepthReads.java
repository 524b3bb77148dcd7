package io.jdm.bench;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import java.nio.ByteBuffer;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/** The queue-depth read loop of the read benchmarks: one read per buffer in flight, then wait. */
final class QueueDepthReads {
  private QueueDepthReads() {}

  /**
   * Submits one read per buffer at the sectors from {@code next} on (wrapping; {@code sectors}'
   * length a power of two) and waits for all of them.
   *
   * @return the index of the next sector to read
   * @throws IllegalStateException if a read failed
   */
  static int readAll(BlockDevice dev, long[] sectors, int next, ByteBuffer[] buffers)
      throws InterruptedException {
    CountDownLatch done = new CountDownLatch(buffers.length);
    AtomicInteger errors = new AtomicInteger();
    for (ByteBuffer buffer : buffers) {
      Bio bio =
          Bio.read(
              sectors[next++ & (sectors.length - 1)],
              buffer.clear(),
              b -> {
                if (b.status().isError()) {
                  errors.incrementAndGet();
                }
                done.countDown();
              });
      dev.submit(bio);
    }
    done.await();
    if (errors.get() != 0) {
      throw new IllegalStateException(errors.get() + " reads failed");
    }
    return next;
  }
}
