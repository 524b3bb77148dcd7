package io.jdm.crypto.engine;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What every {@link SectorCipher} here shares: a copy of the key, the crypto-sector geometry, and
 * one worker (engines and scratch) per thread, made on first use and wiped, with the key, by {@link
 * #close()}. Subclasses make workers and run the cipher over sectors.
 *
 * @param <W> a thread's engines and scratch
 */
abstract class PerThreadSectorCipher<W extends PerThreadSectorCipher.Worker>
    implements SectorCipher {
  /** A thread's engines and scratch, which {@link #wipe()} forgets. */
  interface Worker {
    void wipe();
  }

  final byte[] key;
  final IvMode ivMode;
  final String ivOpts;
  final int sectorSize;
  final int step; // cc_sector units per crypto sector
  final int shift; // log2(step)
  final boolean ivLargeSectors;
  private final ThreadLocal<W> local = ThreadLocal.withInitial(this::register);
  private final List<W> workers = new ArrayList<>(); // guarded by itself
  private volatile boolean closed;

  PerThreadSectorCipher(
      byte[] key, IvMode ivMode, String ivOpts, int sectorSize, boolean ivLargeSectors) {
    this.key = key.clone();
    this.ivMode = ivMode;
    this.ivOpts = ivOpts;
    this.sectorSize = sectorSize;
    this.step = sectorSize >>> 9;
    this.shift = Integer.numberOfTrailingZeros(step);
    this.ivLargeSectors = ivLargeSectors;
  }

  /** A new worker for the calling thread; throws the kernel's error if a key does not fit. */
  abstract W newWorker();

  /** En- or decrypts {@code count} sectors with the calling thread's worker. */
  abstract void run(W w, ByteBuffer buf, int offset, int count, long ccSector, boolean encrypt);

  /** Makes and wipes a worker: a key that does not fit fails now, not at the first I/O. */
  final void checkKeys() {
    newWorker().wipe();
  }

  /** The IV sector of the crypto sector at {@code ccSector}. */
  final long ivSector(long ccSector) {
    return ivLargeSectors ? ccSector >>> shift : ccSector;
  }

  private W register() {
    W w = newWorker();
    synchronized (workers) {
      if (closed) {
        w.wipe();
        throw new IllegalStateException("the cipher's key has been wiped");
      }
      workers.add(w);
    }
    return w;
  }

  @Override
  public final int sectorSize() {
    return sectorSize;
  }

  @Override
  public final void encrypt(ByteBuffer buf, int offset, int count, long ccSector) {
    run(worker(), buf, offset, count, ccSector, true);
  }

  @Override
  public final void decrypt(ByteBuffer buf, int offset, int count, long ccSector) {
    run(worker(), buf, offset, count, ccSector, false);
  }

  private W worker() {
    if (closed) {
      throw new IllegalStateException("the cipher's key has been wiped");
    }
    return local.get();
  }

  @Override
  public final void close() {
    synchronized (workers) {
      if (closed) {
        return;
      }
      closed = true;
      for (W w : workers) {
        w.wipe();
      }
      workers.clear();
    }
    Arrays.fill(key, (byte) 0);
  }
}
