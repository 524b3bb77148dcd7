package io.jdm.crypto.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The fast AES-XTS path: IEEE 1619 vectors, and equality with the general one-sector-at-a-time
 * {@link ModeSectorCipher} (itself checked against the kernel's and OpenSSL's vectors) over random
 * runs that cross chunk boundaries, every IV mode, both key sizes, heap, direct and offset buffers.
 * (That a run allocates nothing is measured where it can be: {@code CryptBenchmark} with {@code
 * -prof gc}.)
 */
class AesXtsSectorCipherTest {
  private static final HexFormat HEX = HexFormat.of();

  @Test
  void createPicksTheFastPathForAesXtsWithOneKey() {
    try (SectorCipher c = SectorCiphers.create("aes-xts-plain64", new byte[64], 512);
        SectorCipher two =
            SectorCiphers.create(CipherSpec.parse("aes:2-xts-plain64"), new byte[128], 512, false);
        SectorCipher serpent = SectorCiphers.create("serpent-xts-plain64", new byte[64], 512)) {
      assertThat(c).isInstanceOf(AesXtsSectorCipher.class);
      assertThat(two).isInstanceOf(ModeSectorCipher.class);
      assertThat(serpent).isInstanceOf(ModeSectorCipher.class);
    }
  }

  /** IEEE 1619-2007 vector 10: 256-bit keys, data unit 0xff, 512 bytes (also OpenSSL's answer). */
  @Test
  void ieee1619Vector10() throws Exception {
    byte[] key =
        HEX.parseHex(
            "2718281828459045235360287471352662497757247093699959574966967627"
                + "3141592653589793238462643383279502884197169399375105820974944592");
    ByteBuffer buf = ByteBuffer.allocate(512);
    for (int i = 0; i < 512; i++) {
      buf.put(i, (byte) i);
    }
    try (SectorCipher c = SectorCiphers.create("aes-xts-plain64", key, 512)) {
      c.encrypt(buf, 0, 1, 0xff);
      byte[] out = buf.array();
      assertThat(HEX.formatHex(out, 0, 32))
          .isEqualTo("1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b");
      assertThat(HEX.formatHex(MessageDigest.getInstance("SHA-256").digest(out)))
          .isEqualTo("e97e974fa393af794f7a4684395814cf820de60a01eaec677d87b452e316b364");
      c.decrypt(buf, 0, 1, 0xff);
      for (int i = 0; i < 512; i++) {
        assertThat(buf.get(i)).isEqualTo((byte) i);
      }
    }
  }

  /** IEEE 1619-2007 vector 1: 128-bit keys of zeros, data unit 0, 32 bytes of zeros. */
  @Test
  void ieee1619Vector1FirstBlocksWithA128BitKey() {
    ByteBuffer buf = ByteBuffer.allocate(512);
    try (SectorCipher c = SectorCiphers.create("aes-xts-plain64", new byte[32], 512)) {
      c.encrypt(buf, 0, 1, 0);
      assertThat(HEX.formatHex(buf.array(), 0, 32))
          .isEqualTo("917cf69ebd68b2ec9b9fe9a3eadda692cd43d2f59598ed858c02c2652fbf922e");
    }
  }

  /**
   * The Corretto provider is a test dependency: on the platform its jar is for, jdm finds it and
   * uses it for AES-256-XTS keys with distinct halves, and never for others.
   */
  @Test
  void usesTheCorrettoProviderWhereItIsOnTheClassPath() {
    boolean platform =
        System.getProperty("os.name").equals("Linux")
            && System.getProperty("os.arch").equals("amd64")
            && !Boolean.getBoolean(AccpXts.DISABLE);
    if (platform) {
      assertThat(AccpXts.available()).isTrue();
    }
    byte[] key = new byte[64];
    new Random(7).nextBytes(key);
    AesXtsSectorCipher.Engine expected =
        AccpXts.available() ? AesXtsSectorCipher.Engine.ACCP : AesXtsSectorCipher.Engine.JDK;
    assertThat(new AesXtsSectorCipher(IvMode.PLAIN64, null, key, 4096, false).engine())
        .isEqualTo(expected);
    assertThat(new AesXtsSectorCipher(IvMode.PLAIN64, null, key, 4096, false, false).engine())
        .isEqualTo(AesXtsSectorCipher.Engine.JDK);
    assertThat(new AesXtsSectorCipher(IvMode.PLAIN64, null, new byte[64], 512, false).engine())
        .as("equal halves")
        .isEqualTo(AesXtsSectorCipher.Engine.JDK);
    assertThat(new AesXtsSectorCipher(IvMode.PLAIN64, null, new byte[32], 512, false).engine())
        .as("AES-128-XTS")
        .isEqualTo(AesXtsSectorCipher.Engine.JDK);
  }

  /** The provider refuses two encryptions in a row under one tweak; a rewritten sector is one. */
  @ParameterizedTest
  @ValueSource(ints = {512, 4096})
  void encryptsTheSameSectorTwiceInARow(int sectorSize) {
    byte[] key = new byte[64];
    new Random(sectorSize).nextBytes(key);
    try (SectorCipher c = new AesXtsSectorCipher(IvMode.PLAIN64, null, key, sectorSize, false);
        SectorCipher jdk =
            new AesXtsSectorCipher(IvMode.PLAIN64, null, key, sectorSize, false, false)) {
      ByteBuffer a = ByteBuffer.allocate(sectorSize);
      ByteBuffer b = ByteBuffer.allocate(sectorSize);
      for (int i = 0; i < 3; i++) {
        c.encrypt(a, 0, 1, 8);
        jdk.encrypt(b, 0, 1, 8);
      }
      assertThat(a.array()).isEqualTo(b.array());
    }
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "aes-xts-plain64",
        "aes-xts-plain",
        "aes-xts-plain64be",
        "aes-xts-essiv:sha256",
        "aes-xts-eboiv",
        "aes-xts-benbi",
        "aes-xts-null",
        "capi:xts(aes)-plain64"
      })
  void matchesTheGeneralPath(String spec) {
    Random random = new Random(spec.hashCode());
    CipherSpec cs = CipherSpec.parse(spec);
    IvMode iv = SectorCiphers.check(cs);
    for (int round = 0; round < 32; round++) {
      boolean accp = round % 2 == 0; // the provider where it is here, else the JDK's ciphers
      int sectorSize = 512 << random.nextInt(4);
      boolean large = random.nextBoolean();
      byte[] key = new byte[random.nextBoolean() ? 64 : 32];
      random.nextBytes(key);
      int count = 1 + random.nextInt(3 * AesXtsSectorCipher.CHUNK / sectorSize);
      int offset = 16 * random.nextInt(40);
      long sector = random.nextBoolean() ? random.nextInt(1 << 20) : random.nextLong() >>> 1;
      sector &= -(sectorSize >>> 9); // aligned to the crypto sector, as the target guarantees
      boolean direct = random.nextBoolean();
      byte[] plain = new byte[offset + count * sectorSize + 32];
      random.nextBytes(plain);
      ByteBuffer fast = direct ? ByteBuffer.allocateDirect(plain.length) : slice(plain.length);
      fast.put(0, plain);
      ByteBuffer slow = ByteBuffer.wrap(plain.clone());
      try (SectorCipher f = new AesXtsSectorCipher(iv, cs.ivOpts(), key, sectorSize, large, accp);
          SectorCipher s =
              new ModeSectorCipher(
                  "aes", ModeSectorCipher.Mode.XTS, iv, cs.ivOpts(), key, 1, sectorSize, large)) {
        f.encrypt(fast, offset, count, sector);
        s.encrypt(slow, offset, count, sector);
        String what = spec + " round " + round + " sector size " + sectorSize + " accp " + accp;
        assertThat(bytes(fast)).as(what).isEqualTo(slow.array());
        f.decrypt(fast, offset, count, sector);
        assertThat(bytes(fast)).as(what).isEqualTo(plain);
        // again from the middle: the JDK's CBC decryption carries its chaining value over calls
        int skip = count / 2;
        int at = offset + skip * sectorSize;
        long from = sector + (long) skip * (sectorSize >>> 9);
        ByteBuffer half = ByteBuffer.wrap(plain.clone());
        s.encrypt(half, at, count - skip, from);
        f.encrypt(fast, at, count - skip, from);
        assertThat(bytes(fast)).as(what + " from the middle").isEqualTo(half.array());
        f.decrypt(fast, at, count - skip, from);
        assertThat(bytes(fast)).as(what + " from the middle").isEqualTo(plain);
      }
    }
  }

  /** A heap buffer whose array does not start at index 0 of the backing array. */
  private static ByteBuffer slice(int length) {
    return ByteBuffer.allocate(length + 48).position(48).slice();
  }

  private static byte[] bytes(ByteBuffer b) {
    byte[] out = new byte[b.capacity()];
    b.get(0, out);
    return out;
  }

  @Test
  void closeWipesAndLaterUseFails() {
    SectorCipher c = SectorCiphers.create("aes-xts-plain64", new byte[64], 512);
    ByteBuffer buf = ByteBuffer.allocate(512);
    c.encrypt(buf, 0, 1, 0);
    c.close();
    c.close();
    assertThatThrownBy(() -> c.encrypt(buf, 0, 1, 0))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("wiped");
  }

  @Test
  void threadsDoNotShareScratch() throws Exception {
    try (SectorCipher c = SectorCiphers.create("aes-xts-plain64", new byte[64], 4096)) {
      byte[] expected = new byte[64 * 1024];
      ByteBuffer ref = ByteBuffer.wrap(expected);
      c.encrypt(ref, 0, 16, 0);
      Thread[] threads = new Thread[4];
      Throwable[] failure = new Throwable[1];
      for (int t = 0; t < threads.length; t++) {
        threads[t] =
            new Thread(
                () -> {
                  for (int i = 0; i < 200; i++) {
                    ByteBuffer b = ByteBuffer.allocate(64 * 1024);
                    c.encrypt(b, 0, 16, 0);
                    if (!b.equals(ByteBuffer.wrap(expected))) {
                      synchronized (failure) {
                        failure[0] = new AssertionError("thread saw a different ciphertext");
                      }
                      return;
                    }
                  }
                });
        threads[t].start();
      }
      for (Thread t : threads) {
        t.join();
      }
      assertThat(failure[0]).isNull();
    }
  }
}
