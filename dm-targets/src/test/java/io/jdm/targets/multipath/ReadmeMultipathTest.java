package io.jdm.targets.multipath;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** The README's multipath example, run, with what its comments claim checked. */
class ReadmeMultipathTest {
  @Test
  void theReadmeExampleDoesWhatItSays() throws IOException {
    try (MemoryBlockDevice lun = MemoryBlockDevice.create("lun", 2097152);
        DeviceMapper dm = DeviceMapper.create()) {
      PathDevice viaControllerA = new PathDevice("a", lun, false);
      PathDevice viaControllerB = new PathDevice("b", lun, false);
      dm.registerDevice("pathA", viaControllerA);
      dm.registerDevice("pathB", viaControllerB);
      MappedDevice mp =
          dm.create(
              "mp",
              "0 2097152 multipath 1 queue_if_no_path 0 1 1"
                  + " service-time 0 2 2 pathA 1 1 pathB 1 1");
      mp.write(ByteBuffer.allocate(4096), 0);
      assertThat(mp.status())
          .isEqualTo("0 2097152 multipath 2 0 0 0 1 1 A 0 2 2 240:0 A 0 0 1 240:1 A 0 0 1 \n");
      mp.message(0, "fail_path", "pathA");
      assertThat(mp.status()).contains(" 240:0 F 1 ");
      mp.message(0, "reinstate_path", "pathA");
      assertThat(mp.status()).contains(" 240:0 A 1 ");
    }
  }
}
