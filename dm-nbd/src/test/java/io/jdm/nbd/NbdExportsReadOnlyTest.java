package io.jdm.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MemoryBlockDevice;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link NbdExports#readOnly}: mapped devices that are writable, served read-only by name, with the
 * set of names changed while the server runs. Checked with nbdinfo, qemu-io and, for what a client
 * that ignores the read-only flag gets, {@link RawNbdClient}.
 */
@Timeout(60)
class NbdExportsReadOnlyTest {
  private Path dir;
  private DeviceMapper dm;
  private MemoryBlockDevice mem;
  private final Set<String> readOnly = ConcurrentHashMap.newKeySet();
  private NbdServer server;
  private Path socket;
  private SocketAddress address;

  @BeforeEach
  void start() throws Exception {
    dir = Tools.tempDir();
    dm = DeviceMapper.create();
    mem = MemoryBlockDevice.builder("mem", 8192).writeCache(true).build();
    dm.registerDevice("mem", mem);
    dm.create("secret", "0 4096 linear mem 0");
    dm.create("scratch", "0 4096 linear mem 4096");
    readOnly.add("secret");
    server = NbdServer.create(NbdExports.readOnly(NbdExports.of(dm), readOnly::contains));
    socket = dir.resolve("nbd.sock");
    address = server.listen(UnixDomainSocketAddress.of(socket));
  }

  @AfterEach
  void stop() throws Exception {
    try {
      server.close();
      assertThat(server.connectionCount()).isZero();
      dm.close();
      mem.close();
    } finally {
      Tools.deleteTree(dir);
    }
  }

  private String uri(String export) {
    return "nbd+unix:///" + export + "?socket=" + socket;
  }

  private byte[] secret() throws Exception {
    ByteBuffer b = ByteBuffer.allocate(64 * 1024);
    mem.read(b, 0);
    return b.array();
  }

  @Test
  void nbdinfoShowsTheNamedExportReadOnlyAndTheOtherWritable() throws Exception {
    Tools.require("nbdinfo", "libnbd-bin");
    assertThat(Tools.ok("nbdinfo", uri("secret")))
        .contains("is_read_only: true")
        .contains("can_trim: false")
        .contains("can_zero: false");
    assertThat(Tools.ok("nbdinfo", uri("scratch"))).contains("is_read_only: false");
  }

  @Test
  void aClientThatWritesAnywayGetsEpermAndNothingIsWritten() throws Exception {
    try (RawNbdClient c = new RawNbdClient(address)) {
      c.hello(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
      int flags = c.go("secret", false);
      assertThat(flags & Nbd.FLAG_READ_ONLY).isNotZero();
      byte[] data = new byte[4096];
      Arrays.fill(data, (byte) 0x77);
      c.request(0, Nbd.CMD_WRITE, 1, 0, data.length, data);
      assertThat(c.simpleReply(0).error()).isEqualTo(Nbd.EPERM);
      c.request(0, Nbd.CMD_TRIM, 2, 0, 4096, null);
      assertThat(c.simpleReply(0).error()).isEqualTo(Nbd.EPERM);
      c.request(0, Nbd.CMD_WRITE_ZEROES, 3, 0, 4096, null);
      assertThat(c.simpleReply(0).error()).isEqualTo(Nbd.EPERM);
      c.request(0, Nbd.CMD_READ, 4, 0, 4096, null);
      assertThat(c.simpleReply(4096).error()).isZero();
      // switched to writable while this connection is open: it keeps what it was given
      readOnly.remove("secret");
      c.request(0, Nbd.CMD_WRITE, 5, 0, data.length, data);
      assertThat(c.simpleReply(0).error()).isEqualTo(Nbd.EPERM);
    }
    assertThat(secret()).isEqualTo(new byte[64 * 1024]);
  }

  @Test
  void qemuIoCannotWriteUntilTheNameIsSwitchedToWritable() throws Exception {
    Tools.require("qemu-io", "qemu-utils");
    Tools.Result refused = Tools.run("qemu-io", "-f", "raw", uri("secret"), "-c", "write 0 64k");
    // qemu sees NBD_FLAG_READ_ONLY and will not open the export for writing
    assertThat(refused.exit()).as(refused.output()).isNotZero();
    assertThat(refused.output()).contains("Permission denied");
    assertThat(Tools.ok("qemu-io", "-r", "-f", "raw", uri("secret"), "-c", "read -P 0 0 64k"))
        .doesNotContain("failed");
    assertThat(secret()).isEqualTo(new byte[64 * 1024]);
    readOnly.remove("secret");
    Tools.ok("qemu-io", "-f", "raw", uri("secret"), "-c", "write -P 0x3c 0 64k");
    byte[] expected = new byte[64 * 1024];
    Arrays.fill(expected, (byte) 0x3c);
    assertThat(secret()).isEqualTo(expected);
    readOnly.add("scratch");
    Tools.Result scratch = Tools.run("qemu-io", "-f", "raw", uri("scratch"), "-c", "write 0 64k");
    assertThat(scratch.exit()).as(scratch.output()).isNotZero();
  }
}
