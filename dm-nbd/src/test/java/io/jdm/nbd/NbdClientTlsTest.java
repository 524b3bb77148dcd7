package io.jdm.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.TlsCertificates;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link NbdBlockDevice} with {@code nbds} URIs: against nbdkit (GnuTLS) requiring TLS and a client
 * certificate, through a table, and the servers it must not use: one without TLS, one whose
 * certificate another CA signed or names another host.
 */
@Timeout(60)
class NbdClientTlsTest {
  private static Path certsDir;
  private static TlsCertificates certs;
  private Path dir;

  @BeforeAll
  static void certificates() throws Exception {
    certs = TlsCertificates.shared();
    certsDir = certs.root();
  }

  @BeforeEach
  void makeDir() throws Exception {
    dir = Tools.tempDir();
  }

  @AfterEach
  void deleteDir() throws Exception {
    Tools.deleteTree(dir);
  }

  private static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  @Test
  void readsAndWritesAnNbdkitExportThatRequiresTlsThroughATable() throws Exception {
    Tools.require("nbdkit", "nbdkit");
    Path sock = dir.resolve("kit.sock");
    String uri = "nbds+unix:///?socket=" + sock + "&tls-certificates=" + certs.client();
    Tools.Nbdkit kit =
        Tools.Nbdkit.start(
            sock,
            "--tls=require",
            "--tls-certificates=" + certs.server(),
            "--tls-verify-peer",
            "memory",
            "4M");
    try (DeviceMapper dm = NbdDeviceResolver.install(DeviceMapper.create())) {
      MappedDevice vol = dm.create("vol", "0 8192 linear " + uri + " 0");
      byte[] data = random(3 << 20, 11);
      vol.write(ByteBuffer.wrap(data), 512 * 1024);
      vol.flush();
      ByteBuffer back = ByteBuffer.allocate(data.length);
      vol.read(back, 512 * 1024);
      assertThat(back.array()).isEqualTo(data);
      dm.remove("vol");
      // the client certificate is what lets it in: without one, nbdkit refuses the handshake
      assertThatThrownBy(
              () ->
                  NbdBlockDevice.open(
                      "nbds+unix:///?socket=" + sock + "&tls-certificates=" + certs.anonymous()))
          .isInstanceOf(java.io.IOException.class)
          .hasMessageContaining("client certificate");
    } finally {
      kit.close();
    }
  }

  @Test
  void aServerWithoutTlsIsNotUsedInTheClear() throws Exception {
    try (MemoryBlockDevice mem = MemoryBlockDevice.create("mem", 2048);
        NbdServer plain = NbdServer.create(NbdExports.of("disk", mem))) {
      int port =
          ((InetSocketAddress) plain.listen(new InetSocketAddress("127.0.0.1", 0))).getPort();
      assertThatThrownBy(
              () ->
                  NbdBlockDevice.open(
                      "nbds://localhost:" + port + "/disk?tls-certificates=" + certs.client()))
          .isInstanceOf(NbdProtocolException.class)
          .hasMessageContaining("refused TLS with NBD_REP_ERR_UNSUP")
          .hasMessageContaining("never used without it");
      assertThat(mem.isClosed()).isFalse();
    }
  }

  @Test
  void aServerCertificateOfAnotherCaOrForAnotherNameIsRefused() throws Exception {
    Path otherCa = Files.createDirectories(dir.resolve("other-ca"));
    Files.copy(certsDir.resolve("rogue-ca-cert.pem"), otherCa.resolve("ca-cert.pem"));
    try (MemoryBlockDevice mem = MemoryBlockDevice.create("mem", 2048);
        NbdServer server =
            NbdServer.builder(NbdExports.of("disk", mem))
                .tls(NbdTls.serverContext(certs.server()), NbdServer.TlsMode.REQUIRE)
                .build()) {
      int port =
          ((InetSocketAddress) server.listen(new InetSocketAddress("127.0.0.1", 0))).getPort();
      String base = "nbds://127.0.0.1:" + port + "/disk?tls-certificates=";
      assertThatThrownBy(() -> NbdBlockDevice.open(base + otherCa))
          .isInstanceOf(NbdProtocolException.class)
          .hasMessageContaining("TLS handshake failed");
      assertThatThrownBy(() -> NbdBlockDevice.open(base + certs.client() + "&tls-hostname=other"))
          .isInstanceOf(NbdProtocolException.class)
          .hasMessageContaining("TLS handshake failed")
          .hasMessageContaining("other");
      // the same server and CA with the right name: the refusals above were the checks
      try (NbdBlockDevice ok = NbdBlockDevice.open(base + certs.client())) {
        ok.write(ByteBuffer.wrap(random(4096, 3)), 0);
      }
    }
  }
}
