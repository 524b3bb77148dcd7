package io.jdm.crypto.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** Known answers from the kernel reference (kernel-dm.md §19), checked against OpenSSL there. */
class SectorCipherVectorsTest {
  private static final HexFormat HEX = HexFormat.of();

  private static byte[] seq(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) i;
    }
    return b;
  }

  private static String iv(IvMode mode, long sector, int sectorSize, BlockEngine c) {
    byte[] iv = new byte[16];
    mode.generate(sector, sectorSize, iv, c);
    return HEX.formatHex(iv);
  }

  @Test
  void plainIvs() {
    long s = 0x0102030405060708L;
    assertThat(iv(IvMode.PLAIN64, s, 512, null)).isEqualTo("08070605040302010000000000000000");
    assertThat(iv(IvMode.PLAIN, s, 512, null)).isEqualTo("08070605000000000000000000000000");
    assertThat(iv(IvMode.PLAIN64BE, s, 512, null)).isEqualTo("00000000000000000102030405060708");
    assertThat(iv(IvMode.NULL, s, 512, null)).isEqualTo("00000000000000000000000000000000");
  }

  @Test
  void benbi() {
    assertThat(iv(IvMode.BENBI, 0, 512, null)).endsWith("01");
    assertThat(iv(IvMode.BENBI, 1, 512, null)).isEqualTo("00000000000000000000000000000021");
  }

  @Test
  void essivSha256() {
    byte[] salt = IvMode.essivSalt("sha256", seq(32), 0, 32);
    assertThat(HEX.formatHex(salt))
        .isEqualTo("630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd");
    BlockEngine c = BlockEngine.create("aes", salt, 0, 32);
    assertThat(iv(IvMode.ESSIV, 0, 512, c)).isEqualTo("a73d5fb0e4041090ca6dc1b820cdaf51");
    assertThat(iv(IvMode.ESSIV, 1, 512, c)).isEqualTo("59a0803f448bdf6d3d3de63feaccd58a");
  }

  @Test
  void eboiv() {
    BlockEngine c = BlockEngine.create("aes", seq(16), 0, 16);
    assertThat(iv(IvMode.EBOIV, 0, 512, c)).isEqualTo("c6a13b37878f5b826f4f8162a1c8d879");
    assertThat(iv(IvMode.EBOIV, 1, 512, c)).isEqualTo("6fa7bcfefed6668273a24904694d7264");
  }

  @Test
  void aesXtsPlain64OfZeros() throws Exception {
    for (boolean direct : new boolean[] {false, true}) {
      try (SectorCipher c = SectorCiphers.create("aes-xts-plain64", seq(64), 512)) {
        ByteBuffer buf = direct ? ByteBuffer.allocateDirect(6 * 512) : ByteBuffer.allocate(6 * 512);
        c.encrypt(buf, 0, 6, 0);
        byte[] s0 = new byte[512];
        byte[] s5 = new byte[512];
        buf.get(0, s0);
        buf.get(5 * 512, s5);
        assertThat(HEX.formatHex(s0)).startsWith("cd6b103236fbd87dba93e9001e29bc3d");
        assertThat(sha256(s0))
            .isEqualTo("9943ddf45f593dcb9bcd2e3043ea706a3a7f0d35bfca0ddcfa7c0803e588601a");
        assertThat(HEX.formatHex(s5)).startsWith("41047df5c636cd4fcb4cae528f91daa1");
        assertThat(sha256(s5))
            .isEqualTo("ecc3800c0dbbc477716080274d5d20ab7a259a856132fea1bcc060ee7bcde7bd");
        c.decrypt(buf, 0, 6, 0);
        for (int i = 0; i < 6 * 512; i++) {
          assertThat(buf.get(i)).isZero();
        }
      }
    }
  }

  private static String sha256(byte[] b) throws Exception {
    return HEX.formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  @Test
  void specErrorsAreTheKernels() {
    assertThatThrownBy(() -> CipherSpec.parse("capi(aes)")).hasMessage("Bad cipher specification");
    assertThatThrownBy(() -> CipherSpec.parse("aes:3-cbc-plain"))
        .hasMessage("Bad cipher key count specification");
    assertThatThrownBy(() -> CipherSpec.parse("aes:x-cbc-plain"))
        .hasMessage("Bad cipher key count specification");
    assertThatThrownBy(() -> CipherSpec.parse("aes-cbc")).hasMessage("IV mechanism required");
    assertThatThrownBy(() -> CipherSpec.parse("aes-cbc-essiv"))
        .hasMessage("Digest algorithm missing for ESSIV mode");
    assertThatThrownBy(() -> CipherSpec.parse("capi:cbc(aes)-essiv"))
        .hasMessage("Digest algorithm missing for ESSIV mode");
    assertThatThrownBy(() -> SectorCiphers.checkSpec(CipherSpec.parse("des-cbc-plain")))
        .hasMessage("Error allocating crypto tfm");
    assertThatThrownBy(() -> SectorCiphers.checkSpec(CipherSpec.parse("aes-ofb-plain")))
        .hasMessage("Error allocating crypto tfm");
    assertThatThrownBy(() -> SectorCiphers.checkSpec(CipherSpec.parse("aes-cbc-essiv:sha999")))
        .hasMessage("Error allocating crypto tfm");
    assertThatThrownBy(() -> SectorCiphers.checkSpec(CipherSpec.parse("aes-cbc-bogus")))
        .hasMessage("Invalid IV mode");
    assertThatThrownBy(() -> SectorCiphers.checkSpec(CipherSpec.parse("aes-cbc-lmk")))
        .hasMessage("Invalid IV mode: lmk is not implemented in jdm");
    assertThatThrownBy(() -> SectorCiphers.create("aes-xts-plain64", seq(24), 512))
        .hasMessage("Error decoding and setting key");
    assertThatThrownBy(() -> SectorCiphers.create("aes-cbc-plain64", seq(20), 512))
        .hasMessage("Error decoding and setting key");
    assertThatThrownBy(() -> SectorCiphers.create("aes:2-cbc-plain64", seq(40), 512))
        .hasMessage("Error decoding and setting key");
  }

  @Test
  void legacyFormsParseAsTheKernel() {
    CipherSpec bare = CipherSpec.parse("aes");
    assertThat(bare.chainMode()).isEqualTo("cbc");
    assertThat(bare.ivMode()).isEqualTo("plain");
    CipherSpec plain = CipherSpec.parse("aes-plain");
    assertThat(plain.cryptoApiName()).isEqualTo("cbc(aes)");
    CipherSpec essiv = CipherSpec.parse("twofish:4-cbc-essiv:sha3-256");
    assertThat(essiv.keyCount()).isEqualTo(4);
    assertThat(essiv.ivOpts()).isEqualTo("sha3-256");
    CipherSpec capi = CipherSpec.parse("capi:xts(aes)-plain64");
    assertThat(capi.cryptoApiName()).isEqualTo("xts(aes)");
    assertThat(capi.ivMode()).isEqualTo("plain64");
    CipherSpec ecb = CipherSpec.parse("aes-ecb");
    assertThat(ecb.ivMode()).isNull();
  }
}
