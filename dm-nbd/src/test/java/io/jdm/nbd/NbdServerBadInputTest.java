package io.jdm.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.MemoryBlockDevice;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What the server does with peers that misbehave: garbage, wrong magics, oversized and out-of-range
 * requests, writes to a read-only export, unknown commands and flags, a disconnect in the middle of
 * a request, and a shutdown with requests in flight. After each, the server must still serve other
 * connections, and nothing must have been written that should not be.
 */
@Timeout(60)
class NbdServerBadInputTest {
  private static final int SIZE = 1 << 20;

  private Path dir;
  private MemoryBlockDevice disk;
  private MemoryBlockDevice ro;
  private MemoryBlockDevice disk4k;
  private HoldingBlockDevice holding;
  private NbdServer server;
  private SocketAddress address;

  @BeforeEach
  void start() throws Exception {
    dir = Tools.tempDir();
    disk = MemoryBlockDevice.builder("disk", SIZE / 512).writeCache(true).build();
    ro = MemoryBlockDevice.create("ro", SIZE / 512);
    disk4k = MemoryBlockDevice.builder("disk4k", SIZE / 512).logicalBlockSize(4096).build();
    holding = new HoldingBlockDevice(SIZE / 512);
    ro.write(ByteBuffer.wrap(filled(SIZE, 0x42)), 0);
    Map<String, io.jdm.core.BlockDevice> m = new LinkedHashMap<>();
    m.put("disk", disk);
    m.put("disk4k", disk4k);
    m.put("holding", holding);
    NbdExports base = NbdExports.of(m);
    NbdExports exports =
        new NbdExports() {
          @Override
          public java.util.List<String> names() {
            java.util.List<String> n = new java.util.ArrayList<>(base.names());
            n.add("ro");
            return n;
          }

          @Override
          public NbdExport open(String name) throws java.io.IOException {
            return name.equals("ro") ? NbdExport.of(ro, true) : base.open(name);
          }
        };
    server = NbdServer.builder(exports).shutdownTimeout(Duration.ofSeconds(10)).build();
    address = server.listen(UnixDomainSocketAddress.of(dir.resolve("s")));
  }

  @AfterEach
  void stop() throws Exception {
    try {
      server.close();
      assertThat(server.connectionCount()).isZero();
    } finally {
      Tools.deleteTree(dir);
    }
  }

  private static byte[] filled(int n, int v) {
    byte[] b = new byte[n];
    Arrays.fill(b, (byte) v);
    return b;
  }

  private static byte[] content(MemoryBlockDevice d) throws Exception {
    ByteBuffer b = ByteBuffer.allocate((int) d.size());
    d.read(b, 0);
    return b.array();
  }

  /** The server still works for a well-behaved client. */
  private void assertStillServing() throws Exception {
    try (NbdBlockDevice c = NbdBlockDevice.connect(address, "disk", false)) {
      byte[] data = new byte[4096];
      new Random(3).nextBytes(data);
      c.write(ByteBuffer.wrap(data), 8192);
      ByteBuffer back = ByteBuffer.allocate(4096);
      c.read(back, 8192);
      assertThat(back.array()).isEqualTo(data);
    }
  }

  @Test
  void garbageInsteadOfClientFlagsIsDisconnected() throws Exception {
    try (RawNbdClient c = new RawNbdClient(address)) {
      c.hello(0xdeadbeef); // unknown client flags: proto.md says drop the connection
      c.assertClosedByServer();
    }
    try (RawNbdClient c = new RawNbdClient(address)) {
      byte[] junk = new byte[4096];
      new Random(1).nextBytes(junk);
      c.hello(Nbd.FLAG_C_FIXED_NEWSTYLE);
      c.send(junk); // not IHAVEOPT
      c.assertClosedByServer();
    }
    assertStillServing();
  }

  @Test
  void optionHaggling() throws Exception {
    try (RawNbdClient c = new RawNbdClient(address)) {
      c.hello(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
      c.option(Nbd.OPT_LIST, new byte[0]);
      StringBuilder names = new StringBuilder();
      RawNbdClient.OptReply r;
      while ((r = c.optReply()).type() == Nbd.REP_SERVER) {
        ByteBuffer d = ByteBuffer.wrap(r.data());
        byte[] n = new byte[d.getInt()];
        d.get(n);
        names.append(new String(n, StandardCharsets.UTF_8)).append(' ');
      }
      assertThat(r.type()).isEqualTo(Nbd.REP_ACK);
      assertThat(names.toString()).isEqualTo("disk disk4k holding ro ");
      c.option(Nbd.OPT_LIST, new byte[] {1});
      assertThat(c.optReply().type()).isEqualTo(Nbd.REP_ERR_INVALID);
      c.option(Nbd.OPT_INFO, RawNbdClient.goData("nosuch"));
      RawNbdClient.OptReply unknown = c.optReply();
      assertThat(unknown.type()).isEqualTo(Nbd.REP_ERR_UNKNOWN);
      assertThat(new String(unknown.data(), StandardCharsets.UTF_8)).contains("nosuch");
      c.option(Nbd.OPT_INFO, new byte[] {0, 0, 0, 9, 'x'}); // name longer than the data
      assertThat(c.optReply().type()).isEqualTo(Nbd.REP_ERR_INVALID);
      c.option(Nbd.OPT_INFO, RawNbdClient.goData("x".repeat(4097))); // over proto.md's 4096
      RawNbdClient.OptReply tooBig = c.optReply();
      assertThat(tooBig.type()).isEqualTo(Nbd.REP_ERR_TOO_BIG);
      assertThat(new String(tooBig.data(), StandardCharsets.UTF_8)).contains("4097 bytes");
      c.option(Nbd.OPT_STARTTLS, new byte[0]);
      assertThat(c.optReply().type()).isEqualTo(Nbd.REP_ERR_UNSUP);
      c.option(12345, new byte[100]);
      assertThat(c.optReply().type()).isEqualTo(Nbd.REP_ERR_UNSUP);
      c.option(Nbd.OPT_INFO, RawNbdClient.goData("disk4k", Nbd.INFO_BLOCK_SIZE, Nbd.INFO_NAME));
      boolean sawBlockSize = false;
      while ((r = c.optReply()).type() == Nbd.REP_INFO) {
        ByteBuffer d = ByteBuffer.wrap(r.data());
        if (d.getShort() == Nbd.INFO_BLOCK_SIZE) {
          assertThat(d.getInt()).as("minimum block").isEqualTo(4096);
          assertThat(d.getInt()).as("preferred block").isEqualTo(4096);
          assertThat(d.getInt()).as("maximum payload").isEqualTo(1 << 25);
          sawBlockSize = true;
        }
      }
      assertThat(r.type()).isEqualTo(Nbd.REP_ACK);
      assertThat(sawBlockSize).isTrue();
      c.option(Nbd.OPT_ABORT, new byte[0]);
      assertThat(c.optReply().type()).isEqualTo(Nbd.REP_ACK);
      c.assertClosedByServer();
    }
    try (RawNbdClient c = new RawNbdClient(address)) {
      c.hello(Nbd.FLAG_C_FIXED_NEWSTYLE);
      c.option(Nbd.OPT_EXPORT_NAME, "nosuch".getBytes(StandardCharsets.UTF_8));
      c.assertClosedByServer(); // proto.md: the only way to refuse NBD_OPT_EXPORT_NAME
    }
    try (RawNbdClient c = new RawNbdClient(address)) {
      c.hello(Nbd.FLAG_C_FIXED_NEWSTYLE);
      c.option(Nbd.OPT_EXPORT_NAME, "d".repeat(4097).getBytes(StandardCharsets.UTF_8));
      c.assertClosedByServer();
    }
    try (RawNbdClient c = new RawNbdClient(address)) {
      c.hello(Nbd.FLAG_C_FIXED_NEWSTYLE); // no NO_ZEROES: 124 zero bytes follow
      c.option(Nbd.OPT_EXPORT_NAME, "disk".getBytes(StandardCharsets.UTF_8));
      ByteBuffer r = ByteBuffer.allocate(134);
      while (r.hasRemaining()) {
        c.ch.read(r);
      }
      assertThat(r.getLong(0)).isEqualTo(SIZE);
      assertThat(Arrays.copyOfRange(r.array(), 10, 134)).isEqualTo(new byte[124]);
      c.request(0, Nbd.CMD_READ, 1, 0, 512, null);
      assertThat(c.simpleReply(512).error()).isZero();
    }
  }

  @Test
  void wrongRequestMagicIsDisconnected() throws Exception {
    try (RawNbdClient c = new RawNbdClient(address)) {
      c.hello(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
      c.go("disk", false);
      ByteBuffer b = ByteBuffer.allocate(28).putInt(0x12560953); // the historic magic
      c.send(b.position(28).flip());
      c.assertClosedByServer();
    }
    assertStillServing();
  }

  @Test
  void requestsOutOfRangeUnalignedOrUnknownGetTheRightErrors() throws Exception {
    byte[] before = content(disk);
    try (RawNbdClient c = new RawNbdClient(address)) {
      c.hello(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
      int flags = c.go("disk", false);
      assertThat(flags & Nbd.FLAG_READ_ONLY).isZero();
      assertThat(flags & Nbd.FLAG_SEND_TRIM).isNotZero();
      assertThat(flags & Nbd.FLAG_CAN_MULTI_CONN).isNotZero();
      c.request(0, Nbd.CMD_READ, 1, SIZE, 512, null);
      assertThat(c.simpleReply(512)).extracting(r -> r.error()).isEqualTo(Nbd.EINVAL);
      c.request(0, Nbd.CMD_READ, 2, SIZE - 512, 1024, null);
      assertThat(c.simpleReply(1024).error()).isEqualTo(Nbd.EINVAL);
      c.request(0, Nbd.CMD_READ, 3, -512L, 512, null); // offset 2^64 - 512
      assertThat(c.simpleReply(512).error()).isEqualTo(Nbd.EINVAL);
      c.request(0, Nbd.CMD_WRITE, 4, SIZE - 512, 1024, filled(1024, 0xee));
      assertThat(c.simpleReply(0).error()).as("write beyond the end").isEqualTo(Nbd.ENOSPC);
      c.request(0, Nbd.CMD_WRITE_ZEROES, 5, SIZE, 512, null);
      assertThat(c.simpleReply(0).error()).isEqualTo(Nbd.ENOSPC);
      c.request(0, Nbd.CMD_TRIM, 6, SIZE - 512, 4096, null);
      assertThat(c.simpleReply(0).error()).isEqualTo(Nbd.EINVAL);
      c.request(0, Nbd.CMD_WRITE, 7, 100, 512, filled(512, 0xee)); // unaligned
      assertThat(c.simpleReply(0).error()).isEqualTo(Nbd.EINVAL);
      c.request(0, 99, 8, 0, 512, null); // unknown command
      assertThat(c.simpleReply(0).error()).isEqualTo(Nbd.EINVAL);
      c.request(0, Nbd.CMD_BLOCK_STATUS, 9, 0, 512, null); // no meta context negotiated
      assertThat(c.simpleReply(0).error()).isEqualTo(Nbd.EINVAL);
      c.request(1 << 9, Nbd.CMD_READ, 10, 0, 512, null); // unknown flag
      assertThat(c.simpleReply(512).error()).isEqualTo(Nbd.EINVAL);
      c.request(Nbd.CMD_FLAG_NO_HOLE, Nbd.CMD_WRITE, 11, 0, 512, filled(512, 0xee));
      assertThat(c.simpleReply(0).error()).as("NO_HOLE on a write").isEqualTo(Nbd.EINVAL);
      c.request(Nbd.CMD_FLAG_FAST_ZERO, Nbd.CMD_WRITE_ZEROES, 12, 0, 512, null);
      assertThat(c.simpleReply(0).error()).as("FAST_ZERO not offered").isEqualTo(Nbd.EINVAL);
      // the connection is still good
      c.request(Nbd.CMD_FLAG_FUA, Nbd.CMD_WRITE, 13, 0, 0, new byte[0]);
      assertThat(c.simpleReply(0).error()).as("zero-length write").isZero();
      c.request(0, Nbd.CMD_READ, 14, 0, 512, null);
      RawNbdClient.Reply ok = c.simpleReply(512);
      assertThat(ok.error()).isZero();
      assertThat(ok.cookie()).isEqualTo(14);
    }
    assertThat(content(disk)).as("nothing written by rejected requests").isEqualTo(before);
    try (RawNbdClient c = new RawNbdClient(address)) {
      c.hello(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
      c.go("disk4k", false);
      c.request(0, Nbd.CMD_READ, 1, 512, 4096, null);
      assertThat(c.simpleReply(4096).error()).as("not 4 KiB aligned").isEqualTo(Nbd.EINVAL);
      c.request(0, Nbd.CMD_READ, 2, 4096, 4096, null);
      assertThat(c.simpleReply(4096).error()).isZero();
    }
  }

  @Test
  void oversizedRequests() throws Exception {
    try (RawNbdClient c = new RawNbdClient(address)) {
      c.hello(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
      c.go("disk", true);
      c.request(0, Nbd.CMD_READ, 1, 0, 0x7fff_fe00, null); // 2 GiB read of a 1 MiB disk
      RawNbdClient.Reply r = c.chunk();
      assertThat(r.error()).isEqualTo(Nbd.EINVAL);
      assertThat(r.type()).isEqualTo(Nbd.REPLY_TYPE_ERROR);
      assertThat(r.message()).contains("beyond the end");
      // a write with a payload over 32 MiB: EINVAL, the payload is read and dropped
      c.request(0, Nbd.CMD_WRITE, 2, 0, (32 << 20) + 4096, new byte[(32 << 20) + 4096]);
      r = c.chunk();
      assertThat(r.error()).isEqualTo(Nbd.EINVAL);
      assertThat(r.cookie()).isEqualTo(2);
      assertThat(r.message()).contains("longer than the maximum payload");
      c.request(0, Nbd.CMD_READ, 3, 0, 4096, null); // still in step
      assertThat(c.chunk().type()).isEqualTo(Nbd.REPLY_TYPE_OFFSET_DATA);
    }
    assertThat(content(disk)).isEqualTo(new byte[SIZE]);
    assertStillServing();
  }

  @Test
  void structuredRepliesForReadsAndErrors() throws Exception {
    disk.write(ByteBuffer.wrap(filled(4096, 0x3c)), 0);
    try (RawNbdClient c = new RawNbdClient(address)) {
      c.hello(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
      int flags = c.go("disk", true);
      assertThat(flags & Nbd.FLAG_SEND_DF).isNotZero();
      c.request(Nbd.CMD_FLAG_DF, Nbd.CMD_READ, 7, 0, 4096, null);
      RawNbdClient.Reply r = c.chunk();
      assertThat(r.type()).isEqualTo(Nbd.REPLY_TYPE_OFFSET_DATA);
      assertThat(r.cookie()).isEqualTo(7);
      assertThat(r.data()).isEqualTo(filled(4096, 0x3c));
      c.request(0, Nbd.CMD_READ, 8, SIZE, 512, null);
      r = c.chunk();
      assertThat(r.type()).isEqualTo(Nbd.REPLY_TYPE_ERROR);
      assertThat(r.error()).isEqualTo(Nbd.EINVAL);
      c.request(0, Nbd.CMD_READ, 9, 0, 0, null);
      assertThat(c.chunk().type()).as("empty read").isEqualTo(Nbd.REPLY_TYPE_NONE);
      c.request(0, Nbd.CMD_FLUSH, 10, 0, 0, null);
      assertThat(c.chunk().error()).isZero();
    }
  }

  @Test
  void readOnlyExportRefusesWritesWithEperm() throws Exception {
    try (RawNbdClient c = new RawNbdClient(address)) {
      c.hello(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
      int flags = c.go("ro", false);
      assertThat(flags & Nbd.FLAG_READ_ONLY).isNotZero();
      assertThat(flags & (Nbd.FLAG_SEND_TRIM | Nbd.FLAG_SEND_WRITE_ZEROES)).isZero();
      c.request(0, Nbd.CMD_WRITE, 1, 0, 512, filled(512, 0));
      assertThat(c.simpleReply(0).error()).isEqualTo(Nbd.EPERM);
      c.request(0, Nbd.CMD_TRIM, 2, 0, 512, null);
      assertThat(c.simpleReply(0).error()).isEqualTo(Nbd.EPERM);
      c.request(0, Nbd.CMD_WRITE_ZEROES, 3, 0, 512, null);
      assertThat(c.simpleReply(0).error()).isEqualTo(Nbd.EPERM);
      c.request(0, Nbd.CMD_FLUSH, 4, 0, 0, null);
      assertThat(c.simpleReply(0).error()).isZero();
      c.request(0, Nbd.CMD_READ, 5, 0, 512, null);
      assertThat(c.simpleReply(512).data()).isEqualTo(filled(512, 0x42));
    }
    assertThat(content(ro)).isEqualTo(filled(SIZE, 0x42));
    try (NbdBlockDevice d = NbdBlockDevice.connect(address, "ro", false)) {
      assertThat(d.isReadOnly()).isTrue();
      assertThat(d.limits().supportsDiscard()).isFalse();
    }
  }

  @Test
  void disconnectInTheMiddleOfAWriteWritesNothing() throws Exception {
    byte[] before = content(disk);
    try (RawNbdClient c = new RawNbdClient(address)) {
      c.hello(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
      c.go("disk", false);
      ByteBuffer b = ByteBuffer.allocate(28 + 1000);
      b.putInt(Nbd.REQUEST_MAGIC).putShort((short) 0).putShort((short) Nbd.CMD_WRITE);
      b.putLong(1).putLong(0).putInt(65536).put(filled(1000, 0xee));
      c.send(b.flip()); // 1000 of 65536 payload bytes, then gone
    }
    assertStillServing(); // (it writes at 8192, outside the region checked below)
    byte[] after = content(disk);
    assertThat(Arrays.copyOfRange(after, 0, 8192)).isEqualTo(Arrays.copyOfRange(before, 0, 8192));
  }

  @Test
  void disconnectWithRequestsInFlightReleasesTheConnection() throws Exception {
    RawNbdClient c = new RawNbdClient(address);
    c.hello(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
    c.go("holding", false);
    c.request(0, Nbd.CMD_READ, 1, 0, 512, null);
    Bio held = holding.take();
    c.close(); // the client is gone while its read is in the device
    HoldingBlockDevice.complete(held, BlockStatus.OK); // the reply has nowhere to go
    assertStillServing();
  }

  @Test
  void shutdownCompletesInFlightRequestsAndTheClientSeesTransport() throws Exception {
    NbdBlockDevice d = NbdBlockDevice.connect(address, "holding", false);
    CompletableFuture<BlockStatus> first = new CompletableFuture<>();
    CompletableFuture<BlockStatus> second = new CompletableFuture<>();
    d.submit(Bio.read(0, ByteBuffer.allocate(512), b -> first.complete(b.status())));
    d.submit(Bio.read(8, ByteBuffer.allocate(512), b -> second.complete(b.status())));
    Bio a = holding.take();
    Bio b = holding.take();
    CompletableFuture<Void> closed =
        CompletableFuture.runAsync(
            () -> {
              try {
                server.close();
              } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
    // the server waits for what is in flight: both replies still reach the client
    HoldingBlockDevice.complete(a, BlockStatus.OK);
    HoldingBlockDevice.complete(b, BlockStatus.MEDIUM);
    assertThat(first.get(10, TimeUnit.SECONDS)).isEqualTo(BlockStatus.OK);
    assertThat(second.get(10, TimeUnit.SECONDS)).isEqualTo(BlockStatus.IOERR);
    closed.get(20, TimeUnit.SECONDS);
    // then the connection is gone, and the client says so
    CompletableFuture<BlockStatus> after = new CompletableFuture<>();
    d.submit(Bio.read(0, ByteBuffer.allocate(512), x -> after.complete(x.status())));
    // (sent or not before the client noticed the close, it cannot succeed)
    assertThat(after.get(10, TimeUnit.SECONDS)).isEqualTo(BlockStatus.TRANSPORT);
    d.close();
  }

  @Test
  void serverGoingAwayFailsInFlightBiosWithTransport() throws Exception {
    server.close();
    NbdServer quick =
        NbdServer.builder(NbdExports.of("holding", holding)).shutdownTimeout(Duration.ZERO).build();
    server = quick;
    SocketAddress a2 = quick.listen(UnixDomainSocketAddress.of(dir.resolve("s2")));
    NbdBlockDevice d = NbdBlockDevice.connect(a2, "holding", false);
    CompletableFuture<BlockStatus> pending = new CompletableFuture<>();
    d.submit(Bio.read(0, ByteBuffer.allocate(512), b -> pending.complete(b.status())));
    Bio held = holding.take();
    quick.close(); // gives up at once on the held request: hard disconnect
    assertThat(pending.get(10, TimeUnit.SECONDS)).isEqualTo(BlockStatus.TRANSPORT);
    assertThat(d.isBroken()).isTrue();
    CompletableFuture<BlockStatus> later = new CompletableFuture<>();
    d.submit(Bio.write(0, ByteBuffer.allocate(512), b -> later.complete(b.status())));
    assertThat(later.get(10, TimeUnit.SECONDS)).isEqualTo(BlockStatus.TRANSPORT);
    d.close();
    HoldingBlockDevice.complete(held, BlockStatus.OK);
  }
}
