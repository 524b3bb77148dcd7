package io.jdm.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.NoBenchmarksException;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs the benchmarks and prints a Markdown table: benchmark, parameters, score and error,
 * allocation per operation, the goal, and the comparison with the baseline measured in the same
 * run.
 *
 * <p>Usage: {@code java -cp dm-bench.jar io.jdm.bench.BenchSuite [--smoke] [--out DIR] [regex]}.
 * The full run (2 forks, 3 warm-up and 4 measured one-second iterations, {@code -prof gc}) fits in
 * about a quarter of an hour on two cores; the single-shot benchmarks ({@link KdfBenchmark}, one
 * key derivation of seconds per operation) keep the forks and iterations of their annotations, in a
 * second JMH run, so as not to add minutes. {@code --smoke} runs every benchmark once, briefly, in
 * this JVM, to prove they still work: it measures nothing, so its report (in {@code
 * dm-bench/results/smoke/} unless {@code --out} says otherwise) has no goals, ratios or verdicts.
 *
 * <p>Every ratio in the "vs baseline" column is a rate ratio, the baseline's time over the row's
 * (higher is better; 1.00x is the baseline's rate). Every report starts with the host's CPU model
 * and AES/vector features, the JDK and the forks' JVM flags, and the load average.
 */
public final class BenchSuite {
  private BenchSuite() {}

  public static void main(String[] args) throws RunnerException, IOException {
    boolean smoke = false;
    Path out = null;
    String include = "io\\.jdm\\.bench\\..*Benchmark.*";
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--smoke":
          smoke = true;
          break;
        case "--out":
          out = Path.of(args[++i]);
          break;
        default:
          include = args[i];
      }
    }
    if (out == null) {
      out = smoke ? Path.of("dm-bench", "results", "smoke") : Path.of("dm-bench", "results");
    }
    String loadBefore = loadAverage();
    Collection<RunResult> results = run(include, smoke, out);
    if (!smoke && results.stream().anyMatch(r -> r.getParams().getBenchmark().contains("Crypt"))) {
      for (int bytes : new int[] {512, 4096}) {
        OPENSSL.put(bytes, opensslXts(bytes));
      }
    }
    String report = host(results, loadBefore) + "\n" + report(results, smoke);
    if (!OPENSSL.isEmpty()) {
      report +=
          String.format(
              Locale.ROOT,
              "%nopenssl speed -elapsed -evp aes-256-xts, same run: %s MB/s at 512 bytes,"
                  + " %s MB/s at 4096 bytes%n",
              digits(OPENSSL.get(512) / 1e6),
              digits(OPENSSL.get(4096) / 1e6));
    }
    System.out.println(report);
    Files.writeString(out.resolve("report.md"), report, StandardCharsets.UTF_8);
  }

  /**
   * What the figures were measured on: the CPU model and its AES and vector features, the JDK, the
   * forks' JVM flags, and the load average before and after (the machine may be shared).
   */
  static String host(Collection<RunResult> results, String loadBefore) {
    String model = "?";
    String flags = "";
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"), StandardCharsets.UTF_8)) {
        if (line.startsWith("model name") && model.equals("?")) {
          model = line.substring(line.indexOf(':') + 1).trim();
        } else if (line.startsWith("flags") && flags.isEmpty()) {
          List<String> want = new ArrayList<>();
          for (String f : line.substring(line.indexOf(':') + 1).trim().split(" ")) {
            if (f.matches("aes|avx2|avx512f|avx512vl|vaes|vpclmulqdq|pclmulqdq|sha_ni")) {
              want.add(f);
            }
          }
          flags = String.join(" ", want);
        }
      }
    } catch (IOException e) {
      // not Linux: leave it unknown
    }
    String jvmArgs = "default";
    String jdk = System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version");
    for (RunResult r : results) {
      BenchmarkParams p = r.getParams();
      jdk = p.getVmName() + " " + p.getVmVersion() + " (JDK " + p.getJdkVersion() + ")";
      jvmArgs = p.getJvmArgs().isEmpty() ? "default" : String.join(" ", p.getJvmArgs());
      break;
    }
    return String.format(
        Locale.ROOT,
        "- Host: %s, %d CPUs; CPU features: %s%n- JDK: %s; fork JVM flags: %s%n"
            + "- Load average (1, 5, 15 min): %s before, %s after%n",
        model,
        Runtime.getRuntime().availableProcessors(),
        flags.isEmpty() ? "?" : flags,
        jdk,
        jvmArgs,
        loadBefore,
        loadAverage());
  }

  private static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg"), StandardCharsets.UTF_8).split(" ");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException | RuntimeException e) {
      return "?";
    }
  }

  /** OpenSSL's AES-256-XTS rate in bytes per second, by buffer size, measured in this run. */
  private static final Map<Integer, Double> OPENSSL = new TreeMap<>();

  /**
   * Runs {@code openssl speed -elapsed -evp aes-256-xts -bytes N} and returns its figure in bytes
   * per second, or NaN if openssl is missing or prints something else.
   */
  static double opensslXts(int bytes) throws IOException {
    Process p =
        new ProcessBuilder(
                "openssl", "speed", "-elapsed", "-evp", "aes-256-xts", "-bytes", "" + bytes)
            .redirectErrorStream(true)
            .start();
    String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      p.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Double.NaN;
    }
    return parseOpensslSpeed(text);
  }

  /** The last figure of {@code openssl speed}'s table ({@code AES-256-XTS 8196310.36k}), in B/s. */
  static double parseOpensslSpeed(String text) {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("(?m)^AES-256-XTS\\s+([0-9.]+)k\\s*$").matcher(text);
    double v = Double.NaN;
    while (m.find()) {
      v = Double.parseDouble(m.group(1)) * 1000;
    }
    return v;
  }

  /** The benchmarks that keep their own forks and iterations in a full run. */
  private static final String SINGLE_SHOT =
      "io\\.jdm\\.bench\\.(KdfBenchmark|MirrorResyncBenchmark)\\.";

  /**
   * Runs the benchmarks matching {@code include}; writes JMH's JSON to {@code out/jmh.json} (and
   * the single-shot benchmarks' to {@code out/jmh-single-shot.json} in a full run).
   */
  public static Collection<RunResult> run(String include, boolean smoke, Path out)
      throws RunnerException, IOException {
    Files.createDirectories(out);
    ChainedOptionsBuilder o =
        new OptionsBuilder()
            .include(include)
            .result(out.resolve("jmh.json").toString())
            .resultFormat(ResultFormatType.JSON);
    if (smoke) {
      o.forks(0)
          .warmupIterations(0)
          .measurementIterations(1)
          .measurementTime(TimeValue.milliseconds(50))
          .param("deviceBytes", Long.toString(8L << 20))
          .param("kdfMemoryKiB", "1024")
          .param("mappings", "65536")
          .shouldFailOnError(true);
      return new Runner(o.build()).run();
    }
    o.exclude(SINGLE_SHOT)
        .forks(2)
        .warmupIterations(3)
        .warmupTime(TimeValue.seconds(1))
        .measurementIterations(4)
        .measurementTime(TimeValue.seconds(1))
        .addProfiler(GCProfiler.class)
        .shouldFailOnError(true);
    ChainedOptionsBuilder single =
        new OptionsBuilder()
            .include(include)
            .exclude("^(?!" + SINGLE_SHOT + ")") // only the single-shot ones among include
            .result(out.resolve("jmh-single-shot.json").toString())
            .resultFormat(ResultFormatType.JSON)
            .shouldFailOnError(true);
    List<RunResult> results = new ArrayList<>();
    int none = 0;
    for (ChainedOptionsBuilder b : List.of(o, single)) {
      try {
        results.addAll(new Runner(b.build()).run());
      } catch (NoBenchmarksException e) {
        if (++none == 2) {
          throw e;
        }
      }
    }
    return results;
  }

  /** One row of the report. */
  private record Row(
      String benchmark,
      Map<String, String> params,
      double score,
      double error,
      String unit,
      double bytesPerOp) {
    String key(String... without) {
      Map<String, String> p = new TreeMap<>(params);
      for (String w : without) {
        p.remove(w);
      }
      return benchmark + p;
    }
  }

  /** The report of a full run. */
  static String report(Collection<RunResult> results) {
    return report(results, false);
  }

  /**
   * The report; a smoke run's has no goal, ratio or verdict columns (its 50 ms figures mean
   * nothing).
   */
  static String report(Collection<RunResult> results, boolean smoke) {
    List<Row> rows = new ArrayList<>();
    for (RunResult r : results) {
      BenchmarkParams bp = r.getParams();
      Map<String, String> params = new LinkedHashMap<>();
      for (String k : bp.getParamsKeys()) {
        if (!k.equals("deviceBytes")) {
          params.put(k, bp.getParam(k));
        }
      }
      Result<?> primary = r.getPrimaryResult();
      double alloc = Double.NaN;
      for (Map.Entry<String, ? extends Result<?>> e : secondary(r).entrySet()) {
        if (e.getKey().endsWith("gc.alloc.rate.norm")) {
          alloc = e.getValue().getScore();
        }
      }
      String name =
          bp.getBenchmark()
              .substring(
                  bp.getBenchmark().lastIndexOf('.', bp.getBenchmark().lastIndexOf('.') - 1) + 1);
      rows.add(
          new Row(
              name,
              params,
              primary.getScore(),
              primary.getScoreError(),
              primary.getScoreUnit(),
              alloc));
    }
    StringBuilder sb = new StringBuilder();
    if (smoke) {
      sb.append("Smoke run: every benchmark once, briefly, to prove it runs; it measures nothing,")
          .append(" so no goal is judged.\n\n");
      sb.append("| benchmark | params | score | unit |\n|---|---|---|---|\n");
      for (Row row : rows) {
        sb.append(
            String.format(
                Locale.ROOT,
                "| %s | %s | %s | %s |%n",
                row.benchmark(),
                row.params().toString().replaceAll("[{}]", ""),
                digits(row.score()),
                row.unit()));
      }
      return sb.toString().replace("\r\n", "\n");
    }
    sb.append(
        "| benchmark | params | score ± error | unit | B/op | goal | vs baseline (rate ratio)"
            + " | goal met |\n");
    sb.append("|---|---|---|---|---|---|---|---|\n");
    for (Row row : rows) {
      String[] goal = goal(row, rows);
      sb.append(
          String.format(
              Locale.ROOT,
              "| %s | %s | %s ± %s | %s | %s | %s | %s | %s |%n",
              row.benchmark(),
              row.params().toString().replaceAll("[{}]", ""),
              digits(row.score()),
              digits(Double.isNaN(row.error()) ? 0 : row.error()),
              row.unit(),
              Double.isNaN(row.bytesPerOp())
                  ? "-"
                  : String.format(Locale.ROOT, "%.1f", row.bytesPerOp()),
              goal[0],
              goal[1],
              goal[2]));
    }
    return sb.toString().replace("\r\n", "\n");
  }

  /** The goal text, the comparison with the baseline, and whether the goal is met. */
  private static String[] goal(Row row, List<Row> rows) {
    String b = row.benchmark();
    if (b.equals("TableLookupBenchmark.find")) {
      Row base = find(rows, "TableLookupBenchmark.binarySearchBaseline", row.params());
      String vs = base == null ? "-" : ratio(base.score() / row.score()) + " of binarySearch rate";
      if (row.params().get("entries").equals("65536")) {
        return new String[] {"≤ 15 ns, 0 B", vs, met(row.score() <= 15 && zero(row))};
      }
      return new String[] {"-", vs, "-"};
    }
    if (b.equals("PersistentDataBenchmark.lookup")) {
      Row base = find(rows, "PersistentDataBenchmark.treeMapBaseline", row.params());
      String vs = base == null ? "-" : ratio(row.score() / base.score()) + " of TreeMap";
      if (row.params().get("cacheBlocks").equals("16384")) {
        return new String[] {"≥ 1M ops/s", vs, met(row.score() >= 1_000_000)};
      }
      return new String[] {"-", vs, "-"};
    }
    if (b.equals("MapPathBenchmark.submit") && !row.params().get("path").equals("null")) {
      Map<String, String> p = new LinkedHashMap<>(row.params());
      p.put("path", "null");
      Row base = find(rows, b, p);
      double limit = row.params().get("path").equals("linear") ? 25 : 60;
      if (base == null) {
        return new String[] {"≤ +" + (int) limit + " ns, 0 B", "-", "-"};
      }
      double over = row.score() - base.score();
      return new String[] {
        "≤ +" + (int) limit + " ns, 0 B",
        ratio(base.score() / row.score()) + " of null rate",
        met(over <= limit && zero(row)) + String.format(Locale.ROOT, " (%+.1f ns over null)", over)
      };
    }
    if (b.equals("ThroughputBenchmark.io") && !row.params().get("path").equals("bare")) {
      Map<String, String> p = new LinkedHashMap<>(row.params());
      p.put("path", "bare");
      Row base = find(rows, b, p);
      if (base == null) {
        return new String[] {"≥ 0.95x bare", "-", "-"};
      }
      double rate = base.score() / row.score();
      return new String[] {"≥ 0.95x bare", ratio(rate) + " of bare rate", met(rate >= 0.95)};
    }
    if (b.startsWith("MirrorBenchmark.write") && row.params().get("path").equals("mirror")) {
      Map<String, String> p = new LinkedHashMap<>(row.params());
      p.put("path", "linear");
      Row base = find(rows, b, p);
      double want = row.params().get("size").equals("4096") ? 0.8 : 0.9;
      String g = "≥ " + want + "x linear";
      if (base == null) {
        return new String[] {g, "-", "-"};
      }
      double rate = base.score() / row.score();
      return new String[] {g, ratio(rate) + " of linear rate", met(rate >= want)};
    }
    if (b.equals("MirrorReadBenchmark.read") && !row.params().get("path").equals("linear")) {
      Map<String, String> p = new LinkedHashMap<>(row.params());
      p.put("path", "linear");
      Row base = find(rows, b, p);
      boolean balanced = !row.params().get("path").equals("mirror");
      String g = balanced ? "≥ 1.8x one leg" : "-";
      if (base == null) {
        return new String[] {g, "-", "-"};
      }
      double rate = base.score() / row.score();
      return new String[] {g, ratio(rate) + " of one leg", balanced ? met(rate >= 1.8) : "-"};
    }
    if (b.equals("MirrorResyncBenchmark.resync")) {
      // the full run's 1 GiB (a smoke run's small mirror gives a meaningless figure anyway)
      double rate = MirrorResyncBenchmark.FULL_BYTES / (row.score() * 1e-3); // score in ms
      return new String[] {
        "≥ 1 GB/s",
        ratio(rate / 1e9) + " of 1 GB/s (" + digits(rate / 1e6) + " MB/s)",
        met(rate >= 1e9)
      };
    }
    if (b.equals("SnapshotBenchmark.read") && row.params().get("path").equals("snapshot")) {
      Map<String, String> p = new LinkedHashMap<>(row.params());
      p.put("path", "origin");
      Row base = find(rows, b, p);
      if (base == null) {
        return new String[] {"≥ 0.9x origin", "-", "-"};
      }
      double rate = base.score() / row.score();
      return new String[] {"≥ 0.9x origin", ratio(rate) + " of origin rate", met(rate >= 0.9)};
    }
    if (b.equals("ThinBenchmark.read") && row.params().get("path").equals("thin")) {
      Map<String, String> p = new LinkedHashMap<>(row.params());
      p.put("path", "linear");
      Row base = find(rows, b, p);
      if (base == null) {
        return new String[] {"≥ 0.9x linear", "-", "-"};
      }
      double rate = base.score() / row.score();
      return new String[] {"≥ 0.9x linear", ratio(rate) + " of linear rate", met(rate >= 0.9)};
    }
    if (b.startsWith("CryptBenchmark.")) {
      double rate = CryptBenchmark.BIO / (row.score() * 1e-9); // bytes per second
      String speed = digits(rate / 1e6) + " MB/s";
      if (!b.equals("CryptBenchmark.xts")) {
        return new String[] {"-", "- (" + speed + ")", "-"};
      }
      int sector = Integer.parseInt(row.params().get("sectorSize"));
      Double openssl = OPENSSL.get(sector);
      boolean none = openssl == null || openssl.isNaN();
      String vs =
          none
              ? "- (" + speed + ")"
              : ratio(rate / openssl) + " of openssl -bytes " + sector + " (" + speed + ")";
      double want = sector == 4096 ? 1.0 : sector == 512 ? 1.1 : Double.NaN;
      if (Double.isNaN(want)) {
        return new String[] {"-", vs, "-"};
      }
      return new String[] {"≥ " + want + "x openssl", vs, none ? "-" : met(rate >= want * openssl)};
    }
    if (b.startsWith("VerityBenchmark.") && !row.params().get("path").equals("linear")) {
      Map<String, String> p = new LinkedHashMap<>(row.params());
      p.put("path", "linear");
      Row base = find(rows, b, p);
      boolean goal =
          b.equals("VerityBenchmark.random") && row.params().get("path").equals("verity");
      String g = goal ? "≥ 0.8x linear" : "-";
      if (base == null) {
        return new String[] {g, "-", "-"};
      }
      double rate = base.score() / row.score();
      return new String[] {g, ratio(rate) + " of linear rate", goal ? met(rate >= 0.8) : "-"};
    }
    if (b.startsWith("KdfBenchmark.argon2id") && row.params().get("impl").equals("jdm")) {
      Map<String, String> p = new LinkedHashMap<>(row.params());
      p.put("impl", "bc");
      Row base = find(rows, b, p);
      // the goal, at most 0.75x Bouncy Castle's time, is a rate of at least 1/0.75 = 1.33x bc's
      if (base == null) {
        return new String[] {"≥ 1.33x bc rate", "-", "-"};
      }
      double r = base.score() / row.score();
      return new String[] {"≥ 1.33x bc rate", ratio(r) + " of bc rate", met(r >= 1 / 0.75)};
    }
    return new String[] {"-", "-", "-"};
  }

  @SuppressWarnings({"rawtypes", "unchecked"}) // JMH declares Map<String, Result> (raw)
  private static Map<String, ? extends Result<?>> secondary(RunResult r) {
    Map raw = r.getSecondaryResults();
    return raw;
  }

  /** Four significant digits, without exponent notation. */
  static String digits(double v) {
    if (v == 0) {
      return "0";
    }
    if (Double.isNaN(v) || Double.isInfinite(v)) {
      return String.valueOf(v);
    }
    java.math.BigDecimal d =
        new java.math.BigDecimal(v).round(new java.math.MathContext(4)).stripTrailingZeros();
    return d.scale() < 0 ? d.setScale(0).toPlainString() : d.toPlainString();
  }

  private static boolean zero(Row row) {
    return Double.isNaN(row.bytesPerOp()) || row.bytesPerOp() < 1;
  }

  private static String ratio(double r) {
    return String.format(Locale.ROOT, "%.2fx", r);
  }

  private static String met(boolean ok) {
    return ok ? "yes" : "**no**";
  }

  private static Row find(List<Row> rows, String benchmark, Map<String, String> params) {
    for (Row r : rows) {
      if (r.benchmark().equals(benchmark) && r.params().equals(params)) {
        return r;
      }
    }
    return null;
  }

  /** For tests: the report as text. */
  static void print(Collection<RunResult> results, PrintStream out) {
    out.println(report(results));
  }
}
