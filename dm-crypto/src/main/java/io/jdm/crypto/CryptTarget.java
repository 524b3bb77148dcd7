package io.jdm.crypto;

import io.jdm.core.ArgSet;
import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceArea;
import io.jdm.core.DmDev;
import io.jdm.core.EndIoResult;
import io.jdm.core.EndIoTarget;
import io.jdm.core.Errno;
import io.jdm.core.IoLimits;
import io.jdm.core.MapResult;
import io.jdm.core.StatusType;
import io.jdm.core.TargetException;
import io.jdm.core.io.BufferPool;
import io.jdm.crypto.engine.CipherSpec;
import io.jdm.crypto.engine.SectorCipher;
import io.jdm.crypto.engine.SectorCiphers;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * One {@code crypt} line. Reads are remapped and decrypted in place when they complete, on the
 * completing thread; writes are encrypted on the submitting thread into a bounce buffer from the
 * core's {@link BufferPool} (the caller's buffer is never changed) and written from there by a
 * chained child bio ({@link Bio#chain}), the buffer going back to the pool in {@link #endIo}.
 * Flushes and, with {@code allow_discards}, discards pass through unencrypted; write-zeroes is not
 * supported, as in the kernel. Bios are cut at 128 KiB ({@code max_read_size}/{@code
 * max_write_size}).
 *
 * <p>The IV sector of a crypto sector at relative sector {@code x} is {@code x + iv_offset} ({@code
 * >> log2(sector_size / 512)} with {@code iv_large_sectors}).
 *
 * <p>Messages, only while suspended ({@code "not suspended during key manipulation."} otherwise):
 * {@code key set <key>} (same size as the table's key) and {@code key wipe}; after a wipe the
 * device refuses to resume ({@code "aborting resume - crypt key is not set."}) until a key is set,
 * and I/O fails. {@link #close()} wipes the key.
 */
final class CryptTarget implements EndIoTarget {
  private static final int MAX_IO_SECTORS = 256; // 128 KiB

  private final CipherSpec spec;
  private final CryptOptions opts;
  private final long begin;
  private final long length;
  private final int sectorSize;
  private final int sectorMask; // in 512-byte sectors
  private final BufferPool pool;
  private volatile CryptKey key;
  private volatile SectorCipher cipher;
  private volatile boolean keyValid;
  private volatile boolean suspended;
  private long ivOffset;
  private DmDev dmDev;
  private BlockDevice dev;
  private long start;

  CryptTarget(CipherSpec spec, CryptKey key, CryptOptions opts, long begin, long length) {
    this.spec = spec;
    this.opts = opts;
    this.begin = begin;
    this.length = length;
    this.sectorSize = opts.sectorSize();
    this.sectorMask = (sectorSize >>> 9) - 1;
    this.key = key;
    this.cipher = newCipher(key);
    this.keyValid = true;
    // Heap buffers: the ciphers work on arrays. A reserve for every thread that can be writing at
    // once, no maximum (a write never waits for a buffer: the kernel's crypt allocates too).
    int slots = 2 * Runtime.getRuntime().availableProcessors() + 2;
    this.pool =
        BufferPool.builder("crypt", MAX_IO_SECTORS << Bio.SECTOR_SHIFT)
            .direct(false)
            .reserve(slots)
            .maxIdle(slots)
            .build();
  }

  private SectorCipher newCipher(CryptKey k) {
    try {
      return SectorCiphers.create(spec, k.bytes(), sectorSize, opts.ivLargeSectors());
    } catch (IllegalArgumentException e) {
      throw new TargetException(e.getMessage());
    }
  }

  void bind(long ivOffset, DmDev dmDev, long start) {
    this.ivOffset = ivOffset;
    this.dmDev = dmDev;
    this.dev = dmDev.bdev();
    this.start = start;
  }

  @Override
  public MapResult map(Bio bio) {
    Bio.Op op = bio.op();
    long rel = bio.sector() - begin;
    if (op == Bio.Op.FLUSH || op == Bio.Op.DISCARD) {
      bio.remap(dev, op == Bio.Op.FLUSH ? bio.sector() : start + rel);
      return MapResult.REMAPPED;
    }
    if (((bio.sector() | bio.sectors()) & sectorMask) != 0 || !keyValid) {
      return MapResult.KILL;
    }
    long cc = rel + ivOffset;
    int count = bio.bytes() / sectorSize;
    if (op == Bio.Op.READ) {
      bio.setTargetLong(cc);
      bio.remap(dev, start + rel);
      return MapResult.REMAPPED;
    }
    ByteBuffer bounce = pool.tryAllocate(); // never null: the pool has no maximum
    bounce.limit(bio.bytes());
    try {
      bounce.put(0, bio.data(), bio.dataOffset(), bio.bytes());
      cipher.encrypt(bounce, 0, count, cc);
    } catch (RuntimeException e) {
      pool.release(bounce);
      return MapResult.KILL;
    }
    bio.setTargetContext(bounce);
    bio.chain(Bio.Op.WRITE, bio.flags(), start + rel, bio.sectors(), bounce).submit(dev);
    bio.complete(BlockStatus.OK); // this bio's own share: it completes with the child's status
    return MapResult.SUBMITTED;
  }

  @Override
  public EndIoResult endIo(Bio bio, BlockStatus status) {
    if (bio.op() == Bio.Op.WRITE && bio.targetContext() instanceof ByteBuffer bounce) {
      bio.setTargetContext(null);
      pool.release(bounce);
      return EndIoResult.DONE;
    }
    if (status == BlockStatus.OK && bio.op() == Bio.Op.READ && bio.bytes() > 0) {
      try {
        cipher.decrypt(bio.data(), bio.dataOffset(), bio.bytes() / sectorSize, bio.targetLong());
      } catch (RuntimeException e) {
        bio.setStatus(BlockStatus.IOERR);
      }
    }
    return EndIoResult.DONE;
  }

  @Override
  public String message(String... argv) {
    if (argv.length >= 2 && ArgSet.equalsIgnoreCase(argv[0], "key")) {
      if (!suspended) {
        throw new TargetException("not suspended during key manipulation.");
      }
      if (argv.length == 3 && ArgSet.equalsIgnoreCase(argv[1], "set")) {
        setKey(argv[2]);
        return "";
      }
      if (argv.length == 2 && ArgSet.equalsIgnoreCase(argv[1], "wipe")) {
        wipeKey();
        return "";
      }
    }
    throw new TargetException("unrecognised message received.");
  }

  private synchronized void setKey(String arg) {
    CryptKey.Size size;
    try {
      size = CryptKey.parseSize(arg);
    } catch (TargetException e) {
      size = null;
    }
    if (size == null || size.bytes() != key.size()) {
      throw new TargetException(
          "key set: the key must have " + key.size() + " bytes, as the table's");
    }
    CryptKey next = CryptKey.resolve(arg, size, new CryptTargetType(providersOrNone()));
    SectorCipher c;
    try {
      c = newCipher(next);
    } catch (TargetException e) {
      next.wipe();
      throw e;
    }
    SectorCipher old = cipher;
    CryptKey oldKey = key;
    cipher = c;
    key = next;
    keyValid = true;
    old.close();
    oldKey.wipe();
  }

  private static KeyProvider[] providersOrNone() {
    return new CryptTargetType().providers().toArray(new KeyProvider[0]);
  }

  private synchronized void wipeKey() {
    keyValid = false;
    cipher.close();
    CryptKey old = key;
    key = CryptKey.fromHex("00".repeat(Math.max(old.size(), 0)), old.size());
    old.wipe();
  }

  @Override
  public void postsuspend() {
    suspended = true;
  }

  @Override
  public void preresume() {
    if (!keyValid) {
      throw new TargetException(Errno.EAGAIN, "aborting resume - crypt key is not set.");
    }
  }

  @Override
  public void resume() {
    suspended = false;
  }

  @Override
  public String status(StatusType type) {
    if (type == StatusType.INFO) {
      return "";
    }
    return spec.text()
        + " "
        + key.tableText()
        + " "
        + ivOffset
        + " "
        + dmDev.name()
        + " "
        + start
        + opts.tableText();
  }

  @Override
  public List<DeviceArea> devices() {
    return List.of(new DeviceArea(dmDev, start, length));
  }

  @Override
  public void ioHints(IoLimits.Builder limits) {
    limits.logicalBlockSize(Math.max(limits.logicalBlockSize(), sectorSize));
    limits.physicalBlockSize(Math.max(limits.physicalBlockSize(), sectorSize));
    limits.ioMin(Math.max(limits.ioMin(), sectorSize));
  }

  @Override
  public long maxIoSectors() {
    return MAX_IO_SECTORS;
  }

  @Override
  public int numFlushBios() {
    return 1;
  }

  @Override
  public int numDiscardBios() {
    return opts.allowDiscards() ? 1 : 0;
  }

  @Override
  public synchronized void close() {
    keyValid = false;
    cipher.close();
    key.wipe();
  }
}
