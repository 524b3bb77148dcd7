package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.BlockIOException;
import io.jdm.nbd.NbdBlockDevice;
import io.jdm.testkit.TlsCertificates;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jdmsetup daemon --listen 127.0.0.1:PORT --tls DIR --export-readonly NAME}: NBD over TCP
 * only with TLS and a client certificate from the CA, {@code nbd.sock} as before, and a device
 * exported read-only whatever the device.
 */
class DaemonTlsTest {
  @TempDir Path tmp;

  @Test
  void tcpNeedsTlsAndAClientCertificateAndReadOnlyExportsRefuseWrites() throws Exception {
    Cli.require("openssl", "openssl");
    Cli.require("nbdinfo", "libnbd-bin");
    TlsCertificates certs = TlsCertificates.create(tmp.resolve("pki"));
    RuntimeDir dir = new RuntimeDir(tmp.resolve("run"));
    Daemon.Options o =
        Daemon.Options.builder()
            .listen(new InetSocketAddress("127.0.0.1", 0))
            .tls(certs.server())
            .readOnlyExport("ro")
            .build();
    try (Daemon d = Daemon.start(dir, o)) {
      d.deviceMapper().create("vol", "0 2048 zero");
      d.deviceMapper().registerDevice("disk", io.jdm.core.MemoryBlockDevice.create("disk", 4096));
      d.deviceMapper().create("rw", "0 2048 linear disk 0");
      d.deviceMapper().create("ro", "0 2048 linear disk 2048");
      int port = ((InetSocketAddress) d.nbdAddresses().get(1)).getPort();
      String tls = "?tls-certificates=" + certs.client();

      Cli.Result info = Cli.exec(Map.of(), "nbdinfo", "nbds://127.0.0.1:" + port + "/vol" + tls);
      assertThat(info.exit()).as(info.out()).isZero();
      assertThat(info.out()).contains("export-size: 1048576");
      Cli.Result plain = Cli.exec(Map.of(), "nbdinfo", "nbd://127.0.0.1:" + port + "/vol");
      assertThat(plain.exit()).as("plaintext over TCP").isNotZero();
      Cli.Result rogue =
          Cli.exec(
              Map.of(),
              "nbdinfo",
              "nbds://127.0.0.1:" + port + "/vol?tls-certificates=" + certs.rogue());
      assertThat(rogue.exit()).as("a client certificate from another CA").isNotZero();

      byte[] pattern = new byte[4096];
      Arrays.fill(pattern, (byte) 0x5a);
      try (NbdBlockDevice rw = NbdBlockDevice.open("nbds://localhost:" + port + "/rw" + tls)) {
        rw.write(ByteBuffer.wrap(pattern), 0);
        rw.flush();
      }
      try (NbdBlockDevice ro = NbdBlockDevice.open("nbds://localhost:" + port + "/ro" + tls)) {
        assertThat(ro.isReadOnly()).isTrue();
        assertThatThrownBy(() -> ro.write(ByteBuffer.wrap(pattern), 0))
            .isInstanceOf(BlockIOException.class);
      }
      // nbd.sock is the user's own, without TLS; the read-only export is read-only there too
      try (NbdBlockDevice local = NbdBlockDevice.open(dir.nbdUri("rw"))) {
        ByteBuffer back = ByteBuffer.allocate(4096);
        local.read(back, 0);
        assertThat(back.array()).isEqualTo(pattern);
      }
      try (NbdBlockDevice local = NbdBlockDevice.open(dir.nbdUri("ro"))) {
        assertThat(local.isReadOnly()).isTrue();
      }
    }
  }
}
