package io.jdm.crypto.luks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link PbkdfBenchmark} against cost models instead of the machine: the costs chosen take the
 * target time under the model, and the search runs as cryptsetup's does.
 */
class PbkdfBenchmarkTest {
  @Test
  void pbkdf2ScalesTheMeasuredRateToTheTarget() {
    List<Long> tried = new ArrayList<>();
    // 1,000 iterations per millisecond
    PbkdfBenchmark.Runner model =
        p -> {
          tried.add(p.iterations());
          return p.iterations() / 1000;
        };
    Pbkdf p = PbkdfBenchmark.pbkdf2("sha256", 2000, model);
    assertThat(p.type()).isEqualTo("pbkdf2");
    assertThat(p.hash()).isEqualTo("sha256");
    // 2^19 iterations took 524 ms: 1000.5 per ms
    assertThat(p.iterations()).isEqualTo(2_001_099);
    // 2^15 (32 ms: x16), 2^19 (524 ms: over 500, stop)
    assertThat(tried).containsExactly(1L << 15, 1L << 19);
  }

  @Test
  void pbkdf2KeepsTheMinimumOnASlowMachine() {
    Pbkdf p = PbkdfBenchmark.pbkdf2("sha256", 1, q -> 10_000);
    assertThat(p.iterations()).isEqualTo(Pbkdf.PBKDF2_MIN_ITERATIONS);
  }

  @Test
  void argon2GrowsMemoryThenTime() {
    // 1 ms per MiB per pass
    PbkdfBenchmark.Runner model = p -> p.iterations() * p.memoryKiB() / 1024 / 4;
    Pbkdf p = PbkdfBenchmark.argon2(true, 2000, 1024 * 1024, 4, model);
    assertThat(p.type()).isEqualTo("argon2id");
    assertThat(p.parallel()).isEqualTo(4);
    // time 4 at 32 MiB takes 32 ms: memory to the 1 GiB bound, time 4 * 32 * 2000 / (1024 * 32)
    // = 7 (rounded down, as cryptsetup does), then nothing changes: 1792 ms
    assertThat(p.memoryKiB()).isEqualTo(1024 * 1024);
    assertThat(p.iterations()).isEqualTo(7);
    assertThat(model.millis(p)).isEqualTo(1792);

    // a small memory bound: the time cost grows instead
    Pbkdf capped = PbkdfBenchmark.argon2(false, 2000, 64 * 1024, 1, model);
    assertThat(capped.type()).isEqualTo("argon2i");
    assertThat(capped.memoryKiB()).isEqualTo(64 * 1024);
    assertThat(capped.iterations()).isEqualTo(125);
    assertThat(model.millis(capped)).isEqualTo(2000);
  }

  @Test
  void argon2ShrinksMemoryWhenEvenTimeFourIsTooSlow() {
    // 100 ms per MiB per pass: time 4 at 32 MiB takes 12.8 s
    PbkdfBenchmark.Runner model = p -> p.iterations() * p.memoryKiB() * 100 / 1024 / 4;
    Pbkdf p = PbkdfBenchmark.argon2(true, 1000, 1024 * 1024, 4, model);
    assertThat(p.iterations()).isEqualTo(Pbkdf.ARGON2_MIN_TIME);
    assertThat(model.millis(p)).isBetween(950L, 1050L);
  }

  @Test
  void aRealRunTakesRoughlyTheTime() {
    // the real runner, with tiny costs so the test stays fast: only checks it measures something
    long ms = PbkdfBenchmark.system().millis(Pbkdf.pbkdf2("sha256", 1000));
    assertThat(ms).isPositive();
    assertThatThrownBy(() -> PbkdfBenchmark.pbkdf2("sha256", 0, q -> 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("iteration time 0 ms (expected: >= 1)");
  }
}
