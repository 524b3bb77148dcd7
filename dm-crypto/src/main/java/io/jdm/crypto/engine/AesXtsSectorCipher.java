package io.jdm.crypto.engine;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * IEEE 1619 AES-XTS for dm-crypt's {@code aes-xts-*} with one key: the fast path.
 *
 * <p>Neither the JDK nor Bouncy Castle has XTS, and the JDK's {@code AES/ECB/NoPadding} is the
 * fastest AES a Java program can reach (HotSpot compiles it to AES-NI or VAES). So a run of sectors
 * costs three ECB calls whatever its length (IV cipher where the IV mode has one, tweak cipher,
 * data cipher), and the rest is tweak arithmetic on {@code long}s:
 *
 * <ol>
 *   <li>the IVs of up to {@link #CHUNK} bytes of sectors are generated and encrypted by the tweak
 *       key in one call;
 *   <li>pass one writes each sector's tweak sequence {@code T·α^j} into one scratch array and the
 *       data XORed with it into another;
 *   <li>one ECB call en- or decrypts the whole chunk into a third array (never in place: the JDK
 *       copies the input of an in-place call into a new array);
 *   <li>pass two XORs the tweaks in again on the way into the caller's buffer, a loop C2
 *       vectorises.
 * </ol>
 *
 * <p>The first eight tweaks of a sector come by doubling; after that {@code T·α^(j+8)} is {@code
 * T·α^j} shifted left by one byte with the byte pushed out folded back in ({@link #FOLD}), so the
 * loop runs eight independent chains instead of one serial carry chain. Each thread gets its own
 * ciphers and scratch; nothing is allocated per call. {@code CryptBenchmark} measures it beside
 * {@code openssl speed}.
 */
final class AesXtsSectorCipher extends PerThreadSectorCipher<AesXtsSectorCipher.Worker> {
  /** Bytes of sectors per ECB call: large enough to amortise a call, small enough for L1/L2. */
  static final int CHUNK = 16 * 1024;

  private static final VarHandle LONGS =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

  /**
   * {@code FOLD[b]}: the byte {@code b} that a shift by eight bits pushes out of the top, reduced
   * modulo the XTS polynomial {@code x^128 + x^7 + x^2 + x + 1}: the carry-less product {@code b ·
   * 0x87}.
   */
  private static final long[] FOLD = new long[256];

  static {
    for (int b = 0; b < 256; b++) {
      FOLD[b] = b ^ (b << 1) ^ (b << 2) ^ (b << 7);
    }
  }

  AesXtsSectorCipher(
      IvMode ivMode, String ivOpts, byte[] key, int sectorSize, boolean ivLargeSectors) {
    super(key, ivMode, ivOpts, sectorSize, ivLargeSectors);
    checkKeys();
  }

  /** One thread's engines and scratch. */
  final class Worker implements PerThreadSectorCipher.Worker {
    final BlockEngine data;
    final BlockEngine tweak;
    final BlockEngine iv; // ESSIV: keyed by the salt; EBOIV: the data engine; otherwise null
    final byte[] rawIvs = new byte[16 * (CHUNK / 512)];
    final byte[] midIvs = new byte[16 * (CHUNK / 512)];
    final byte[] ivs = new byte[16 * (CHUNK / 512)];
    final byte[] scratch = new byte[CHUNK];
    final byte[] seq = new byte[CHUNK]; // the tweak sequences of a chunk
    final byte[] out = new byte[CHUNK];

    Worker() {
      int half = key.length / 2;
      data = BlockEngine.create("aes", key, 0, half);
      tweak = BlockEngine.create("aes", key, half, half);
      if (ivMode == IvMode.ESSIV) {
        iv = IvMode.essivEngine("aes", ivOpts, key, 0, key.length);
      } else if (ivMode == IvMode.EBOIV) {
        iv = data;
      } else {
        iv = null;
      }
    }

    @Override
    public void wipe() {
      data.wipe();
      tweak.wipe();
      if (iv != null) {
        iv.wipe();
      }
      Arrays.fill(scratch, (byte) 0);
      Arrays.fill(seq, (byte) 0);
      Arrays.fill(rawIvs, (byte) 0);
      Arrays.fill(midIvs, (byte) 0);
      Arrays.fill(ivs, (byte) 0);
      Arrays.fill(out, (byte) 0);
    }
  }

  @Override
  Worker newWorker() {
    return new Worker();
  }

  @Override
  void run(Worker w, ByteBuffer buf, int offset, int count, long ccSector, boolean encrypt) {
    int perChunk = CHUNK / sectorSize;
    boolean heap = buf.hasArray();
    for (int done = 0; done < count; ) {
      int n = Math.min(perChunk, count - done);
      int bytes = n * sectorSize;
      int at = offset + done * sectorSize;
      tweaks(w, ccSector + (long) done * step, n);
      // every pass writes to an array it does not read: C2's loops crawl in place
      if (heap) {
        byte[] a = buf.array();
        int base = buf.arrayOffset() + at;
        whiten(w.ivs, n, a, base, w.seq, w.scratch);
        ecb(w.data, encrypt, w.scratch, w.out, bytes);
        xor(w.out, w.seq, a, base, bytes);
      } else {
        buf.get(at, w.out, 0, bytes);
        whiten(w.ivs, n, w.out, 0, w.seq, w.scratch);
        ecb(w.data, encrypt, w.scratch, w.out, bytes);
        xor(w.out, w.seq, w.scratch, 0, bytes);
        buf.put(at, w.scratch, 0, bytes);
      }
      done += n;
    }
  }

  private static void ecb(BlockEngine e, boolean encrypt, byte[] in, byte[] out, int len) {
    if (encrypt) {
      e.encrypt(in, 0, out, 0, len);
    } else {
      e.decrypt(in, 0, out, 0, len);
    }
  }

  /** The encrypted IVs (the initial tweaks) of {@code n} sectors from {@code ccSector}. */
  private void tweaks(Worker w, long ccSector, int n) {
    byte[] raw = w.rawIvs;
    for (int i = 0; i < n; i++) {
      ivMode.raw(ivSector(ccSector + (long) i * step), sectorSize, raw, i * 16);
    }
    if (w.iv != null) {
      w.iv.encrypt(raw, 0, w.midIvs, 0, n * 16);
      raw = w.midIvs;
    }
    w.tweak.encrypt(raw, 0, w.ivs, 0, n * 16);
  }

  /**
   * Pass one: writes each sector's tweak sequence {@code T·α^j} into {@code seq} and {@code src ^
   * seq} into {@code dst}. The first eight tweaks of a sector come by doubling; after that {@code
   * T·α^(j+8)} is {@code T·α^j} shifted left by a byte, its top byte folded back through {@link
   * #FOLD}: eight independent chains, two shifts, an OR, a load and an XOR per block.
   */
  private void whiten(byte[] ivs, int n, byte[] src, int srcOff, byte[] seq, byte[] dst) {
    int size = sectorSize;
    long[] fold = FOLD;
    for (int i = 0; i < n; i++) {
      long lo = (long) LONGS.get(ivs, i * 16);
      long hi = (long) LONGS.get(ivs, i * 16 + 8);
      int d = i * size; // seq and dst index j; src index srcOff + j
      for (int j = d; j < d + 128; j += 16) {
        LONGS.set(seq, j, lo);
        LONGS.set(seq, j + 8, hi);
        LONGS.set(dst, j, lo ^ (long) LONGS.get(src, srcOff + j));
        LONGS.set(dst, j + 8, hi ^ (long) LONGS.get(src, srcOff + j + 8));
        long carry = hi >> 63; // multiply by α
        hi = (hi << 1) | (lo >>> 63);
        lo = (lo << 1) ^ (carry & 0x87);
      }
      for (int j = d + 128; j < d + size; j += 16) {
        long l = (long) LONGS.get(seq, j - 128);
        long h = (long) LONGS.get(seq, j - 120);
        long nl = (l << 8) ^ fold[(int) (h >>> 56)];
        long nh = (h << 8) | (l >>> 56);
        LONGS.set(seq, j, nl);
        LONGS.set(seq, j + 8, nh);
        LONGS.set(dst, j, nl ^ (long) LONGS.get(src, srcOff + j));
        LONGS.set(dst, j + 8, nh ^ (long) LONGS.get(src, srcOff + j + 8));
      }
    }
  }

  /** Pass two: {@code dst[dstOff..dstOff+len) = src ^ seq}, a loop C2 vectorises. */
  private static void xor(byte[] src, byte[] seq, byte[] dst, int dstOff, int len) {
    for (int i = 0; i < len; i += 8) {
      LONGS.set(dst, dstOff + i, (long) LONGS.get(src, i) ^ (long) LONGS.get(seq, i));
    }
  }
}
