package io.jdm.targets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.crash.WriteLog;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A log written by jdm's {@code log-writes}, replayed by the kernel project's own tool, {@code
 * replay-log} from xfstests ({@code src/log-writes/}). Debian does not package it, so this test
 * runs only where {@code JDM_REPLAY_LOG} names a built {@code replay-log}; elsewhere it is skipped
 * and {@link LogWritesTargetTest} checks the same format byte by byte.
 */
class ReplayLogInteropTest {
  private static Path tool() {
    String p = System.getenv("JDM_REPLAY_LOG");
    assumeTrue(p != null && Files.isExecutable(Path.of(p)), "JDM_REPLAY_LOG is not set");
    return Path.of(p);
  }

  private static String run(String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(1, TimeUnit.MINUTES)).isTrue();
    assertThat(p.exitValue()).as("%s: %s", String.join(" ", cmd), out).isZero();
    return out;
  }

  private static byte[] image(MemoryBlockDevice d) throws IOException {
    ByteBuffer b = ByteBuffer.allocate((int) d.size());
    d.read(b, 0);
    return b.array();
  }

  @Test
  void replayLogRebuildsTheDeviceFromAJdmLog(@TempDir Path dir) throws Exception {
    Path tool = tool();
    for (int bs : new int[] {512, 4096}) {
      Random rnd = new Random(bs);
      byte[] end;
      MemoryBlockDevice log =
          MemoryBlockDevice.builder("log", 1 << 16).logicalBlockSize(bs).build();
      try (DeviceMapper dm = DeviceMapper.create();
          MemoryBlockDevice data =
              MemoryBlockDevice.builder("data", 4096)
                  .logicalBlockSize(bs)
                  .writeCache(true)
                  .build()) {
        dm.registerDevice("data", data);
        dm.registerDevice("log", log);
        MappedDevice md = dm.create("lw", "0 4096 log-writes data log");
        int unit = bs / 512;
        for (int i = 0; i < 200; i++) {
          long sector = (long) rnd.nextInt(4096 / unit - 16) * unit;
          int n = (1 + rnd.nextInt(16)) * unit;
          byte[] b = new byte[n * 512];
          rnd.nextBytes(b);
          int op = rnd.nextInt(10);
          if (op < 7) {
            md.write(ByteBuffer.wrap(b), sector * 512);
          } else if (op < 8) {
            md.discard(sector * 512, n * 512L);
          } else {
            md.flush();
          }
          if (i == 100) {
            md.flush();
            md.message(0, "mark", "half");
          }
        }
        md.flush();
        end = image(data);
        dm.remove("lw");
      }
      Path logFile = dir.resolve("log-" + bs);
      Files.write(logFile, image(log));
      Path replay = dir.resolve("replay-" + bs);
      Files.write(replay, new byte[4096 * 512]);
      String info = run(tool.toString(), "--log", logFile.toString());
      WriteLog parsed = WriteLog.read(log);
      assertThat(info).contains("sectorsize=" + bs).contains("entries=" + parsed.entries().size());
      run(tool.toString(), "--log", logFile.toString(), "--replay", replay.toString());
      assertThat(Files.readAllBytes(replay)).as("block size %d", bs).isEqualTo(end);
      // up to the mark: what our own reader replays to the same entry
      Files.write(replay, new byte[4096 * 512]);
      run(
          tool.toString(),
          "--log",
          logFile.toString(),
          "--replay",
          replay.toString(),
          "--end-mark",
          "half");
      MemoryBlockDevice ours = MemoryBlockDevice.builder("ours", 4096).logicalBlockSize(bs).build();
      parsed.replay(ours, parsed.indexOfMark("half") + 1);
      assertThat(Files.readAllBytes(replay)).isEqualTo(image(ours));
    }
  }
}
