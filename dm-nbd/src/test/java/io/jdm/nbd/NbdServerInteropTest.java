package io.jdm.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * jdm's {@link NbdServer} serving mapped devices to the real tools: qemu-io, nbdinfo, nbdcopy and
 * fio's {@code nbd} engine, each over a Unix socket, checked byte for byte on the jdm side.
 */
class NbdServerInteropTest {
  private static final int MIB = 1 << 20;

  private Path dir;
  private DeviceMapper dm;
  private MemoryBlockDevice a;
  private MemoryBlockDevice b;
  private NbdServer server;
  private Path socket;

  @BeforeEach
  void start() throws Exception {
    dir = Tools.tempDir();
    dm = DeviceMapper.create();
    a = MemoryBlockDevice.builder("a", 8192).writeCache(true).build();
    b = MemoryBlockDevice.builder("b", 8192).writeCache(true).build();
    dm.registerDevice("a", a);
    dm.registerDevice("b", b);
    server = NbdServer.create(dm);
    socket = dir.resolve("nbd.sock");
    server.listen(UnixDomainSocketAddress.of(socket));
  }

  @AfterEach
  void stop() throws Exception {
    try {
      server.close();
      dm.close();
      a.close();
      b.close();
    } finally {
      Tools.deleteTree(dir);
    }
  }

  private String uri(String export) {
    return "nbd+unix:///" + export + "?socket=" + socket;
  }

  private static byte[] read(MemoryBlockDevice d, long offset, int length) throws Exception {
    ByteBuffer buf = ByteBuffer.allocate(length);
    d.read(buf, offset);
    return buf.array();
  }

  private static byte[] filled(int length, int value) {
    byte[] b = new byte[length];
    Arrays.fill(b, (byte) value);
    return b;
  }

  @Test
  void qemuIoWritesAndReadsPatternsAcrossATargetBoundary() throws Exception {
    Tools.require("qemu-io", "qemu-utils");
    // two linear segments of 1 MiB each: the boundary is at byte 1 MiB of "vol"
    dm.create("vol", "0 2048 linear a 2048\n2048 2048 linear b 0");
    String out =
        Tools.ok(
            "qemu-io",
            "-f",
            "raw",
            uri("vol"),
            "-c",
            "write -P 0xab 960k 128k",
            "-c",
            "read -P 0xab 960k 128k",
            "-c",
            "write -f -P 0x5c 0 4k",
            "-c",
            "read -P 0x5c 0 4k",
            "-c",
            "write -z 1536k 64k",
            "-c",
            "read -P 0 1536k 64k",
            "-c",
            "flush",
            "-c",
            "read -P 0 1088k 64k");
    assertThat(out).doesNotContain("failed").contains("wrote 131072/131072 bytes at offset 983040");
    // the write landed on both legs, each at its mapped place
    assertThat(read(a, 2048 * 512 + 960 * 1024, 64 * 1024)).isEqualTo(filled(64 * 1024, 0xab));
    assertThat(read(b, 0, 64 * 1024)).isEqualTo(filled(64 * 1024, 0xab));
    assertThat(read(a, 2048 * 512, 4096)).isEqualTo(filled(4096, 0x5c));
    assertThat(read(b, 64 * 1024, 4096)).isEqualTo(new byte[4096]);
  }

  @Test
  void qemuIoSeesWhatJdmWroteAndDiscards() throws Exception {
    Tools.require("qemu-io", "qemu-utils");
    MappedDevice vol = dm.create("vol", "0 4096 linear a 0");
    vol.write(ByteBuffer.wrap(filled(8192, 0x11)), 4096);
    String out =
        Tools.ok(
            "qemu-io",
            "-f",
            "raw",
            uri("vol"),
            "-c",
            "read -P 0x11 4k 8k",
            "-c",
            "discard 4k 4k",
            "-c",
            "read -P 0 4k 4k",
            "-c",
            "read -P 0x11 8k 4k");
    assertThat(out).doesNotContain("failed");
  }

  @Test
  void nbdinfoShowsSizeBlockSizesAndExports() throws Exception {
    Tools.require("nbdinfo", "libnbd-bin");
    dm.create("vol", "0 4096 linear a 0");
    MemoryBlockDevice big = MemoryBlockDevice.builder("c", 2048).logicalBlockSize(4096).build();
    dm.registerDevice("c", big);
    dm.create("ro4k", null, io.jdm.core.TableSpec.parse("0 2048 linear c 0"), true);
    String info = Tools.ok("nbdinfo", uri("vol"));
    assertThat(info)
        .contains("export-size: 2097152")
        .contains("block_size_minimum: 512")
        .contains("block_size_maximum: 33554432")
        .contains("is_read_only: false")
        .contains("can_flush: true")
        .contains("can_fua: true")
        .contains("can_trim: true")
        .contains("can_zero: true")
        .contains("can_multi_conn: true")
        .contains("using structured packets");
    String ro = Tools.ok("nbdinfo", uri("ro4k"));
    assertThat(ro)
        .contains("export-size: 1048576")
        .contains("block_size_minimum: 4096")
        .contains("is_read_only: true")
        .contains("can_trim: false");
    assertThat(Tools.ok("nbdinfo", "--size", uri("vol")).trim()).isEqualTo("2097152");
    String list = Tools.ok("nbdinfo", "--list", "nbd+unix://?socket=" + socket);
    assertThat(list).contains("export=\"vol\"").contains("export=\"ro4k\"");
    Tools.Result missing = Tools.run("nbdinfo", uri("nosuch"));
    assertThat(missing.exit()).isNotZero();
    assertThat(missing.output()).contains("nosuch");
    big.close();
  }

  @Test
  void nbdcopyRoundTripThroughAFile() throws Exception {
    Tools.require("nbdcopy", "libnbd-bin");
    MappedDevice src = dm.create("src", "0 4096 linear a 0");
    dm.create("dst", "0 4096 linear b 0");
    byte[] data = new byte[2 * MIB];
    new Random(42).nextBytes(data);
    Arrays.fill(data, MIB, MIB + 256 * 1024, (byte) 0); // a zero run, which nbdcopy may skip
    src.write(ByteBuffer.wrap(data), 0);
    Path file = dir.resolve("copy.img");
    Tools.ok("nbdcopy", uri("src"), file.toString());
    assertThat(Files.readAllBytes(file)).isEqualTo(data);
    b.write(ByteBuffer.wrap(filled(2 * MIB, 0x77)), 0); // nbdcopy must overwrite (or zero) it all
    Tools.ok("nbdcopy", file.toString(), uri("dst"));
    assertThat(read(b, 0, 2 * MIB)).isEqualTo(data);
    // and straight from one jdm export to another, with several connections
    b.write(ByteBuffer.wrap(filled(2 * MIB, 0x33)), 0);
    Tools.ok("nbdcopy", "--connections=2", uri("src"), uri("dst"));
    assertThat(read(b, 0, 2 * MIB)).isEqualTo(data);
  }

  @Test
  void fioVerifiesRandomWritesOnAStripedDevice() throws Exception {
    Tools.require("fio", "fio");
    dm.create("stripe", "0 16384 striped 2 16 a 0 b 0");
    String out =
        Tools.ok(
            "fio",
            "--name=verify",
            "--ioengine=nbd",
            "--uri=" + uri("stripe"),
            "--rw=randwrite",
            "--bs=4k",
            "--bsrange=4k-64k",
            "--size=8m",
            "--iodepth=16",
            "--verify=crc32c",
            "--verify_fatal=1",
            "--do_verify=1",
            "--randseed=7");
    assertThat(out).contains("Run status group 0").doesNotContain("verify: bad");
    // both legs got data
    assertThat(a.allocatedBytes()).isPositive();
    assertThat(b.allocatedBytes()).isPositive();
  }
}
