package io.jdm.bench;

import io.jdm.crypto.luks.Pbkdf;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One LUKS2 key derivation with cryptsetup's default costs, Argon2id with time 4, 256 MiB and 4
 * lanes, a 32-byte salt and a 64-byte key: jdm's {@link Pbkdf#derive} (lanes on {@code min(4,
 * cores)} threads, jdm's own Argon2), beside Bouncy Castle's {@link Argon2BytesGenerator} (one
 * thread), the baseline it replaced. Single shot: each operation is one whole derivation of
 * seconds, as a {@code luksOpen} pays it; {@link #argon2id} warm, {@link #argon2idCold} as the
 * first derivation of a fresh JVM. Goal, set by the KDF issue: at most 0.75x Bouncy Castle's time
 * on two cores. The comparison with cryptsetup (issue 19: format and open within 1.2x of its time)
 * needs containers and fresh processes: {@code dm-bench/argon2-vs-cryptsetup.sh}.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgsAppend = "-Xmx2g")
@State(Scope.Benchmark)
public class KdfBenchmark {
  private static final byte[] PASSPHRASE = "correct horse".getBytes(StandardCharsets.UTF_8);
  private static final byte[] SALT = new byte[32];

  /** jdm's derivation or Bouncy Castle's. */
  @Param({"jdm", "bc"})
  public String impl;

  /** The Argon2 memory cost; the smoke run makes it small. */
  @Param({"262144"})
  public int kdfMemoryKiB;

  /** One Argon2id derivation of a 64-byte key. */
  @Benchmark
  public byte[] argon2id() throws IOException {
    return derive();
  }

  /**
   * The same derivation as the first thing a fresh JVM does, as {@code jdmsetup luksFormat} or the
   * daemon's first {@code open} pays it: the JIT compiles Argon2 while it runs. No warm-up, five
   * forks of one derivation each.
   */
  @Benchmark
  @Warmup(iterations = 0)
  @Measurement(iterations = 1)
  @Fork(value = 5, jvmArgsAppend = "-Xmx2g")
  public byte[] argon2idCold() throws IOException {
    return derive();
  }

  private byte[] derive() throws IOException {
    if (impl.equals("jdm")) {
      return Pbkdf.argon2id(4, kdfMemoryKiB, 4).derive(PASSPHRASE, SALT, 64, null);
    }
    Argon2BytesGenerator g = new Argon2BytesGenerator();
    g.init(
        new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id)
            .withVersion(Argon2Parameters.ARGON2_VERSION_13)
            .withIterations(4)
            .withMemoryAsKB(kdfMemoryKiB)
            .withParallelism(4)
            .withSalt(SALT)
            .build());
    byte[] out = new byte[64];
    g.generateBytes(PASSPHRASE, out);
    return out;
  }
}
