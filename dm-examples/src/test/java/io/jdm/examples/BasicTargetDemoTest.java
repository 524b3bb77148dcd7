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
}
