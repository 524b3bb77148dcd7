package io.jdm.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.MemoryBlockDevice;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The default export, oversized requests, and clients that do not ask for block sizes: on the wire
 * and with {@code nbdinfo} and {@code qemu-io}.
 *
 * <p>Block sizes: an export whose minimum block is 512 bytes serves every client (proto.md tells
 * clients that did not negotiate to keep to multiples of 512 for interoperability; smaller requests
 * are answered {@code NBD_EINVAL}). An export with a larger minimum block answers {@code
 * NBD_OPT_GO} and {@code NBD_OPT_INFO} without {@code NBD_INFO_BLOCK_SIZE} with {@code
 * NBD_REP_ERR_BLOCK_SIZE_REQD} instead of serving requests it would refuse; clients that ask (qemu,
 * libnbd) read-modify-write themselves.
 */
@Timeout(60)
class NbdServerNegotiationTest {
  private static final int MIB = 1 << 20;

  private Path dir;
  private MemoryBlockDevice big;
  private MemoryBlockDevice disk4k;
  private NbdServer server;
  private SocketAddress address;
  private Path socket;

  @BeforeEach
  void start() throws Exception {
    dir = Tools.tempDir();
    big = MemoryBlockDevice.create("big", 64 * MIB / 512); // sparse: costs nothing
    disk4k = MemoryBlockDevice.builder("disk4k", 2048).logicalBlockSize(4096).build();
    Map<String, io.jdm.core.BlockDevice> m = new LinkedHashMap<>();
    m.put("big", big);
    m.put("disk4k", disk4k);
    server = NbdServer.create(NbdExports.withDefault(NbdExports.of(m), "big"));
    socket = dir.resolve("s");
    address = server.listen(UnixDomainSocketAddress.of(socket));
  }

  @AfterEach
  void stop() throws Exception {
    try {
      server.close();
    } finally {
      Tools.deleteTree(dir);
    }
  }

  private RawNbdClient client() throws Exception {
    RawNbdClient c = new RawNbdClient(address);
    c.hello(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
    return c;
  }

  /** The reply type that ends an NBD_OPT_GO/INFO, after any NBD_REP_INFO. */
  private static int finalReply(RawNbdClient c) throws Exception {
    RawNbdClient.OptReply r;
    while ((r = c.optReply()).type() == Nbd.REP_INFO) {
      // export size, block sizes
    }
    return r.type();
  }

  @Test
  void theEmptyNameIsTheDefaultExport() throws Exception {
    try (RawNbdClient c = client()) {
      c.option(Nbd.OPT_INFO, RawNbdClient.goData("", Nbd.INFO_BLOCK_SIZE));
      RawNbdClient.OptReply r = c.optReply();
      assertThat(r.type()).isEqualTo(Nbd.REP_INFO);
      ByteBuffer d = ByteBuffer.wrap(r.data());
      assertThat(d.getShort()).isEqualTo((short) Nbd.INFO_EXPORT);
      assertThat(d.getLong()).isEqualTo(64L * MIB);
      assertThat(finalReply(c)).isEqualTo(Nbd.REP_ACK);
    }
    Tools.require("nbdinfo", "libnbd-bin");
    assertThat(Tools.ok("nbdinfo", "--size", "nbd+unix:///?socket=" + socket).trim())
        .isEqualTo(String.valueOf(64L * MIB));
  }

  @Test
  void oversizedReadsAreEinvalUnlessDfAndOversizedWritesEinval() throws Exception {
    int over = 32 * MIB + 4096;
    try (RawNbdClient c = client()) {
      c.go("big", true);
      c.request(0, Nbd.CMD_READ, 1, 0, over, null);
      RawNbdClient.Reply r = c.chunk();
      assertThat(r.error()).isEqualTo(Nbd.EINVAL);
      assertThat(r.message()).contains("longer than the maximum payload");
      c.request(Nbd.CMD_FLAG_DF, Nbd.CMD_READ, 2, 0, over, null);
      assertThat(c.chunk().error()).isEqualTo(Nbd.EOVERFLOW);
      c.request(0, Nbd.CMD_WRITE, 3, 0, over, new byte[over]);
      r = c.chunk();
      assertThat(r.error()).isEqualTo(Nbd.EINVAL);
      assertThat(r.cookie()).isEqualTo(3);
      c.request(0, Nbd.CMD_READ, 4, 0, 4096, null); // still in step
      assertThat(c.chunk().type()).isEqualTo(Nbd.REPLY_TYPE_OFFSET_DATA);
    }
    assertThat(big.allocatedBytes()).as("the refused write wrote nothing").isZero();
    try (RawNbdClient c = client()) {
      c.go("big", false); // simple replies: EINVAL as well
      c.request(0, Nbd.CMD_READ, 1, 0, over, null);
      assertThat(c.simpleReply(0).error()).isEqualTo(Nbd.EINVAL);
    }
  }

  @Test
  void blockSizesAreRequiredOnlyAbove512Bytes() throws Exception {
    try (RawNbdClient c = client()) {
      for (int option : new int[] {Nbd.OPT_INFO, Nbd.OPT_GO}) {
        c.option(option, RawNbdClient.goData("disk4k"));
        RawNbdClient.OptReply r;
        while ((r = c.optReply()).type() == Nbd.REP_INFO) {
          // sent before the verdict
        }
        assertThat(r.type()).isEqualTo(Nbd.REP_ERR_BLOCK_SIZE_REQD);
        assertThat(new String(r.data(), java.nio.charset.StandardCharsets.UTF_8))
            .contains("minimum block size of 4096");
      }
      c.option(Nbd.OPT_GO, RawNbdClient.goData("big")); // 512-byte blocks: served
      assertThat(finalReply(c)).isEqualTo(Nbd.REP_ACK);
      c.request(0, Nbd.CMD_READ, 1, 100, 512, null);
      assertThat(c.simpleReply(0).error()).as("not a multiple of 512").isEqualTo(Nbd.EINVAL);
      c.request(0, Nbd.CMD_READ, 2, 512, 512, null);
      assertThat(c.simpleReply(512).error()).isZero();
    }
    try (RawNbdClient c = client()) {
      c.option(Nbd.OPT_GO, RawNbdClient.goData("disk4k", Nbd.INFO_BLOCK_SIZE));
      assertThat(finalReply(c)).isEqualTo(Nbd.REP_ACK);
    }
  }

  @Test
  void qemuIoWritesUnalignedBytesOnA4kExport() throws Exception {
    Tools.require("qemu-io", "qemu-utils");
    String uri = "nbd+unix:///disk4k?socket=" + socket;
    Tools.ok("qemu-io", "-f", "raw", "-c", "write -P 0x5a 1000 3000", uri);
    ByteBuffer b = ByteBuffer.allocate(8192);
    disk4k.read(b, 0);
    for (int i = 0; i < 8192; i++) {
      assertThat(b.get(i)).as("byte %s", i).isEqualTo((byte) (i >= 1000 && i < 4000 ? 0x5a : 0));
    }
    String out = Tools.ok("qemu-io", "-f", "raw", "-c", "read -P 0x5a 1000 3000", uri);
    assertThat(out).contains("read 3000/3000 bytes");
  }
}
