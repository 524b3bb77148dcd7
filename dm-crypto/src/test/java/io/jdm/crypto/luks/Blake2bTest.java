package io.jdm.crypto.luks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Random;
import org.bouncycastle.crypto.digests.Blake2bDigest;
import org.junit.jupiter.api.Test;

/** jdm's BLAKE2b against RFC 7693's vectors and Bouncy Castle's {@link Blake2bDigest}. */
class Blake2bTest {
  private static final HexFormat HEX = HexFormat.of();

  private static byte[] digest(int size, byte[] in) {
    Blake2b b = new Blake2b(size);
    b.update(in, 0, in.length);
    byte[] out = new byte[size];
    b.doFinal(out, 0);
    return out;
  }

  @Test
  void rfc7693Vectors() {
    // RFC 7693 appendix A, and the empty message (the reference code's KAT)
    assertThat(HEX.formatHex(digest(64, "abc".getBytes(StandardCharsets.US_ASCII))))
        .isEqualTo(
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
                + "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
    assertThat(HEX.formatHex(digest(64, new byte[0])))
        .isEqualTo(
            "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419"
                + "d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce");
  }

  /**
   * Every digest size, messages of 0 to 400 bytes (empty, exactly one and two 128-byte blocks, one
   * byte more), fed whole, byte by byte and in random pieces; an instance is reused after {@link
   * Blake2b#doFinal}.
   */
  @Test
  void matchesBouncyCastle() {
    long seed = Long.getLong("jdm.seed", new Random().nextLong());
    Random r = new Random(seed);
    int[] lengths = {0, 1, 64, 127, 128, 129, 255, 256, 257, 400};
    for (int size = 1; size <= 64; size++) {
      Blake2b jdm = new Blake2b(size);
      for (int length : lengths) {
        byte[] in = new byte[length];
        r.nextBytes(in);
        Blake2bDigest bc = new Blake2bDigest(size * 8);
        bc.update(in, 0, in.length);
        byte[] expected = new byte[size];
        bc.doFinal(expected, 0);
        String what = "size " + size + ", " + length + " bytes (seed " + seed + ")";

        byte[] whole = new byte[size + 3];
        jdm.update(in, 0, in.length);
        jdm.doFinal(whole, 3);
        assertThat(java.util.Arrays.copyOfRange(whole, 3, 3 + size)).as(what).isEqualTo(expected);

        for (byte b : in) {
          jdm.update(b);
        }
        byte[] bytewise = new byte[size];
        jdm.doFinal(bytewise, 0);
        assertThat(bytewise).as(what + " byte by byte").isEqualTo(expected);

        for (int off = 0; off < in.length; ) {
          int n = Math.min(in.length - off, r.nextInt(140));
          jdm.update(in, off, n);
          off += n;
        }
        byte[] pieces = new byte[size];
        jdm.doFinal(pieces, 0);
        assertThat(pieces).as(what + " in pieces").isEqualTo(expected);
      }
    }
  }

  @Test
  void digestSizeIsOneTo64Bytes() {
    assertThatThrownBy(() -> new Blake2b(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("BLAKE2b digest of 0 bytes (expected: 1 to 64)");
    assertThatThrownBy(() -> new Blake2b(65))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("BLAKE2b digest of 65 bytes (expected: 1 to 64)");
  }
}
