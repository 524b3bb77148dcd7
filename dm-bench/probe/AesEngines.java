import io.jdm.crypto.engine.SectorCipher;
import io.jdm.crypto.engine.SectorCiphers;
import java.nio.ByteBuffer;
import java.security.Provider;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The AES engines a Java AES-XTS can build on, on this CPU, over the same 64 KiB, in one JVM: the
 * JDK's ECB (encrypt, decrypt), CBC decryption and CTR (16 KiB per call), jdm's XTS at 512- and
 * 4096-byte sectors (as shipped), and the Corretto provider's AES/XTS per 4096-byte sector, per
 * 512-byte sector, per 16 KiB and in one 64 KiB call (what one provider call costs). Every case
 * runs for 300 ms per round, the cases alternating, ROUNDS rounds (default 7, after two unmeasured
 * ones); prints medians. Not a JMH benchmark: a probe to see where the time goes (RESULTS.md).
 *
 * <p>Run from the repository root, after {@code mvn -B -q -DskipTests -pl dm-bench -am package}:
 * {@code java -cp dm-bench/target/dm-bench.jar dm-bench/probe/AesEngines.java [ROUNDS]}
 */
public class AesEngines {
  static final int BIO = 64 * 1024;

  interface Op {
    void run() throws Exception;
  }

  public static void main(String[] args) throws Exception {
    Provider accp =
        (Provider)
            Class.forName("com.amazon.corretto.crypto.provider.AmazonCorrettoCryptoProvider")
                .getField("INSTANCE")
                .get(null);
    byte[] key64 = new byte[64];
    new Random(1).nextBytes(key64);
    SecretKeySpec k32 = new SecretKeySpec(key64, 0, 32, "AES");
    SecretKeySpec k64 = new SecretKeySpec(key64, "AES");
    byte[] in = new byte[BIO];
    byte[] out = new byte[BIO];
    new Random(2).nextBytes(in);
    Cipher ecb = Cipher.getInstance("AES/ECB/NoPadding");
    ecb.init(Cipher.ENCRYPT_MODE, k32);
    Cipher ecbd = Cipher.getInstance("AES/ECB/NoPadding");
    ecbd.init(Cipher.DECRYPT_MODE, k32);
    Cipher cbcd = Cipher.getInstance("AES/CBC/NoPadding");
    cbcd.init(Cipher.DECRYPT_MODE, k32, new IvParameterSpec(new byte[16]));
    Cipher ctr = Cipher.getInstance("AES/CTR/NoPadding");
    ctr.init(Cipher.ENCRYPT_MODE, k32, new IvParameterSpec(new byte[16]));
    Cipher ax = Cipher.getInstance("AES/XTS/NoPadding", accp);
    SectorCipher j512 = SectorCiphers.create("aes-xts-plain64", key64, 512);
    SectorCipher j4k = SectorCiphers.create("aes-xts-plain64", key64, 4096);
    ByteBuffer hb = ByteBuffer.wrap(in);
    long[] sector = {0};
    byte[] tweak = new byte[16];
    String[] names = {
      "JDK AES/ECB encrypt",
      "JDK AES/ECB decrypt",
      "JDK AES/CBC decrypt",
      "JDK AES/CTR",
      "jdm XTS, 512-byte sectors",
      "jdm XTS, 4096-byte sectors",
      "Corretto XTS, a call per 4096 B",
      "Corretto XTS, a call per 512 B",
      "Corretto XTS, a call per 16 KiB",
      "Corretto XTS, one 64 KiB call"
    };
    int[] perCall = {0, 0, 0, 0, 0, 0, 4096, 512, 16384, BIO};
    Op[] ops = new Op[names.length];
    ops[0] = () -> chunks(ecb, in, out);
    ops[1] = () -> chunks(ecbd, in, out);
    ops[2] = () -> chunks(cbcd, in, out);
    ops[3] = () -> chunks(ctr, in, out);
    ops[4] = () -> j512.encrypt(hb, 0, BIO / 512, sector[0] += BIO / 512);
    ops[5] = () -> j4k.encrypt(hb, 0, BIO / 4096, sector[0] += BIO / 512);
    for (int i = 6; i < ops.length; i++) {
      int n = perCall[i];
      ops[i] =
          () -> {
            for (int o = 0; o < BIO; o += n) {
              long s = sector[0]++;
              for (int b = 0; b < 8; b++) {
                tweak[b] = (byte) (s >>> (8 * b));
              }
              ax.init(Cipher.ENCRYPT_MODE, k64, new IvParameterSpec(tweak));
              ax.doFinal(in, o, n, in, o);
            }
          };
    }
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 7;
    double[][] t = new double[ops.length][rounds];
    for (int r = -2; r < rounds; r++) {
      for (int i = 0; i < ops.length; i++) {
        long n = 0;
        long t0 = System.nanoTime();
        long now;
        do {
          ops[i].run();
          n++;
        } while ((now = System.nanoTime()) < t0 + 300_000_000L);
        if (r >= 0) {
          t[i][r] = (now - t0) / (double) n;
        }
      }
    }
    for (int i = 0; i < ops.length; i++) {
      double[] x = t[i].clone();
      Arrays.sort(x);
      double m = x[rounds / 2];
      System.out.printf(
          Locale.ROOT,
          "%-34s median %9.0f ns per 64 KiB  %6.2f GB/s  (rounds: min %.0f, max %.0f ns)%n",
          names[i],
          m,
          BIO / m,
          x[0],
          x[rounds - 1]);
    }
  }

  private static void chunks(Cipher c, byte[] in, byte[] out) throws Exception {
    for (int o = 0; o < BIO; o += 16384) {
      c.update(in, o, 16384, out, o);
    }
  }
}
