package io.jdm.crypto.luks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * The AF splitter, PBKDF2 and Argon2 against vectors an independent implementation computed from
 * real cryptsetup containers (kernel-dm.md §19, rows 12 to 15), and the KDF limits.
 */
class KdfAndAfVectorsTest {
  private static final HexFormat HEX = HexFormat.of();

  private static byte[] seq(int from, int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) (from + i);
    }
    return b;
  }

  @Test
  void diffuseAndMergeSha256ShortKey() {
    byte[] d = seq(0, 16);
    AfSplitter.diffuse(d, "sha256");
    assertThat(HEX.formatHex(d)).isEqualTo("d143db285bf2503ea8bebdc9e2502781");
    // stripes 00..0f, 10..1f, then the last stripe that makes key 20..2f
    byte[] last = HEX.parseHex("0fa6a714d55010dc0f8da9d73da26074");
    byte[] material = new byte[48];
    System.arraycopy(seq(0, 32), 0, material, 0, 32);
    System.arraycopy(last, 0, material, 32, 16);
    assertThat(AfSplitter.merge(material, 16, 3, "sha256")).isEqualTo(seq(0x20, 16));
  }

  @Test
  void mergeSha256KeyLongerThanTheDigest() {
    byte[] material = new byte[100];
    java.util.Arrays.fill(material, 0, 50, (byte) 0x55);
    System.arraycopy(
        HEX.parseHex(
            "809b3381ff345be94a28147339cc5e846de35f2f6ce10314e56e49cbef3026b0a85ade47bc968b9a4fa2"
                + "3274cff37f2ee3aa"),
        0,
        material,
        50,
        50);
    assertThat(AfSplitter.merge(material, 50, 2, "sha256")).isEqualTo(seq(0, 50));
  }

  @Test
  void splitThenMergeGivesTheKeyBack() {
    SecureRandom r = new SecureRandom();
    for (String hash : new String[] {"sha1", "sha256", "sha512", "ripemd160"}) {
      byte[] key = new byte[64];
      r.nextBytes(key);
      byte[] split = AfSplitter.split(key, 4000, hash, r);
      assertThat(split).hasSize(256000);
      assertThat(AfSplitter.merge(split, 64, 4000, hash)).as(hash).isEqualTo(key);
      split[12345] ^= 1; // any damaged stripe loses the key
      assertThat(AfSplitter.merge(split, 64, 4000, hash)).as(hash).isNotEqualTo(key);
    }
  }

  @Test
  void pbkdf2DigestVector() throws Exception {
    byte[] salt = Base64.getDecoder().decode("l8h3yj0yNCdGwST0ueb035+smwliDryNpohHSXkAwRQ=");
    byte[] d = Pbkdf.pbkdf2("sha256", 1000).derive(seq(0, 64), salt, 32);
    assertThat(Base64.getEncoder().encodeToString(d))
        .isEqualTo("fLiAUF8JZgqApgu6sMJ2QBogBzBLWhaQKmtdyZzhhzw=");
  }

  @Test
  void argon2idVector() throws Exception {
    byte[] salt = Base64.getDecoder().decode("HNRWt0JG+Ru0ftvTylOCiBnAJwY1HLvcot3oULa5D+A=");
    Pbkdf kdf = Pbkdf.argon2id(4, 32768, 1);
    kdf.checkForUse("test");
    byte[] out = kdf.derive("testpass".getBytes(StandardCharsets.UTF_8), salt, 64);
    assertThat(HEX.formatHex(out))
        .isEqualTo(
            "c47b1c5b4d6dec0018f78f82cbb96ec211c28679f83e7e490b2135157af63b53a2818ca9a37e1e4f1ea0"
                + "32ca1e9c3cd70ed29396a97c6c8c17b4983d2e114a38");
  }

  @Test
  void newKeyslotsTakeCryptsetupsLimits() {
    assertThatThrownBy(() -> Pbkdf.pbkdf2("sha256", 999).checkForNewKeyslot())
        .hasMessageContaining("PBKDF2 iterations 999 (expected: 1000 <= iterations");
    assertThatThrownBy(() -> Pbkdf.argon2id(3, 32, 1).checkForNewKeyslot())
        .hasMessageContaining("time cost 3");
    assertThatThrownBy(() -> Pbkdf.argon2id(4, 31, 1).checkForNewKeyslot())
        .hasMessageContaining("memory cost 31 KiB (expected: 32 <= memory <= 4194304 KiB");
    assertThatThrownBy(() -> Pbkdf.argon2i(4, 32, 5).checkForNewKeyslot())
        .hasMessageContaining("parallel cost 5");
    assertThatThrownBy(() -> Pbkdf.pbkdf2("md4", 1000))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("hash md4 is not supported");
    assertThatThrownBy(() -> new Pbkdf("scrypt", null, 1, 1, 1))
        .hasMessageContaining("PBKDF scrypt is not supported");
  }

  @Test
  void storedKeyslotsWithUnreasonableCostsAreRefusedBeforeAllocating() {
    assertThatThrownBy(() -> Pbkdf.argon2id(4, 5L << 20, 1).checkForUse("LUKS2 keyslot 3"))
        .isInstanceOf(LuksException.class)
        .hasMessage(
            "LUKS2 keyslot 3: argon2id memory cost 5242880 KiB is unreasonable"
                + " (expected: 32 <= memory <= 4194304 KiB)");
    long tooMuch = Runtime.getRuntime().maxMemory() / 1024 + 1024;
    if (tooMuch <= Pbkdf.ARGON2_MAX_MEMORY_KIB) {
      assertThatThrownBy(() -> Pbkdf.argon2id(4, tooMuch, 1).checkForUse("LUKS2 keyslot 0"))
          .isInstanceOf(LuksException.class)
          .hasMessageContaining("more than this JVM can allocate");
    }
    assertThatThrownBy(() -> Pbkdf.argon2i(0, 64, 1).checkForUse("LUKS2 keyslot 1"))
        .isInstanceOf(LuksException.class)
        .hasMessageContaining("time cost 0");
  }
}
