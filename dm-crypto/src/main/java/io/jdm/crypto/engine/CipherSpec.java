package io.jdm.crypto.engine;

import io.jdm.core.ArgSet;
import java.util.Objects;

/**
 * A dm-crypt cipher specification, parsed as {@code crypt_ctr_cipher_old} and {@code
 * crypt_ctr_cipher_new} do ({@code drivers/md/dm-crypt.c}):
 *
 * <ul>
 *   <li>legacy: {@code cipher[:keycount]-chainmode-ivmode[:ivopts]}, for instance {@code
 *       aes-xts-plain64}, {@code aes-cbc-essiv:sha256}, {@code aes:64-cbc-lmk}; a bare {@code aes}
 *       or {@code aes-plain} means {@code aes-cbc-plain};
 *   <li>crypto API: {@code capi:chainmode(cipher)-ivmode[:ivopts]}, for instance {@code
 *       capi:xts(aes)-plain64}.
 * </ul>
 *
 * <p>Parsing refuses what the kernel refuses at this stage, with its {@code ti->error} text; which
 * ciphers, modes and IV modes exist is decided by {@link SectorCiphers}.
 *
 * @param text the specification as given (the table shows it back unchanged)
 * @param capi whether it was given in the {@code capi:} form
 * @param cipher the block cipher, {@code aes}
 * @param keyCount how many keys the key is cut into (a power of two; the sub-key of a sector is
 *     picked by its sector number)
 * @param chainMode {@code xts}, {@code cbc}, {@code ecb}...
 * @param ivMode {@code plain64}, {@code essiv}..., or {@code null}
 * @param ivOpts the IV mode's options ({@code sha256} for essiv), or {@code null}
 */
public record CipherSpec(
    String text,
    boolean capi,
    String cipher,
    int keyCount,
    String chainMode,
    String ivMode,
    String ivOpts) {

  public CipherSpec {
    Objects.requireNonNull(text, "text");
  }

  /**
   * Parses {@code text}.
   *
   * @throws IllegalArgumentException with the kernel's error text
   */
  public static CipherSpec parse(String text) {
    return text.startsWith("capi:") ? parseCapi(text) : parseLegacy(text);
  }

  private static CipherSpec parseLegacy(String text) {
    if (text.indexOf('(') >= 0) {
      throw new IllegalArgumentException("Bad cipher specification");
    }
    // keycount = strsep(&tmp, "-"); cipher = strsep(&keycount, ":")
    int dash = text.indexOf('-');
    String first = dash < 0 ? text : text.substring(0, dash);
    String rest = dash < 0 ? null : text.substring(dash + 1);
    int colon = first.indexOf(':');
    String cipher = colon < 0 ? first : first.substring(0, colon);
    int keyCount = 1;
    if (colon >= 0) {
      long n = ArgSet.parseDecimal(first.substring(colon + 1));
      if (n <= 0 || n > 0xFFFF_FFFFL || Long.bitCount(n) != 1) {
        throw new IllegalArgumentException("Bad cipher key count specification");
      }
      keyCount = (int) Math.min(n, Integer.MAX_VALUE);
    }
    String chainMode = null;
    String ivMode = null;
    String ivOpts = null;
    if (rest != null) {
      dash = rest.indexOf('-');
      chainMode = dash < 0 ? rest : rest.substring(0, dash);
      String iv = dash < 0 ? null : rest.substring(dash + 1);
      if (iv != null) {
        colon = iv.indexOf(':');
        ivMode = colon < 0 ? iv : iv.substring(0, colon);
        ivOpts = colon < 0 ? null : iv.substring(colon + 1);
      }
    }
    if (chainMode == null || (chainMode.equals("plain") && ivMode == null)) {
      chainMode = "cbc";
      ivMode = "plain";
    }
    if (!chainMode.equals("ecb") && ivMode == null) {
      throw new IllegalArgumentException("IV mechanism required");
    }
    if ("essiv".equals(ivMode) && ivOpts == null) {
      throw new IllegalArgumentException("Digest algorithm missing for ESSIV mode");
    }
    return new CipherSpec(text, false, cipher, keyCount, chainMode, ivMode, ivOpts);
  }

  private static CipherSpec parseCapi(String text) {
    String tmp = text.substring("capi:".length());
    String ivOpts = null;
    int colon = tmp.lastIndexOf(':');
    if (colon >= 0) {
      ivOpts = tmp.substring(colon + 1);
      tmp = tmp.substring(0, colon);
    }
    String ivMode = null;
    int dash = tmp.lastIndexOf('-');
    if (dash >= 0) {
      ivMode = tmp.substring(dash + 1);
      tmp = tmp.substring(0, dash);
    }
    if ("essiv".equals(ivMode) && ivOpts == null) {
      throw new IllegalArgumentException("Digest algorithm missing for ESSIV mode");
    }
    // the crypto API name: chainmode(cipher); anything else is not a cipher jdm can build
    int open = tmp.indexOf('(');
    String chainMode = tmp;
    String cipher = "";
    if (open > 0 && tmp.endsWith(")")) {
      chainMode = tmp.substring(0, open);
      cipher = tmp.substring(open + 1, tmp.length() - 1);
    }
    int keyCount = "lmk".equals(ivMode) ? 64 : 1;
    return new CipherSpec(text, true, cipher, keyCount, chainMode, ivMode, ivOpts);
  }

  /** The crypto API name the kernel allocates: {@code xts(aes)}. */
  public String cryptoApiName() {
    return chainMode + "(" + cipher + ")";
  }
}
