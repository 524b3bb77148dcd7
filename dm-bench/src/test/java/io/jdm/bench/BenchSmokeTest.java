package io.jdm.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Collection;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openjdk.jmh.results.RunResult;

/**
 * Runs every benchmark once, briefly, in this JVM, so a benchmark that no longer works fails the
 * build. No time is asserted: the figures of a 50 ms run on a busy machine mean nothing.
 */
class BenchSmokeTest {
  @TempDir Path out;

  @Test
  void everyBenchmarkRunsAndReports() throws Exception {
    Collection<RunResult> results = BenchSuite.run("io\\.jdm\\.bench\\..*Benchmark.*", true, out);
    // 16 lookup + 6 map-path + 24 throughput + 2 suspend/resume + 10 crypt + 4 KDF (warm, cold)
    // + 8 mirror write (one and two writers) + 4 mirror read + 1 mirror resync + 5 snapshot
    // + 5 verity configurations + 6 multipath (one or two paths, three selectors) + 7 thin
    // + 4 persistent-data
    assertThat(results).hasSize(102);
    String report = BenchSuite.report(results, true);
    assertThat(report)
        .contains("| MapPathBenchmark.submit | op=READ, path=linear |")
        .contains("| TableLookupBenchmark.find | entries=65536, pattern=random |")
        .contains("ThroughputBenchmark.io")
        .contains("SuspendResumeBenchmark.underLoad")
        .contains("| MirrorBenchmark.write | path=mirror, size=4096 |")
        .contains("| MirrorBenchmark.write2 | path=mirror, size=1048576 |")
        .contains("| MirrorReadBenchmark.read | path=round_robin, serviceMicros=1000 |")
        .contains("MirrorResyncBenchmark.resync")
        .contains(
            "| MultipathBenchmark.read | paths=two, selector=service-time, serviceMicros=1000 |")
        .contains("| CryptBenchmark.xts | buffer=heap, op=encrypt, sectorSize=4096 |")
        .contains("CryptBenchmark.jdkEcb")
        .contains("| KdfBenchmark.argon2id | impl=jdm, kdfMemoryKiB=1024 |")
        .contains("| KdfBenchmark.argon2id | impl=bc, kdfMemoryKiB=1024 |")
        .contains("| KdfBenchmark.argon2idCold | impl=jdm, kdfMemoryKiB=1024 |")
        .contains("| SnapshotBenchmark.read | path=snapshot |")
        .contains("| SnapshotBenchmark.firstWrite | snapshots=4 |")
        .contains("| VerityBenchmark.random | path=verity |")
        .contains("| VerityBenchmark.sequential | path=verity |")
        .contains("| ThinBenchmark.read | path=thin |")
        .contains("PersistentDataBenchmark.lookup")
        .contains("| ThinBenchmark.firstWrite | durability=fua, zeroing=zero |")
        .contains("ThinBenchmark.breakSharing")
        .contains("measures nothing")
        .doesNotContain("goal met")
        .doesNotContain("| yes |")
        .doesNotContain("**no**");
    assertThat(BenchSuite.host(results, "0.00 0.00 0.00"))
        .contains("- Host: ")
        .contains("CPU features: ")
        .contains("fork JVM flags: ")
        .contains("Load average");
    assertThat(out.resolve("jmh.json")).exists();
  }

  @Test
  void readsOpensslSpeedsTable() {
    String text =
        "version: 3.0.17\n"
            + "The 'numbers' are in 1000s of bytes per second processed.\n"
            + "type           4096 bytes\n"
            + "AES-256-XTS    8196310.36k\n";
    assertThat(BenchSuite.parseOpensslSpeed(text)).isEqualTo(8_196_310_360.0);
    assertThat(BenchSuite.parseOpensslSpeed("openssl: command not found")).isNaN();
  }

  @Test
  void scoresKeepFourSignificantDigits() {
    assertThat(BenchSuite.digits(0.1134567)).isEqualTo("0.1135");
    assertThat(BenchSuite.digits(51234.5)).isEqualTo("51230");
    assertThat(BenchSuite.digits(8.0)).isEqualTo("8");
    assertThat(BenchSuite.digits(0)).isEqualTo("0");
  }
}
