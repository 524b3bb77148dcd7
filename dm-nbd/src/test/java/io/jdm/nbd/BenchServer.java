package io.jdm.nbd;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MemoryBlockDevice;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;

/**
 * The jdm side of {@code dm-nbd/bench.sh}: serves {@code bench}, a linear device over a direct
 * {@link MemoryBlockDevice}, on a Unix socket; prints {@code ready} once listening and stops when
 * its stdin closes. Arguments: socket path, size in MiB, and optionally a folder of TLS credentials
 * ({@link NbdTls#serverContext(Path)}), which makes the server require TLS.
 */
public final class BenchServer {
  private BenchServer() {}

  public static void main(String[] args) throws Exception {
    Path socket = Path.of(args[0]);
    long mib = Long.parseLong(args[1]);
    long sectors = mib << 11;
    try (DeviceMapper dm = DeviceMapper.create();
        MemoryBlockDevice mem =
            MemoryBlockDevice.builder("mem", sectors).direct(true).writeCache(true).build()) {
      dm.registerDevice("mem", mem);
      dm.create("bench", "0 " + sectors + " linear mem 0");
      NbdServer.Builder b = NbdServer.builder(NbdExports.of(dm));
      if (args.length > 2) {
        b.tls(NbdTls.serverContext(Path.of(args[2])), NbdServer.TlsMode.REQUIRE);
      }
      try (NbdServer server = b.build()) {
        server.listen(UnixDomainSocketAddress.of(socket));
        System.out.println("ready");
        System.out.flush();
        while (System.in.read() >= 0) {
          // serve until stdin closes
        }
      }
      dm.remove("bench");
    }
  }
}
