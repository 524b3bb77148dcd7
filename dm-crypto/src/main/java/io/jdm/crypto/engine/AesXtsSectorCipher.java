package io.jdm.crypto.engine;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import javax.crypto.Cipher;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * IEEE 1619 AES-XTS for dm-crypt's {@code aes-xts-*} with one key: the fast path.
 *
 * <p>Neither the JDK nor Bouncy Castle has XTS. Three engines do the AES, the fastest one present
 * for each case:
 *
 * <ul>
 *   <li>the Amazon Corretto Crypto Provider's {@code AES/XTS/NoPadding} ({@link AccpXts}), when it
 *       is on the class path and the key is AES-256-XTS with distinct halves: one call per sector
 *       at {@link #ACCP_PER_SECTOR} bytes and up (nothing else to do); below that, unless the JDK's
 *       own ECB runs on AVX-512 VAES here ({@link #JDK_VECTOR_AES}: then it is the faster), one
 *       call per chunk of sectors under the first sector's tweak, the other sectors' tweaks
 *       corrected by the two XOR passes below ({@link #rebase});
 *   <li>otherwise, for decryption on a CPU without AVX-512 VAES, the JDK's {@code
 *       AES/CBC/NoPadding}: HotSpot runs CBC decryption four blocks at a time with the round keys
 *       in registers on every AES-NI CPU, where its {@code AES/ECB} runs one block per call to the
 *       AES stub; the chaining XOR is undone in pass two;
 *   <li>otherwise the JDK's {@code AES/ECB/NoPadding}.
 * </ul>
 *
 * <p>The chunked path: a run of sectors costs a few engine calls whatever its length, and the rest
 * is tweak arithmetic on {@code long}s:
 *
 * <ol>
 *   <li>the IVs of up to {@link #CHUNK} bytes of sectors are generated and encrypted by the tweak
 *       key in one call;
 *   <li>pass one writes each sector's tweak sequence {@code T·α^j} into one scratch array and the
 *       data XORed with it into another;
 *   <li>one engine call en- or decrypts the whole chunk (ECB and CBC into a third array: the JDK
 *       copies the input of an in-place call into a new array);
 *   <li>pass two XORs the tweaks in again on the way into the caller's buffer.
 * </ol>
 *
 * <p>The first eight tweaks of a sector come by doubling; after that {@code T·α^(j+8)} is {@code
 * T·α^j} shifted left by one byte with the byte pushed out folded back in ({@link #FOLD}), so the
 * loop runs eight independent chains instead of one serial carry chain. Each thread gets its own
 * engines and scratch; nothing is allocated per call but the provider's init arguments. {@code
 * CryptBenchmark} measures it beside {@code openssl speed} ({@code dm-bench/xts-vs-openssl.sh}).
 */
final class AesXtsSectorCipher extends PerThreadSectorCipher<AesXtsSectorCipher.Worker> {
  /** Bytes of sectors per engine call: large enough to amortise a call, small enough for L2. */
  static final int CHUNK = 16 * 1024;

  /**
   * The sector size from which the provider's XTS runs one call per sector: at 4096 bytes a call's
   * fixed cost (key expansion, JNI) is small beside the sector; at 512 it is not, and the chunked
   * path with one provider call per chunk is faster. The system property {@code
   * io.jdm.crypto.accp.perSector} sets another (the benchmark compares them).
   */
  static final int ACCP_PER_SECTOR = Integer.getInteger("io.jdm.crypto.accp.perSector", 4096);

  /** Which engine a worker uses (for tests and the benchmark's report). */
  enum Engine {
    ACCP,
    JDK
  }

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

  /**
   * Whether HotSpot runs the JDK's {@code AES/ECB} (and CBC decryption) with VAES on 512-bit
   * registers here: it makes those stubs only when the CPU has AVX-512 with VAES, VL and DQ. Then
   * the JDK's ECB outruns a provider call per chunk, and decryption needs no CBC detour. Read from
   * {@code /proc/cpuinfo}; the system property {@code io.jdm.crypto.jdkVectorAes} overrides it (a
   * JVM run with {@code -XX:UseAVX=2} on such a CPU should set it to {@code false}).
   */
  static final boolean JDK_VECTOR_AES = jdkVectorAes();

  private final boolean accpPerSector;
  private final boolean accpChunks;

  AesXtsSectorCipher(
      IvMode ivMode, String ivOpts, byte[] key, int sectorSize, boolean ivLargeSectors) {
    super(key, ivMode, ivOpts, sectorSize, ivLargeSectors);
    this.accpPerSector = true;
    this.accpChunks = !JDK_VECTOR_AES;
    checkKeys();
  }

  /**
   * With {@code useAccp} true, the provider wherever it can be used (per sector and per chunk);
   * with false, never (the tests compare both).
   */
  AesXtsSectorCipher(
      IvMode ivMode,
      String ivOpts,
      byte[] key,
      int sectorSize,
      boolean ivLargeSectors,
      boolean useAccp) {
    super(key, ivMode, ivOpts, sectorSize, ivLargeSectors);
    this.accpPerSector = useAccp;
    this.accpChunks = useAccp;
    checkKeys();
  }

  private static boolean jdkVectorAes() {
    String forced = System.getProperty("io.jdm.crypto.jdkVectorAes");
    if (forced != null) {
      return Boolean.parseBoolean(forced);
    }
    try {
      for (String line :
          java.nio.file.Files.readAllLines(
              java.nio.file.Path.of("/proc/cpuinfo"), java.nio.charset.StandardCharsets.US_ASCII)) {
        if (line.startsWith("flags")) {
          java.util.Set<String> f =
              java.util.Set.of(line.substring(line.indexOf(':') + 1).trim().split("\\s+"));
          return f.contains("avx512f")
              && f.contains("avx512vl")
              && f.contains("avx512dq")
              && f.contains("vaes");
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      // not Linux, or not readable: assume no vector AES (the safe side for the choice)
    }
    return false;
  }

  /** The engine this thread's worker uses. */
  Engine engine() {
    Worker w = newWorker();
    Engine e = w.accp != null ? Engine.ACCP : Engine.JDK;
    w.wipe();
    return e;
  }

  /** One thread's engines and scratch. */
  final class Worker implements PerThreadSectorCipher.Worker {
    final BlockEngine data;
    final BlockEngine tweak;
    final BlockEngine iv; // ESSIV: keyed by the salt; EBOIV: the data engine; otherwise null
    final AccpXts accp; // null without the provider
    final Cipher cbc; // AES/CBC/NoPadding decryption under the data key; null with the provider
    long chainLo; // the CBC chaining value the JDK's cipher holds: the last block it was given
    long chainHi;
    final byte[] rawIvs = new byte[16 * (CHUNK / 512)];
    final byte[] midIvs = new byte[16 * (CHUNK / 512)];
    final byte[] ivs = new byte[16 * (CHUNK / 512)];
    final byte[] scratch = new byte[CHUNK];
    final byte[] seq = new byte[CHUNK]; // the tweak sequences of a chunk
    final byte[] out = new byte[CHUNK];

    Worker() {
      int half = key.length / 2;
      data = BlockEngine.create("aes", key, 0, half);
      accp =
          accpPerSector && sectorSize >= ACCP_PER_SECTOR || accpChunks
              ? AccpXts.create(key, 0, key.length)
              : null;
      cbc = JDK_VECTOR_AES ? null : cbcDecryption(key, half);
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
      if (accp != null) {
        accp.wipe();
      }
      if (cbc != null) {
        try {
          cbc.init(
              Cipher.DECRYPT_MODE,
              new SecretKeySpec(new byte[16], "AES"),
              new IvParameterSpec(new byte[16]));
        } catch (GeneralSecurityException e) {
          throw new IllegalStateException(e);
        }
      }
      chainLo = 0;
      chainHi = 0;
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

  private static Cipher cbcDecryption(byte[] key, int half) {
    SecretKeySpec k = new SecretKeySpec(key, 0, half, "AES");
    try {
      Cipher c = Cipher.getInstance("AES/CBC/NoPadding");
      c.init(Cipher.DECRYPT_MODE, k, new IvParameterSpec(new byte[16]));
      return c;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("the JDK has no AES/CBC/NoPadding", e);
    }
  }

  @Override
  void run(Worker w, ByteBuffer buf, int offset, int count, long ccSector, boolean encrypt) {
    if (w.accp != null && accpPerSector && sectorSize >= ACCP_PER_SECTOR) {
      perSector(w, buf, offset, count, ccSector, encrypt);
      return;
    }
    boolean viaAccp = w.accp != null && accpChunks;
    int perChunk = CHUNK / sectorSize;
    boolean heap = buf.hasArray();
    boolean cbc = !encrypt && w.cbc != null;
    for (int done = 0; done < count; ) {
      int n = Math.min(perChunk, count - done);
      int bytes = n * sectorSize;
      int at = offset + done * sectorSize;
      byte[] raw = ivs(w, ccSector + (long) done * step, n);
      w.tweak.encrypt(raw, 0, w.ivs, 0, n * 16);
      if (viaAccp) {
        rebase(w.ivs, n);
      }
      // every pass writes to an array it does not read: C2's loops crawl in place
      byte[] src;
      int srcOff;
      if (heap) {
        src = buf.array();
        srcOff = buf.arrayOffset() + at;
      } else {
        buf.get(at, w.out, 0, bytes);
        src = w.out;
        srcOff = 0;
      }
      whiten(w.ivs, n, src, srcOff, w.seq, w.scratch);
      byte[] result; // the engine's output
      if (viaAccp) {
        w.accp.crypt(encrypt, raw, 0, w.scratch, 0, bytes);
        result = w.scratch;
      } else if (cbc) {
        long lo = w.chainLo;
        long hi = w.chainHi;
        w.chainLo = (long) LONGS.get(w.scratch, bytes - 16);
        w.chainHi = (long) LONGS.get(w.scratch, bytes - 8);
        cbcDecrypt(w.cbc, w.scratch, w.out, bytes);
        // undo the chaining: block j came out XORed with input block j - 1
        LONGS.set(w.out, 0, (long) LONGS.get(w.out, 0) ^ lo);
        LONGS.set(w.out, 8, (long) LONGS.get(w.out, 8) ^ hi);
        unchain(w.out, w.scratch, bytes);
        result = w.out;
      } else {
        ecb(w.data, encrypt, w.scratch, w.out, bytes);
        result = w.out;
      }
      if (heap) {
        xor(result, w.seq, src, srcOff, bytes);
      } else {
        byte[] dst = result == w.out ? w.scratch : w.out;
        xor(result, w.seq, dst, 0, bytes);
        buf.put(at, dst, 0, bytes);
      }
      done += n;
    }
  }

  /** The provider, one call per sector, in place; direct buffers go through the worker's array. */
  private void perSector(
      Worker w, ByteBuffer buf, int offset, int count, long ccSector, boolean encrypt) {
    int perChunk = CHUNK / sectorSize;
    boolean heap = buf.hasArray();
    for (int done = 0; done < count; ) {
      int n = Math.min(perChunk, count - done);
      int bytes = n * sectorSize;
      int at = offset + done * sectorSize;
      byte[] raw = ivs(w, ccSector + (long) done * step, n);
      byte[] a;
      int base;
      if (heap) {
        a = buf.array();
        base = buf.arrayOffset() + at;
      } else {
        buf.get(at, w.out, 0, bytes);
        a = w.out;
        base = 0;
      }
      for (int i = 0; i < n; i++) {
        w.accp.crypt(encrypt, raw, i * 16, a, base + i * sectorSize, sectorSize);
      }
      if (!heap) {
        buf.put(at, w.out, 0, bytes);
      }
      done += n;
    }
  }

  private static void cbcDecrypt(Cipher c, byte[] in, byte[] out, int len) {
    try {
      c.update(in, 0, len, out, 0);
    } catch (ShortBufferException e) {
      throw new IllegalStateException(e);
    }
  }

  /** {@code out[j] ^= in[j - 16]} for every block after the first: CBC's chaining undone. */
  private static void unchain(byte[] out, byte[] in, int len) {
    for (int i = 16; i < len; i += 8) {
      LONGS.set(out, i, (long) LONGS.get(out, i) ^ (long) LONGS.get(in, i - 16));
    }
  }

  private static void ecb(BlockEngine e, boolean encrypt, byte[] in, byte[] out, int len) {
    if (encrypt) {
      e.encrypt(in, 0, out, 0, len);
    } else {
      e.decrypt(in, 0, out, 0, len);
    }
  }

  /**
   * The IVs of {@code n} sectors from {@code ccSector} as the tweak key takes them (after ESSIV's
   * or EBOIV's own encryption), 16 bytes each from index 0 of the array returned.
   */
  private byte[] ivs(Worker w, long ccSector, int n) {
    byte[] raw = w.rawIvs;
    for (int i = 0; i < n; i++) {
      ivMode.raw(ivSector(ccSector + (long) i * step), sectorSize, raw, i * 16);
    }
    if (w.iv != null) {
      w.iv.encrypt(raw, 0, w.midIvs, 0, n * 16);
      raw = w.midIvs;
    }
    return raw;
  }

  /**
   * For one provider call over a chunk under the first sector's tweak {@code T}: the provider
   * whitens block {@code k} of the chunk with {@code T·α^k}; sector {@code i} needs {@code T_i·α^j}
   * (block {@code k = i·B + j}, {@code B} blocks a sector). XTS is linear in the tweak, so
   * whitening sector {@code i} in both passes with {@code (T_i ⊕ T·α^(iB))·α^j} as well turns the
   * provider's whitening into the right one. Replaces each {@code T_i} in {@code ivs} by {@code T_i
   * ⊕ T·α^(iB)} (zero for the first sector).
   */
  private void rebase(byte[] ivs, int n) {
    long lo = (long) LONGS.get(ivs, 0);
    long hi = (long) LONGS.get(ivs, 8);
    long[] fold = FOLD;
    int blocks = sectorSize >>> 4; // B: α^B is B / 8 shifts by a byte
    for (int i = 0; i < n; i++) {
      LONGS.set(ivs, i * 16, (long) LONGS.get(ivs, i * 16) ^ lo);
      LONGS.set(ivs, i * 16 + 8, (long) LONGS.get(ivs, i * 16 + 8) ^ hi);
      for (int b = 0; b < blocks; b += 8) {
        long nl = (lo << 8) ^ fold[(int) (hi >>> 56)];
        hi = (hi << 8) | (lo >>> 56);
        lo = nl;
      }
    }
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
