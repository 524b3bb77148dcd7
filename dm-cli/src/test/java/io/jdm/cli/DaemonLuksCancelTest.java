package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.FileBlockDevice;
import io.jdm.crypto.luks.Luks;
import io.jdm.crypto.luks.LuksFormatOptions;
import io.jdm.crypto.luks.Pbkdf;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A LUKS1 header whose keyslot asks for 2^32-1 PBKDF2 iterations (about an hour of CPU, and LUKS1
 * has no checksum to recompute) makes {@code luks_open} derive for ever, as cryptsetup would. The
 * derivation must stop when the client goes away and when the daemon stops, leaving no thread and
 * no device.
 */
class DaemonLuksCancelTest {
  @TempDir Path tmp;

  private Path hostileImage() throws Exception {
    Path img = tmp.resolve("hostile.img");
    byte[] pass = "pw".getBytes(StandardCharsets.UTF_8);
    try (FileBlockDevice d = FileBlockDevice.builder(img).create(4L << 20).open()) {
      Luks.format(
              d,
              pass,
              LuksFormatOptions.builder().version(1).pbkdf(Pbkdf.pbkdf2("sha256", 1000)).build())
          .close();
    }
    try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
      f.seek(208 + 4); // keyslot 0: active (4 bytes), then iterations, big-endian
      f.writeInt(0xFFFF_FFFF);
    }
    return img;
  }

  private static Optional<Thread> deriving() {
    return Thread.getAllStackTraces().entrySet().stream()
        .filter(e -> e.getKey().getName().startsWith("jdmsetup-request-"))
        .filter(
            e ->
                Arrays.stream(e.getValue())
                    .anyMatch(f -> f.getClassName().startsWith("io.jdm.crypto.luks.Pbkdf")))
        .map(java.util.Map.Entry::getKey)
        .findFirst();
  }

  private static void await(String what, BooleanSupplier done) {
    long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("still not true after 60 s: " + what);
      }
      Thread.yield();
    }
  }

  private static String request(Path img) {
    return "luks_open name=secret device="
        + img
        + " passphrase="
        + HexFormat.of().formatHex("pw".getBytes(StandardCharsets.UTF_8))
        + "\n";
  }

  @Test
  void aClientThatLeavesStopsTheKeyDerivation() throws Exception {
    Path img = hostileImage();
    RuntimeDir dir = new RuntimeDir(tmp.resolve("run"));
    try (Daemon d = Daemon.start(dir)) {
      RawControl c = new RawControl(dir).send(request(img));
      await("the daemon derives", () -> deriving().isPresent());
      c.close();
      await("the derivation has stopped", () -> deriving().isEmpty());
      await("the connection has ended", () -> d.connectionCount() == 0);
      assertThat(d.deviceMapper().list()).isEmpty();
      try (RawControl again = new RawControl(dir)) {
        assertThat(again.send("ls\n").answer()).isEqualTo("OK\nNo devices found\n.\n");
      }
    }
  }

  @Test
  void aDaemonThatStopsStopsTheKeyDerivation() throws Exception {
    Path img = hostileImage();
    RuntimeDir dir = new RuntimeDir(tmp.resolve("run"));
    Daemon d = Daemon.start(dir);
    try (RawControl c = new RawControl(dir).send(request(img))) {
      await("the daemon derives", () -> deriving().isPresent());
      d.close();
      await("the derivation has stopped", () -> deriving().isEmpty());
      assertThat(c.closedByDaemon()).isTrue();
    }
  }
}
