package io.jdm.targets.verity;

/**
 * Reed–Solomon RS(255, 255 - roots) over GF(2<sup>8</sup>) with field polynomial {@code 0x11d},
 * first consecutive root 0 and primitive element 1: the code of dm-verity's forward error
 * correction ({@code init_rs(8, 0x11d, 0, 1, roots)} in {@code drivers/md/dm-verity-fec.c}, {@code
 * init_rs_char} with the same parameters in cryptsetup's {@code lib/verity/verity_fec.c}).
 *
 * <p>A codeword is {@code 255 - roots} message bytes followed by {@code roots} parity bytes; byte 0
 * is the coefficient of the highest power, as in Phil Karn's codec that both sides use, so the
 * parity {@link #encode} writes is the parity {@code veritysetup format --fec-roots} writes. {@link
 * #decode} corrects up to {@code roots / 2} errors, or more with known erasure positions ({@code 2
 * errors + erasures <= roots}), as the kernel's {@code decode_rs8}.
 *
 * <p>Immutable and thread-safe; {@link #decode} allocates small scratch arrays.
 */
final class ReedSolomon {
  static final int NN = 255;
  private static final int A0 = NN; // log of zero
  private static final int[] ALPHA_TO = new int[NN + 1];
  private static final int[] INDEX_OF = new int[NN + 1];

  static {
    INDEX_OF[0] = A0;
    ALPHA_TO[A0] = 0;
    int sr = 1;
    for (int i = 0; i < NN; i++) {
      INDEX_OF[sr] = i;
      ALPHA_TO[i] = sr;
      sr <<= 1;
      if ((sr & 0x100) != 0) {
        sr ^= 0x11d;
      }
      sr &= NN;
    }
  }

  private final int roots;
  private final int[] genpoly; // index form

  ReedSolomon(int roots) {
    if (roots < 1 || roots >= NN) {
      throw new IllegalArgumentException("roots " + roots + " (expected: 1 <= roots < 255)");
    }
    this.roots = roots;
    int[] g = new int[roots + 1];
    g[0] = 1;
    for (int i = 0, root = 0; i < roots; i++, root++) { // fcr 0, prim 1
      g[i + 1] = 1;
      for (int j = i; j > 0; j--) {
        g[j] = g[j] != 0 ? g[j - 1] ^ ALPHA_TO[modnn(INDEX_OF[g[j]] + root)] : g[j - 1];
      }
      g[0] = ALPHA_TO[modnn(INDEX_OF[g[0]] + root)];
    }
    for (int i = 0; i <= roots; i++) {
      g[i] = INDEX_OF[g[i]];
    }
    this.genpoly = g;
  }

  int roots() {
    return roots;
  }

  /** Message bytes per codeword, {@code 255 - roots}. */
  int messageLength() {
    return NN - roots;
  }

  private static int modnn(int x) {
    while (x >= NN) {
      x -= NN;
      x = (x >> 8) + (x & NN);
    }
    return x;
  }

  /**
   * Computes the parity of {@code data[off .. off + 255 - roots)} into {@code parity[poff .. poff +
   * roots)}.
   */
  void encode(byte[] data, int off, byte[] parity, int poff) {
    int nroots = roots;
    for (int j = 0; j < nroots; j++) {
      parity[poff + j] = 0;
    }
    int n = NN - nroots;
    for (int i = 0; i < n; i++) {
      int feedback = INDEX_OF[(data[off + i] ^ parity[poff]) & 0xff];
      if (feedback != A0) {
        for (int j = 1; j < nroots; j++) {
          parity[poff + j] ^= (byte) ALPHA_TO[modnn(feedback + genpoly[nroots - j])];
        }
      }
      System.arraycopy(parity, poff + 1, parity, poff, nroots - 1);
      parity[poff + nroots - 1] =
          feedback != A0 ? (byte) ALPHA_TO[modnn(feedback + genpoly[0])] : 0;
    }
  }

  /**
   * Corrects one codeword in place: {@code cw[0 .. 255)} holds the message then the parity.
   * Positions in {@code erasures[0 .. nerasures)} are known to be wrong (indices into {@code cw}).
   *
   * @return the number of symbols corrected (0 for a codeword without errors), or -1 if it cannot
   *     be corrected ({@code -EBADMSG} in the kernel)
   */
  int decode(byte[] cw, int[] erasures, int nerasures) {
    int nroots = roots;
    int[] s = new int[nroots];
    for (int i = 0; i < nroots; i++) {
      s[i] = cw[0] & 0xff;
    }
    for (int j = 1; j < NN; j++) {
      int d = cw[j] & 0xff;
      for (int i = 0; i < nroots; i++) {
        s[i] = s[i] == 0 ? d : d ^ ALPHA_TO[modnn(INDEX_OF[s[i]] + i)];
      }
    }
    int synError = 0;
    for (int i = 0; i < nroots; i++) {
      synError |= s[i];
      s[i] = INDEX_OF[s[i]];
    }
    if (synError == 0) {
      return 0;
    }
    int[] lambda = new int[nroots + 1];
    int[] b = new int[nroots + 1];
    int[] t = new int[nroots + 1];
    lambda[0] = 1;
    if (nerasures > 0) {
      lambda[1] = ALPHA_TO[modnn(NN - 1 - erasures[0])];
      for (int i = 1; i < nerasures; i++) {
        int u = modnn(NN - 1 - erasures[i]);
        for (int j = i + 1; j > 0; j--) {
          int tmp = INDEX_OF[lambda[j - 1]];
          if (tmp != A0) {
            lambda[j] ^= ALPHA_TO[modnn(u + tmp)];
          }
        }
      }
    }
    for (int i = 0; i <= nroots; i++) {
      b[i] = INDEX_OF[lambda[i]];
    }
    // Berlekamp-Massey, starting after the erasures
    int r = nerasures;
    int el = nerasures;
    while (++r <= nroots) {
      int discr = 0;
      for (int i = 0; i < r; i++) {
        if (lambda[i] != 0 && s[r - i - 1] != A0) {
          discr ^= ALPHA_TO[modnn(INDEX_OF[lambda[i]] + s[r - i - 1])];
        }
      }
      discr = INDEX_OF[discr];
      if (discr == A0) {
        System.arraycopy(b, 0, b, 1, nroots);
        b[0] = A0;
      } else {
        t[0] = lambda[0];
        for (int i = 0; i < nroots; i++) {
          t[i + 1] = b[i] != A0 ? lambda[i + 1] ^ ALPHA_TO[modnn(discr + b[i])] : lambda[i + 1];
        }
        if (2 * el <= r + nerasures - 1) {
          el = r + nerasures - el;
          for (int i = 0; i <= nroots; i++) {
            b[i] = lambda[i] == 0 ? A0 : modnn(INDEX_OF[lambda[i]] - discr + NN);
          }
        } else {
          System.arraycopy(b, 0, b, 1, nroots);
          b[0] = A0;
        }
        System.arraycopy(t, 0, lambda, 0, nroots + 1);
      }
    }
    int degLambda = 0;
    for (int i = 0; i <= nroots; i++) {
      lambda[i] = INDEX_OF[lambda[i]];
      if (lambda[i] != A0) {
        degLambda = i;
      }
    }
    if (degLambda == 0) {
      return -1; // syndromes non-zero but no locator: more errors than the code sees
    }
    // Chien search (prim = 1, so iprim = 1)
    int[] reg = new int[nroots + 1];
    System.arraycopy(lambda, 1, reg, 1, nroots);
    int[] root = new int[nroots];
    int[] loc = new int[nroots];
    int count = 0;
    for (int i = 1, k = 0; i <= NN; i++, k = modnn(k + 1)) {
      int q = 1;
      for (int j = degLambda; j > 0; j--) {
        if (reg[j] != A0) {
          reg[j] = modnn(reg[j] + j);
          q ^= ALPHA_TO[reg[j]];
        }
      }
      if (q != 0) {
        continue;
      }
      root[count] = i;
      loc[count] = k;
      if (++count == degLambda) {
        break;
      }
    }
    if (degLambda != count) {
      return -1;
    }
    // omega(x) = s(x) * lambda(x) mod x^nroots, index form
    int degOmega = degLambda - 1;
    int[] omega = new int[nroots + 1];
    for (int i = 0; i <= degOmega; i++) {
      int tmp = 0;
      for (int j = i; j >= 0; j--) {
        if (s[i - j] != A0 && lambda[j] != A0) {
          tmp ^= ALPHA_TO[modnn(s[i - j] + lambda[j])];
        }
      }
      omega[i] = INDEX_OF[tmp];
    }
    // Forney: error values; fcr = 0
    byte[] fix = new byte[count];
    for (int j = count - 1; j >= 0; j--) {
      int num1 = 0;
      for (int i = degOmega; i >= 0; i--) {
        if (omega[i] != A0) {
          num1 ^= ALPHA_TO[modnn(omega[i] + i * root[j])];
        }
      }
      int num2 = ALPHA_TO[modnn(root[j] * (NN - 1) + NN)]; // root^(fcr - 1), fcr = 0
      int den = 0;
      for (int i = Math.min(degLambda, nroots - 1) & ~1; i >= 0; i -= 2) {
        if (lambda[i + 1] != A0) {
          den ^= ALPHA_TO[modnn(lambda[i + 1] + i * root[j])];
        }
      }
      if (den == 0) {
        return -1;
      }
      if (num1 != 0) {
        fix[j] = (byte) ALPHA_TO[modnn(INDEX_OF[num1] + INDEX_OF[num2] + NN - INDEX_OF[den])];
      }
    }
    for (int j = 0; j < count; j++) {
      cw[loc[j]] ^= fix[j];
    }
    return count;
  }
}
