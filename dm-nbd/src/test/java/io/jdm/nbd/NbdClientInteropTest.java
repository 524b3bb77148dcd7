package io.jdm.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * jdm's {@link NbdBlockDevice} against real servers: {@code qemu-nbd} exporting a raw file and
 * {@code nbdkit memory}, and a striped table whose two legs are two nbdkit servers, named by {@code
 * nbd+unix://} URIs through {@link NbdDeviceResolver}.
 */
class NbdClientInteropTest {
  private static final int MIB = 1 << 20;

  private Path dir;
  private final List<AutoCloseable> daemons = new ArrayList<>();

  @BeforeEach
  void makeDir() throws Exception {
    dir = Tools.tempDir();
  }

  @AfterEach
  void stop() throws Exception {
    try {
      for (AutoCloseable d : daemons) {
        d.close();
      }
    } finally {
      Tools.deleteTree(dir);
    }
  }

  private Path nbdkitMemory(String name, String size) throws Exception {
    Tools.require("nbdkit", "nbdkit");
    Path sock = dir.resolve(name + ".sock");
    daemons.add(Tools.Nbdkit.start(sock, "memory", size));
    return sock;
  }

  private static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  private static byte[] read(io.jdm.core.BlockDevice d, long offset, int length) throws Exception {
    ByteBuffer buf = ByteBuffer.allocate(length);
    d.read(buf, offset);
    return buf.array();
  }

  @Test
  void clientReadsAndWritesAQemuNbdExport() throws Exception {
    Tools.require("qemu-nbd", "qemu-utils");
    Path file = dir.resolve("disk.img");
    byte[] initial = random(4 * MIB, 1);
    Files.write(file, initial);
    Path sock = dir.resolve("q.sock");
    Path pid = dir.resolve("q.pid");
    daemons.add(
        Tools.Daemon.start(
            pid,
            "qemu-nbd",
            "--fork",
            "--pid-file=" + pid,
            "-k",
            sock.toString(),
            "-f",
            "raw",
            "-x",
            "disk",
            "--cache=writeback",
            file.toString()));
    byte[] expect = initial.clone();
    try (NbdBlockDevice d = NbdBlockDevice.open("nbd+unix:///disk?socket=" + sock)) {
      assertThat(d.size()).isEqualTo(4 * MIB);
      assertThat(d.limits().writeCache()).isTrue();
      assertThat(read(d, 0, 4 * MIB)).isEqualTo(initial);
      // pipelined writes of many sizes, some FUA, some with a pre-flush
      Random rnd = new Random(2);
      for (int i = 0; i < 200; i++) {
        int len = (1 + rnd.nextInt(32)) * 512;
        long off = (long) rnd.nextInt((4 * MIB - len) / 512) * 512;
        byte[] data = random(len, i);
        int flags = i % 10 == 0 ? Bio.FUA : i % 10 == 1 ? Bio.PREFLUSH : 0;
        CompletableFuture<BlockStatus> f = new CompletableFuture<>();
        // sequential dependency: overlapping writes in flight land in unspecified order, so wait
        d.submit(
            Bio.write(off / 512, ByteBuffer.wrap(data), flags, bio -> f.complete(bio.status())));
        assertThat(f.get(30, TimeUnit.SECONDS)).isEqualTo(BlockStatus.OK);
        System.arraycopy(data, 0, expect, (int) off, len);
      }
      d.writeZeroes(MIB, 64 * 1024);
      Arrays.fill(expect, MIB, MIB + 64 * 1024, (byte) 0);
      d.flush();
      assertThat(read(d, 0, 4 * MIB)).isEqualTo(expect);
    }
    // flushed through qemu-nbd into the file
    assertThat(Files.readAllBytes(file)).isEqualTo(expect);
  }

  @Test
  void clientAgainstNbdkitMemory() throws Exception {
    Path sock = nbdkitMemory("m", "64M");
    try (NbdBlockDevice d = NbdBlockDevice.open("nbd+unix:///?socket=" + sock)) {
      assertThat(d.size()).isEqualTo(64L * MIB);
      assertThat(d.limits().supportsDiscard()).isTrue();
      assertThat(d.limits().supportsWriteZeroes()).isTrue();
      assertThat(d.canMultiConn()).isTrue();
      // many bios in flight at once, over disjoint blocks
      int n = 256;
      List<CompletableFuture<BlockStatus>> fs = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        CompletableFuture<BlockStatus> f = new CompletableFuture<>();
        fs.add(f);
        d.submit(
            Bio.write(
                (long) i * 128,
                ByteBuffer.wrap(random(64 * 1024, i)),
                bio -> f.complete(bio.status())));
      }
      for (CompletableFuture<BlockStatus> f : fs) {
        assertThat(f.get(30, TimeUnit.SECONDS)).isEqualTo(BlockStatus.OK);
      }
      for (int i = 0; i < n; i += 17) {
        assertThat(read(d, (long) i * 128 * 512, 64 * 1024)).isEqualTo(random(64 * 1024, i));
      }
      // 40 MiB in one bio: split into requests of the server's maximum payload
      byte[] big = random(40 * MIB, 99);
      d.write(ByteBuffer.wrap(big), 8L * MIB);
      assertThat(read(d, 8L * MIB, 40 * MIB)).isEqualTo(big);
      d.discard(8L * MIB, MIB);
      d.writeZeroes(9L * MIB, MIB);
      assertThat(read(d, 9L * MIB, MIB)).isEqualTo(new byte[MIB]);
      d.flush();
    }
  }

  @Test
  void stripedTableOverTwoNbdkitServers() throws Exception {
    Path s1 = nbdkitMemory("leg1", "8M");
    Path s2 = nbdkitMemory("leg2", "8M");
    try (DeviceMapper dm = NbdDeviceResolver.install(DeviceMapper.create())) {
      String leg1 = "nbd+unix:///?socket=" + s1;
      String leg2 = "nbd+unix:///?socket=" + s2;
      MappedDevice st = dm.create("wide", "0 32768 striped 2 128 " + leg1 + " 0 " + leg2 + " 0");
      // the table shows the legs as the kernel would: by NBD device number
      assertThat(st.table()).isEqualTo("0 32768 striped 2 128 43:0 0 43:1 0\n");
      byte[] data = random(16 * MIB, 5);
      st.write(ByteBuffer.wrap(data), 0);
      st.flush();
      assertThat(read(st, 0, 16 * MIB)).isEqualTo(data);
      // each leg holds every other 64 KiB chunk
      try (NbdBlockDevice l1 = NbdBlockDevice.open(leg1);
          NbdBlockDevice l2 = NbdBlockDevice.open(leg2)) {
        int chunk = 64 * 1024;
        assertThat(read(l1, 0, chunk)).isEqualTo(Arrays.copyOfRange(data, 0, chunk));
        assertThat(read(l2, 0, chunk)).isEqualTo(Arrays.copyOfRange(data, chunk, 2 * chunk));
        assertThat(read(l1, chunk, chunk))
            .isEqualTo(Arrays.copyOfRange(data, 2 * chunk, 3 * chunk));
      }
      // and jdm's server exports the striped device on to another tool
      try (NbdServer server = NbdServer.create(dm)) {
        Path sock = dir.resolve("jdm.sock");
        server.listen(UnixDomainSocketAddress.of(sock));
        try (NbdBlockDevice viaJdm = NbdBlockDevice.open("nbd+unix:///wide?socket=" + sock)) {
          assertThat(read(viaJdm, 3 * MIB, MIB))
              .isEqualTo(Arrays.copyOfRange(data, 3 * MIB, 4 * MIB));
        }
      }
      dm.remove("wide");
    }
  }

  @Test
  void badUrisAndRefusedExportsAreClearErrors() throws Exception {
    Path sock = nbdkitMemory("m", "1M");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> NbdBlockDevice.open("nbd+unix:///?socket=" + dir.resolve("nothing")))
        .isInstanceOf(java.io.IOException.class)
        .hasMessageContaining("cannot connect");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> NbdBlockDevice.open("nbds://host/x?tls-type=psk"))
        .hasMessageContaining("TLS-PSK");
    try (DeviceMapper dm = NbdDeviceResolver.install(DeviceMapper.create())) {
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> dm.create("x", "0 8 linear nbd+unix:///?sockt=" + sock + " 0"))
          .hasMessageContaining("unknown query parameter 'sockt'");
    }
  }
}
