package io.jdm.nbd;

import io.jdm.core.BlockDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.BaseBlockDeviceTestCase;
import io.jdm.testkit.DeviceCapabilities;
import java.io.IOException;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The conformance suite on {@link NbdBlockDevice} talking to jdm's own {@link NbdServer} over a
 * Unix socket, the server exporting a {@link MemoryBlockDevice}; {@link NbdBlockDeviceTcp4kTest}
 * runs it over TCP with 4 KiB logical blocks, {@link NbdBlockDeviceTlsTest} over TLS.
 */
class NbdBlockDeviceTest extends BaseBlockDeviceTestCase {
  private final List<NbdServer> servers = new ArrayList<>();
  private final List<Path> dirs = new ArrayList<>();

  /** Logical block size of the exported device. */
  protected int blockSize() {
    return 512;
  }

  protected boolean tcp() {
    return false;
  }

  @Override
  protected BlockDevice createDevice(long sectors) throws IOException {
    MemoryBlockDevice mem =
        MemoryBlockDevice.builder("mem", sectors)
            .logicalBlockSize(blockSize())
            .writeCache(true)
            .build();
    NbdServer server = server(NbdExports.of("disk", mem));
    servers.add(server);
    SocketAddress address;
    if (tcp()) {
      address = server.listen(new java.net.InetSocketAddress("127.0.0.1", 0));
    } else {
      Path dir = Files.createTempDirectory("jdm-nbd");
      dirs.add(dir);
      address = server.listen(UnixDomainSocketAddress.of(dir.resolve("s")));
    }
    return connect(address);
  }

  /** The server of one device. */
  protected NbdServer server(NbdExports exports) throws IOException {
    return NbdServer.create(exports);
  }

  /** The client of the export "disk" at {@code address}. */
  protected BlockDevice connect(SocketAddress address) throws IOException {
    return NbdBlockDevice.connect(address, "disk", false);
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk();
  }

  @Override
  protected void afterDevicesClosed() throws Exception {
    for (NbdServer s : servers) {
      s.close();
    }
    servers.clear();
    for (Path d : dirs) {
      Files.deleteIfExists(d.resolve("s"));
      Files.deleteIfExists(d);
    }
    dirs.clear();
  }
}
