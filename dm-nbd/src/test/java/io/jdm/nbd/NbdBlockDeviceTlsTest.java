package io.jdm.nbd;

import io.jdm.core.BlockDevice;
import io.jdm.testkit.TlsCertificates;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;

/**
 * The conformance suite over TLS on TCP: an {@code nbds://localhost} client with a client
 * certificate, a server that requires TLS and client certificates. Every read and write, large and
 * small, in flight together, goes through {@link TlsChannel} on both sides.
 */
class NbdBlockDeviceTlsTest extends NbdBlockDeviceTest {
  private static Path certsDir;
  private static TlsCertificates certs;

  @BeforeAll
  static void certificates() throws Exception {
    certs = TlsCertificates.shared();
    certsDir = certs.root();
  }

  @Override
  protected boolean tcp() {
    return true;
  }

  @Override
  protected NbdServer server(NbdExports exports) throws IOException {
    return NbdServer.builder(exports)
        .tls(NbdTls.serverContext(certs.server()), NbdServer.TlsMode.REQUIRE)
        .needClientAuth(true)
        .build();
  }

  @Override
  protected BlockDevice connect(SocketAddress address) throws IOException {
    int port = ((InetSocketAddress) address).getPort();
    return NbdBlockDevice.open(
        NbdUri.tcp("localhost", port, "disk").withTls(certs.client()), false);
  }
}
