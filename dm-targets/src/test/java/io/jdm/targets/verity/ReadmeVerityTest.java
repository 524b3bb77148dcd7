package io.jdm.targets.verity;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.TableSpec;
import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The README's verity example, as written there. */
class ReadmeVerityTest {
  @Test
  void readmeExample() throws Exception {
    byte[] image = new byte[1 << 20];
    new Random(1).nextBytes(image);
    byte[] salt = {1, 2, 3, 4};
    ByteBuffer buffer = ByteBuffer.allocate(1 << 20);
    String table;
    try (DeviceMapper dm = DeviceMapper.create()) {
      MemoryBlockDevice data = MemoryBlockDevice.create("data", 2048); // 1 MiB: 256 blocks of 4 KiB
      data.write(ByteBuffer.wrap(image), 0);
      VerityFormat fmt = VerityFormat.builder().salt(salt).build(); // veritysetup's defaults
      MemoryBlockDevice hash = MemoryBlockDevice.create("hash", fmt.hashDeviceBytes(256) / 512);
      VerityFormat.Result r = fmt.format(data, hash); // r.rootHashHex(): the root hash
      dm.registerDevice("data", data);
      dm.registerDevice("hash", hash);
      MappedDevice v =
          dm.create(
              "v",
              null, // verity tables are read-only
              TableSpec.parse("0 2048 verity " + r.tableArgs("data", "hash", null)),
              true);
      v.read(buffer, 0); // verified, or BlockIOException
      table = v.table();
      assertThat(v.status()).isEqualTo("0 2048 verity V\n");
    }
    assertThat(buffer.array()).isEqualTo(image);
    assertThat(table).startsWith("0 2048 verity 1 240:0 240:1 4096 4096 256 1 sha256 ");
    assertThat(table).endsWith(" 01020304\n");
  }
}
