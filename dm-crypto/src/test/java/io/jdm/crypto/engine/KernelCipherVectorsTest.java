package io.jdm.crypto.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * Serpent and Twofish as the kernel's crypto API defines them: known answers from Linux 6.12 {@code
 * crypto/testmgr.h} ({@code serpent_tv_template}, {@code tf_tv_template}). Serpent in particular
 * exists in two byte orders (the kernel's {@code serpent} and {@code tnepres}).
 */
class KernelCipherVectorsTest {
  private static final HexFormat HEX = HexFormat.of();

  private static String encrypt(String cipher, String key, String plain) {
    byte[] k = HEX.parseHex(key);
    byte[] b = HEX.parseHex(plain);
    BlockEngine e = BlockEngine.create(cipher, k, 0, k.length);
    e.encrypt(b, 0, b, 0, 16);
    String out = HEX.formatHex(b);
    e.decrypt(b, 0, b, 0, 16);
    assertThat(HEX.formatHex(b)).isEqualTo(plain);
    return out;
  }

  @Test
  void serpent() {
    String pt = "000102030405060708090a0b0c0d0e0f";
    assertThat(encrypt("serpent", "000102030405060708090a0b0c0d0e0f", pt))
        .isEqualTo("4c7d8a328072a22c823e4a1f3acda16d");
    assertThat(
            encrypt(
                "serpent", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", pt))
        .isEqualTo("de269ff833e432b85b2e88d2701ce75c");
    assertThat(encrypt("serpent", "00000000000000000000000000000080", "00".repeat(16)))
        .isEqualTo("ddd26b98a5ffd82c05345a9dadbfaf49");
  }

  @Test
  void twofish() {
    String zero = "00".repeat(16);
    assertThat(encrypt("twofish", zero, zero)).isEqualTo("9f589f5cf6122c32b6bfec2f2ae8c35a");
    assertThat(encrypt("twofish", "0123456789abcdeffedcba98765432100011223344556677", zero))
        .isEqualTo("cfd1d2e5a9be9cdf501f13b892bd2248");
    assertThat(
            encrypt(
                "twofish",
                "0123456789abcdeffedcba987654321000112233445566778899aabbccddeeff",
                zero))
        .isEqualTo("37527be0052334b89f0cfccae87cfa20");
  }

  @Test
  void aesThroughTheJdkAndBouncyCastleAgree() {
    String k = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    String pt = "00112233445566778899aabbccddeeff";
    assertThat(encrypt("aes", k, pt)).isEqualTo("8ea2b7ca516745bfeafc49904b496089"); // FIPS-197
    assertThat(encrypt("aes-bc", k, pt)).isEqualTo("8ea2b7ca516745bfeafc49904b496089");
  }
}
