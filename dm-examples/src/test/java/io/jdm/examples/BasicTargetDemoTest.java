package io.jdm.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BasicTargetDemoTest {
  @TempDir Path dir;

  @Test
  void theTargetLogsTheOneSectorWriteAtSector10() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    Path disk = dir.resolve("disk1");
    BasicTargetDemo.run(new PrintStream(bytes, true, StandardCharsets.UTF_8), disk);
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertThat(out)
        .contains("basic_target     v1.0.0\n")
        .contains("[kernel] basic_target_ctr: 20000 sectors on " + disk + " from sector 0\n")
        .contains("0 20000 basic_target 7:0 0\n")
        .contains("[kernel] basic_target_map: write of 512 bytes at sector 10\n")
        .contains("[kernel] basic_target_map: flush of 0 bytes at sector 0\n")
        .contains("Name:              my_basic_target_device\n")
        .contains("the disk file at byte 5120: hello from jdm");
    assertThat(out.lines().filter(l -> l.contains("basic_target_map: write"))).hasSize(1);
  }

  /**
   * The demo as a module application ({@code java -p ... -m io.jdm.examples/...}): the module-info
   * files of dm-core and dm-examples are exercised for real (exports, {@code requires}, and the
   * {@code uses}/{@code provides} pair through which the service loader finds basic_target), which
   * the tests on the class path cannot do.
   */
  @Test
  void theDemoRunsOnTheModulePath() throws Exception {
    String modulePath =
        java.util.Arrays.stream(
                System.getProperty("java.class.path").split(java.io.File.pathSeparator))
            .filter(e -> e.contains("dm-core") || e.contains("dm-examples"))
            .filter(e -> !e.contains("test-classes"))
            .collect(java.util.stream.Collectors.joining(java.io.File.pathSeparator));
    assertThat(modulePath).contains("dm-core").contains("dm-examples");
    String java = ProcessHandle.current().info().command().orElseThrow();
    Process p =
        new ProcessBuilder(
                java,
                "-p",
                modulePath,
                "-m",
                "io.jdm.examples/io.jdm.examples.BasicTargetDemo",
                dir.resolve("disk1").toString())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor()).as(out).isZero();
    assertThat(out)
        .contains("basic_target     v1.0.0\n")
        .contains("[kernel] basic_target_map: write of 512 bytes at sector 10\n");
    assertThat(
            new ProcessBuilder(java, "-p", modulePath, "--describe-module", "io.jdm.core")
                .start()
                .getInputStream()
                .readAllBytes())
        .asString(StandardCharsets.UTF_8)
        .contains("exports io.jdm.core")
        .contains("uses io.jdm.core.TargetType");
  }
}
