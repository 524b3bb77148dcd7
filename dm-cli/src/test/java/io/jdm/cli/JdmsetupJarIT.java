package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipped artefacts as a user runs them, after {@code package}: the {@code dm-cli/jdmsetup}
 * launcher over {@code target/jdmsetup.jar} (every target inside, found by the ServiceLoader), and
 * {@code dm-cli/demo.sh}, the README's first screen, unmodified.
 */
class JdmsetupJarIT {
  @TempDir Path tmp;

  private static final Path LAUNCHER = Path.of("jdmsetup").toAbsolutePath();

  @Test
  void theJarCarriesEveryTarget() throws Exception {
    assertThat(Path.of(System.getProperty("jdmsetup.jar"))).exists();
    Map<String, String> env = Map.of("JDM_RUNTIME_DIR", tmp.resolve("run").toString());
    Cli.Result v = Cli.exec(env, LAUNCHER.toString(), "--version");
    assertThat(v.exit()).as(v.out()).isZero();
    assertThat(v.out()).startsWith("jdmsetup ");
    Cli.Result none = Cli.exec(env, LAUNCHER.toString(), "targets");
    assertThat(none.exit()).isEqualTo(1);
    assertThat(none.out())
        .isEqualTo(
            "jdmsetup: no daemon at "
                + tmp.resolve("run")
                + " (start one with `jdmsetup daemon`)\n");
    assertThat(Cli.exec(env, LAUNCHER.toString(), "daemon", "--background").exit()).isZero();
    try {
      Cli.Result t = Cli.exec(env, LAUNCHER.toString(), "targets");
      assertThat(t.exit()).as(t.out()).isZero();
      assertThat(t.out())
          .contains("basic_target ", "crypt ", "flakey ", "dust ", "log-writes ", "delay ")
          .contains("linear           v1.4.0\n");
    } finally {
      assertThat(Cli.exec(env, LAUNCHER.toString(), "daemon", "--stop").exit()).isZero();
    }
  }

  @Test
  void demoScriptAsShipped() throws Exception {
    Cli.require("qemu-io", "qemu-utils");
    Cli.Result r =
        Cli.exec(Map.of("TMPDIR", tmp.toString()), Path.of("demo.sh").toAbsolutePath().toString());
    assertThat(r.exit()).as(r.out()).isZero();
    assertThat(r.out())
        .contains("INFO basic_target_map: write of 512 bytes at sector 10\n")
        .contains("0005120 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a\n");
  }
}
