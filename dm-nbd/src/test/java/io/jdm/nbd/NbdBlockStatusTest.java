package io.jdm.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MemoryBlockDevice;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code NBD_CMD_BLOCK_STATUS} with the {@code base:allocation} context, byte by byte and through
 * the real tools: {@code nbdinfo --map}, {@code qemu-img map}, and sparse copies with {@code
 * nbdcopy} and {@code qemu-img convert}. The export is a sparse {@link MemoryBlockDevice} (64 KiB
 * chunks) written at known places, directly ({@code mem}) and through a mapped device of two linear
 * lines ({@code vol}: the second half of {@code mem}, then its first half).
 */
@Timeout(120)
class NbdBlockStatusTest {
  private static final int MIB = 1 << 20;
  private static final int CHUNK = 64 << 10;

  private Path dir;
  private DeviceMapper dm;
  private MemoryBlockDevice mem;
  private NbdServer server;
  private Path socket;

  @BeforeEach
  void start() throws Exception {
    dir = Tools.tempDir();
    dm = DeviceMapper.create();
    mem = MemoryBlockDevice.create("mem", 8 * MIB / 512);
    // data at [0, 64K), [1M, 1M+128K), [6M, 6M+64K); everything else never written
    write(0, CHUNK, 0x11);
    write(MIB, 2 * CHUNK, 0x22);
    write(6 * MIB, CHUNK, 0x33);
    dm.registerDevice("mem", mem);
    dm.create("vol", "0 8192 linear mem 8192\n8192 8192 linear mem 0");
    server = NbdServer.create(NbdExports.of(name -> name.equals("mem") ? mem : dmDevice(name)));
    socket = dir.resolve("s");
    server.listen(UnixDomainSocketAddress.of(socket));
  }

  private io.jdm.core.BlockDevice dmDevice(String name) {
    return dm.find(name).map(md -> (io.jdm.core.BlockDevice) md).orElse(null);
  }

  @AfterEach
  void stop() throws Exception {
    try {
      server.close();
      dm.close();
      mem.close();
    } finally {
      Tools.deleteTree(dir);
    }
  }

  private void write(long offset, int length, int value) throws Exception {
    byte[] b = new byte[length];
    Arrays.fill(b, (byte) value);
    mem.write(ByteBuffer.wrap(b), offset);
  }

  private String uri(String export) {
    return "nbd+unix:///" + export + "?socket=" + socket;
  }

  /** The expected map of {@code mem}: offset, length, hole? */
  private static final long[][] MEM_MAP = {
    {0, CHUNK, 0},
    {CHUNK, MIB - CHUNK, 1},
    {MIB, 2 * CHUNK, 0},
    {MIB + 2 * CHUNK, 5 * MIB - 2 * CHUNK, 1},
    {6 * MIB, CHUNK, 0},
    {6 * MIB + CHUNK, 2 * MIB - CHUNK, 1},
  };

  private static byte[] metaData(String export, String... queries) {
    byte[] n = export.getBytes(StandardCharsets.UTF_8);
    int len = 8 + n.length;
    for (String q : queries) {
      len += 4 + q.getBytes(StandardCharsets.UTF_8).length;
    }
    ByteBuffer b = ByteBuffer.allocate(len);
    b.putInt(n.length).put(n).putInt(queries.length);
    for (String q : queries) {
      byte[] qb = q.getBytes(StandardCharsets.UTF_8);
      b.putInt(qb.length).put(qb);
    }
    return b.array();
  }

  /** Descriptors of a block status reply: {length, flags} pairs. */
  private static List<long[]> descriptors(RawNbdClient.Reply r) {
    assertThat(r.type()).as("reply type (error %s: %s)", r.error(), r.message()).isEqualTo(5);
    ByteBuffer p = ByteBuffer.wrap(r.data());
    assertThat(p.getInt()).as("context id").isEqualTo(NbdServerConnection.BASE_ALLOCATION_ID);
    List<long[]> d = new ArrayList<>();
    while (p.hasRemaining()) {
      d.add(new long[] {p.getInt() & 0xffffffffL, p.getInt()});
    }
    return d;
  }

  @Test
  void rawProtocol() throws Exception {
    try (RawNbdClient c = new RawNbdClient(UnixDomainSocketAddress.of(socket))) {
      c.hello(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
      // before structured replies: refused
      c.option(Nbd.OPT_SET_META_CONTEXT, metaData("mem", Nbd.BASE_ALLOCATION));
      assertThat(c.optReply().type()).isEqualTo(Nbd.REP_ERR_INVALID);
      c.option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]);
      assertThat(c.optReply().type()).isEqualTo(Nbd.REP_ACK);
      // LIST with no query lists everything; with "base:" the base namespace; unknown: nothing
      for (String[] q : new String[][] {{}, {"base:"}, {"qemu:dirty-bitmap:x"}}) {
        c.option(Nbd.OPT_LIST_META_CONTEXT, metaData("mem", q));
        RawNbdClient.OptReply r = c.optReply();
        if (q.length == 1 && q[0].startsWith("qemu")) {
          assertThat(r.type()).isEqualTo(Nbd.REP_ACK);
          continue;
        }
        assertThat(r.type()).isEqualTo(Nbd.REP_META_CONTEXT);
        assertThat(new String(r.data(), 4, r.data().length - 4, StandardCharsets.UTF_8))
            .isEqualTo(Nbd.BASE_ALLOCATION);
        assertThat(c.optReply().type()).isEqualTo(Nbd.REP_ACK);
      }
      c.option(Nbd.OPT_SET_META_CONTEXT, metaData("nosuch", Nbd.BASE_ALLOCATION));
      assertThat(c.optReply().type()).isEqualTo(Nbd.REP_ERR_UNKNOWN);
      c.option(Nbd.OPT_SET_META_CONTEXT, new byte[] {0, 0, 0, 9});
      assertThat(c.optReply().type()).isEqualTo(Nbd.REP_ERR_INVALID);
      c.option(Nbd.OPT_SET_META_CONTEXT, metaData("mem", Nbd.BASE_ALLOCATION));
      RawNbdClient.OptReply set = c.optReply();
      assertThat(set.type()).isEqualTo(Nbd.REP_META_CONTEXT);
      assertThat(ByteBuffer.wrap(set.data()).getInt())
          .isEqualTo(NbdServerConnection.BASE_ALLOCATION_ID);
      assertThat(c.optReply().type()).isEqualTo(Nbd.REP_ACK);
      c.option(Nbd.OPT_GO, RawNbdClient.goData("mem", Nbd.INFO_BLOCK_SIZE));
      RawNbdClient.OptReply r;
      while ((r = c.optReply()).type() == Nbd.REP_INFO) {
        // export info and block sizes
      }
      assertThat(r.type()).isEqualTo(Nbd.REP_ACK);

      // the whole export
      c.request(0, Nbd.CMD_BLOCK_STATUS, 1, 0, 8 * MIB, null);
      List<long[]> d = descriptors(c.chunk());
      assertThat(d).hasSize(MEM_MAP.length);
      for (int i = 0; i < MEM_MAP.length; i++) {
        assertThat(d.get(i)[0]).as("descriptor %s length", i).isEqualTo(MEM_MAP[i][1]);
        assertThat(d.get(i)[1]).as("descriptor %s flags", i).isEqualTo(MEM_MAP[i][2] * 3);
      }
      // an unaligned range inside the first hole, clipped to the request
      c.request(0, Nbd.CMD_BLOCK_STATUS, 2, CHUNK + 100, 1000, null);
      d = descriptors(c.chunk());
      assertThat(d).hasSize(1);
      assertThat(d.get(0)).containsExactly(1000, 3);
      // REQ_ONE: one descriptor, from the offset to the end of its extent
      c.request(Nbd.CMD_FLAG_REQ_ONE, Nbd.CMD_BLOCK_STATUS, 3, MIB + 4096, 4 * MIB, null);
      d = descriptors(c.chunk());
      assertThat(d).hasSize(1);
      assertThat(d.get(0)).containsExactly(2 * CHUNK - 4096, 0);
      // beyond the end, and a length of 0: EINVAL
      c.request(0, Nbd.CMD_BLOCK_STATUS, 4, 8 * MIB - 512, 1024, null);
      assertThat(c.chunk().error()).isEqualTo(Nbd.EINVAL);
      c.request(0, Nbd.CMD_BLOCK_STATUS, 5, 0, 0, null);
      assertThat(c.chunk().error()).isEqualTo(Nbd.EINVAL);
      // a discard makes a hole
      c.request(0, Nbd.CMD_TRIM, 6, 0, CHUNK, null);
      assertThat(c.chunk().error()).isZero();
      c.request(Nbd.CMD_FLAG_REQ_ONE, Nbd.CMD_BLOCK_STATUS, 7, 0, 8 * MIB, null);
      d = descriptors(c.chunk());
      assertThat(d.get(0)).containsExactly(MIB, 3);
    }
  }

  @Test
  void withoutAContextBlockStatusIsEinval() throws Exception {
    try (RawNbdClient c = new RawNbdClient(UnixDomainSocketAddress.of(socket))) {
      c.hello(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
      // selected for another export than the one opened: not in effect
      c.option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]);
      assertThat(c.optReply().type()).isEqualTo(Nbd.REP_ACK);
      c.option(Nbd.OPT_SET_META_CONTEXT, metaData("vol", Nbd.BASE_ALLOCATION));
      assertThat(c.optReply().type()).isEqualTo(Nbd.REP_META_CONTEXT);
      assertThat(c.optReply().type()).isEqualTo(Nbd.REP_ACK);
      c.go("mem", false);
      c.request(0, Nbd.CMD_BLOCK_STATUS, 1, 0, 4096, null);
      RawNbdClient.Reply r = c.chunk();
      assertThat(r.error()).isEqualTo(Nbd.EINVAL);
      assertThat(r.message()).contains("no metadata context");
    }
  }

  @Test
  void nbdinfoMapShowsTheHoles() throws Exception {
    Tools.require("nbdinfo", "libnbd-bin");
    String out = Tools.ok("nbdinfo", "--map", "--json", uri("mem"));
    String expected = jsonMap(MEM_MAP);
    assertThat(out.replaceAll("\\s", "")).contains(expected);
    // through the mapped device: its two linear lines swap the halves
    out = Tools.ok("nbdinfo", "--map", uri("vol"));
    assertThat(out.trim().replaceAll("(?m)^[ \\t]+", "").replaceAll("[ \\t]+", " "))
        .isEqualTo(
            String.join(
                "\n",
                "0 2097152 3 hole,zero",
                "2097152 65536 0 data",
                "2162688 2031616 3 hole,zero",
                "4194304 65536 0 data",
                "4259840 983040 3 hole,zero",
                "5242880 131072 0 data",
                "5373952 3014656 3 hole,zero"));
  }

  private static String jsonMap(long[][] map) {
    StringBuilder b = new StringBuilder();
    for (long[] e : map) {
      b.append(b.length() == 0 ? "" : ",")
          .append("{\"offset\":")
          .append(e[0])
          .append(",\"length\":")
          .append(e[1])
          .append(",\"type\":")
          .append(e[2] * 3)
          .append(",\"description\":\"")
          .append(e[2] == 0 ? "data" : "hole,zero")
          .append("\"}");
    }
    return b.toString();
  }

  @Test
  void qemuImgMapAgrees() throws Exception {
    Tools.require("qemu-img", "qemu-utils");
    String out = Tools.ok("qemu-img", "map", "--output=json", "--image-opts", qemuOpts("mem"));
    String flat = out.replaceAll("\\s", "");
    for (long[] e : MEM_MAP) {
      assertThat(flat)
          .as("qemu-img map: %s", out)
          .contains(
              "\"start\":"
                  + e[0]
                  + ",\"length\":"
                  + e[1]
                  + ",\"depth\":0,\"present\":true,\"zero\":"
                  + (e[2] == 1)
                  + ",\"data\":"
                  + (e[2] == 0));
    }
  }

  private String qemuOpts(String export) {
    return "driver=nbd,server.type=unix,server.path=" + socket + ",export=" + export;
  }

  @Test
  void sparseCopiesWithNbdcopyAndQemuImgConvert() throws Exception {
    Tools.require("nbdcopy", "libnbd-bin");
    Tools.require("qemu-img", "qemu-utils");
    Path a = dir.resolve("nbdcopy.img");
    Path b = dir.resolve("convert.img");
    Tools.ok("nbdcopy", uri("mem"), a.toString());
    Tools.ok("qemu-img", "convert", "-O", "raw", "--image-opts", qemuOpts("mem"), b.toString());
    byte[] want = new byte[8 * MIB];
    ByteBuffer w = ByteBuffer.wrap(want);
    mem.read(w, 0);
    for (Path p : List.of(a, b)) {
      assertThat(Files.readAllBytes(p)).as("content of %s", p).isEqualTo(want);
      long allocated = allocatedBytes(p);
      // 256 KiB of data in an 8 MiB image; allow for the file system's granularity
      assertThat(allocated).as("%s allocated bytes", p).isLessThanOrEqualTo(MIB);
    }
  }

  /** What {@code stat} says the file occupies on disk. */
  static long allocatedBytes(Path p) throws Exception {
    String out = Tools.ok("stat", "-c", "%b %B", p.toString()).trim();
    String[] f = out.split(" ");
    return Long.parseLong(f[0]) * Long.parseLong(f[1]);
  }
}
