package io.jdm.targets.verity;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The RS(255, 255 - roots) codec: a codeword with up to {@code roots / 2} random errors, or with
 * erasures and errors such that {@code 2 errors + erasures <= roots}, decodes to the original;
 * clean codewords decode with 0 corrections. Seeded (property {@code jdm.seed}).
 */
class ReedSolomonTest {
  private static final long SEED = Long.getLong("jdm.seed", 255L);

  @Test
  void encodeIsSystematicAndCleanCodewordsHaveNoErrors() {
    Random rnd = new Random(SEED);
    for (int roots = 2; roots <= 24; roots++) {
      ReedSolomon rs = new ReedSolomon(roots);
      byte[] cw = new byte[255];
      rnd.nextBytes(cw);
      rs.encode(cw, 0, cw, rs.messageLength());
      byte[] copy = cw.clone();
      assertThat(rs.decode(copy, new int[roots], 0)).as("roots %d", roots).isZero();
      assertThat(copy).isEqualTo(cw);
    }
  }

  @Test
  void correctsErrorsAndErasuresUpToTheBound() {
    Random rnd = new Random(SEED);
    for (int iter = 0; iter < 400; iter++) {
      int roots = 2 + rnd.nextInt(23);
      ReedSolomon rs = new ReedSolomon(roots);
      byte[] cw = new byte[255];
      rnd.nextBytes(cw);
      rs.encode(cw, 0, cw, rs.messageLength());
      int erasures = rnd.nextInt(roots + 1);
      int errors = (roots - erasures) / 2;
      int[] positions = distinct(rnd, erasures + errors);
      byte[] bad = cw.clone();
      for (int p : positions) {
        bad[p] ^= (byte) (1 + rnd.nextInt(255));
      }
      int[] eras = Arrays.copyOf(positions, roots);
      int r = rs.decode(bad, eras, erasures);
      assertThat(r)
          .as(
              "iter %d roots %d erasures %d errors %d (seed %d)",
              iter, roots, erasures, errors, SEED)
          .isEqualTo(erasures + errors);
      assertThat(bad).isEqualTo(cw);
    }
  }

  @Test
  void tooManyErrorsAreDetectedOrMiscorrectedNeverRestored() {
    Random rnd = new Random(SEED);
    int detected = 0;
    for (int iter = 0; iter < 200; iter++) {
      ReedSolomon rs = new ReedSolomon(4);
      byte[] cw = new byte[255];
      rnd.nextBytes(cw);
      rs.encode(cw, 0, cw, rs.messageLength());
      byte[] bad = cw.clone();
      for (int p : distinct(rnd, 3)) {
        bad[p] ^= (byte) (1 + rnd.nextInt(255));
      }
      int r = rs.decode(bad, new int[4], 0);
      if (r < 0) {
        detected++;
      } else {
        // a miscorrection lands on another codeword, never on the original
        assertThat(bad).isNotEqualTo(cw);
      }
    }
    // With t = 2, a random word lies within distance 2 of some codeword with probability about
    // (1 + 255^2 + C(255,2) 255^2) / 256^4 = 0.49: half are detected, the rest miscorrected, which
    // is why the kernel checks every corrected block against its digest.
    assertThat(detected).as("detected of 200 (expected about 100)").isBetween(70, 130);
  }

  private static int[] distinct(Random rnd, int n) {
    int[] all = new int[255];
    for (int i = 0; i < 255; i++) {
      all[i] = i;
    }
    for (int i = 0; i < n; i++) {
      int j = i + rnd.nextInt(255 - i);
      int t = all[i];
      all[i] = all[j];
      all[j] = t;
    }
    return Arrays.copyOf(all, n);
  }
}
