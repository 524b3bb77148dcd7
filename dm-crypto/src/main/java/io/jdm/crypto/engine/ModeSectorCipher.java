package io.jdm.crypto.engine;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The general sector cipher: any {@link BlockEngine} in XTS, CBC or ECB, with any {@link IvMode},
 * one crypto sector at a time. Each thread gets its own engines and scratch space (made on first
 * use, then reused: nothing is allocated per sector).
 */
final class ModeSectorCipher extends PerThreadSectorCipher<ModeSectorCipher.Worker> {
  private static final VarHandle LONGS =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

  enum Mode {
    XTS,
    CBC,
    ECB
  }

  private final String cipher;
  private final Mode mode;
  private final int keyCount;
  private final int subKeySize;

  ModeSectorCipher(
      String cipher,
      Mode mode,
      IvMode ivMode,
      String ivOpts,
      byte[] key,
      int keyCount,
      int sectorSize,
      boolean ivLargeSectors) {
    super(key, ivMode, ivOpts, sectorSize, ivLargeSectors);
    this.cipher = cipher;
    this.mode = mode;
    this.keyCount = keyCount;
    this.subKeySize = key.length / keyCount;
    checkKeys();
  }

  /** One thread's engines (per sub-key) and scratch. */
  final class Worker implements PerThreadSectorCipher.Worker {
    final BlockEngine[] data;
    final BlockEngine[] tweak; // XTS: the second half of each sub-key
    final BlockEngine[] ivCipher; // ESSIV: keyed by the salt; EBOIV: the data engine
    final byte[] io = new byte[sectorSize];
    final byte[] tweaks = new byte[sectorSize];
    final byte[] scratch = new byte[sectorSize];
    final byte[] iv = new byte[16];

    Worker() {
      data = new BlockEngine[keyCount];
      tweak = mode == Mode.XTS ? new BlockEngine[keyCount] : null;
      ivCipher = new BlockEngine[keyCount];
      for (int k = 0; k < keyCount; k++) {
        int off = k * subKeySize;
        int len = mode == Mode.XTS ? subKeySize / 2 : subKeySize;
        data[k] = BlockEngine.create(cipher, key, off, len);
        if (mode == Mode.XTS) {
          tweak[k] = BlockEngine.create(cipher, key, off + len, len);
        }
        if (ivMode == IvMode.ESSIV) {
          ivCipher[k] = IvMode.essivEngine(cipher, ivOpts, key, off, subKeySize);
        } else if (ivMode == IvMode.EBOIV) {
          ivCipher[k] = data[0]; // the kernel uses any_tfm: the first
        }
      }
    }

    @Override
    public void wipe() {
      for (BlockEngine[] set : new BlockEngine[][] {data, tweak, ivCipher}) {
        if (set != null) {
          for (BlockEngine e : set) {
            if (e != null) {
              e.wipe();
            }
          }
        }
      }
      Arrays.fill(io, (byte) 0);
      Arrays.fill(tweaks, (byte) 0);
      Arrays.fill(scratch, (byte) 0);
    }
  }

  @Override
  Worker newWorker() {
    return new Worker();
  }

  @Override
  void run(Worker w, ByteBuffer buf, int offset, int count, long ccSector, boolean encrypt) {
    boolean heap = buf.hasArray();
    for (int i = 0; i < count; i++) {
      long cc = ccSector + (long) i * step;
      long ivSector = ivSector(cc);
      int k = (int) (cc & (keyCount - 1));
      int at = offset + i * sectorSize;
      byte[] a;
      int base;
      if (heap) {
        a = buf.array();
        base = buf.arrayOffset() + at;
      } else {
        buf.get(at, w.io);
        a = w.io;
        base = 0;
      }
      sector(w, k, ivSector, a, base, encrypt);
      if (!heap) {
        buf.put(at, w.io);
      }
    }
  }

  private void sector(Worker w, int k, long ivSector, byte[] a, int base, boolean encrypt) {
    switch (mode) {
      case XTS:
        ivMode.generate(ivSector, sectorSize, w.iv, w.ivCipher[k]);
        xts(w, k, a, base, encrypt);
        break;
      case CBC:
        ivMode.generate(ivSector, sectorSize, w.iv, w.ivCipher[k]);
        if (encrypt) {
          cbcEncrypt(w, k, a, base);
        } else {
          cbcDecrypt(w, k, a, base);
        }
        break;
      case ECB:
      default:
        if (encrypt) {
          w.data[k].encrypt(a, base, a, base, sectorSize);
        } else {
          w.data[k].decrypt(a, base, a, base, sectorSize);
        }
    }
  }

  /** IEEE 1619 XTS over one sector: tweaks computed on longs, one ECB call for the data. */
  private void xts(Worker w, int k, byte[] a, int base, boolean encrypt) {
    w.tweak[k].encrypt(w.iv, 0, w.iv, 0, 16);
    long lo = (long) LONGS.get(w.iv, 0);
    long hi = (long) LONGS.get(w.iv, 8);
    byte[] t = w.tweaks;
    byte[] s = w.scratch;
    for (int j = 0; j < sectorSize; j += 16) {
      LONGS.set(t, j, lo);
      LONGS.set(t, j + 8, hi);
      LONGS.set(s, j, (long) LONGS.get(a, base + j) ^ lo);
      LONGS.set(s, j + 8, (long) LONGS.get(a, base + j + 8) ^ hi);
      long carry = hi >> 63; // multiply by alpha in GF(2^128)
      hi = (hi << 1) | (lo >>> 63);
      lo = (lo << 1) ^ (carry & 0x87);
    }
    if (encrypt) {
      w.data[k].encrypt(s, 0, s, 0, sectorSize);
    } else {
      w.data[k].decrypt(s, 0, s, 0, sectorSize);
    }
    for (int j = 0; j < sectorSize; j += 8) {
      LONGS.set(a, base + j, (long) LONGS.get(s, j) ^ (long) LONGS.get(t, j));
    }
  }

  private void cbcEncrypt(Worker w, int k, byte[] a, int base) {
    byte[] prev = w.iv;
    int prevOff = 0;
    for (int j = 0; j < sectorSize; j += 16) {
      LONGS.set(a, base + j, (long) LONGS.get(a, base + j) ^ (long) LONGS.get(prev, prevOff));
      LONGS.set(
          a, base + j + 8, (long) LONGS.get(a, base + j + 8) ^ (long) LONGS.get(prev, prevOff + 8));
      w.data[k].encrypt(a, base + j, a, base + j, 16);
      prev = a;
      prevOff = base + j;
    }
  }

  private void cbcDecrypt(Worker w, int k, byte[] a, int base) {
    byte[] s = w.scratch;
    w.data[k].decrypt(a, base, s, 0, sectorSize);
    for (int j = sectorSize - 16; j >= 0; j -= 16) {
      byte[] prev = j == 0 ? w.iv : a;
      int prevOff = j == 0 ? 0 : base + j - 16;
      LONGS.set(a, base + j, (long) LONGS.get(s, j) ^ (long) LONGS.get(prev, prevOff));
      LONGS.set(a, base + j + 8, (long) LONGS.get(s, j + 8) ^ (long) LONGS.get(prev, prevOff + 8));
    }
  }
}
