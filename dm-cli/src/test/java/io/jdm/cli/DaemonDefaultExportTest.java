package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.MemoryBlockDevice;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jdmsetup daemon --default-export NAME}: clients asking for the empty export name (the
 * protocol's default, {@code nbd+unix:///?socket=...}) get device NAME, read-only when {@code
 * --export-readonly NAME} says so, with its holes in block status.
 */
class DaemonDefaultExportTest {
  @TempDir Path tmp;

  @Test
  void theEmptyNameServesTheDefaultExport() throws Exception {
    Cli.require("nbdinfo", "libnbd-bin");
    RuntimeDir dir = new RuntimeDir(tmp.resolve("run"));
    Daemon.Options o = Daemon.Options.builder().defaultExport("ro").readOnlyExport("ro").build();
    try (Daemon d = Daemon.start(dir, o)) {
      MemoryBlockDevice disk = MemoryBlockDevice.create("disk", 8192);
      disk.write(ByteBuffer.allocate(65536).put(0, (byte) 1), 2048 * 512);
      d.deviceMapper().registerDevice("disk", disk);
      d.deviceMapper().create("rw", "0 2048 linear disk 0");
      d.deviceMapper().create("ro", "0 4096 linear disk 2048");
      String socket = ((UnixDomainSocketAddress) d.nbdAddresses().get(0)).getPath().toString();
      Cli.Result info = Cli.exec(Map.of(), "nbdinfo", "nbd+unix:///?socket=" + socket);
      assertThat(info.exit()).as(info.out()).isZero();
      assertThat(info.out()).contains("export-size: 2097152").contains("is_read_only: true");
      Cli.Result map = Cli.exec(Map.of(), "nbdinfo", "--map", "nbd+unix:///?socket=" + socket);
      assertThat(map.exit()).as(map.out()).isZero();
      assertThat(map.out().trim().replaceAll("(?m)^[ \\t]+", "").replaceAll("[ \\t]+", " "))
          .isEqualTo("0 65536 0 data\n65536 2031616 3 hole,zero");
      // named exports as before
      info = Cli.exec(Map.of(), "nbdinfo", "nbd+unix:///rw?socket=" + socket);
      assertThat(info.out()).contains("export-size: 1048576").contains("is_read_only: false");
    }
  }
}
