package io.jdm.targets;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.BioTracker;
import io.jdm.testkit.ManualClock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The README's fault-injection example, run, with what its comments claim checked. */
class ReadmeFaultInjectionTest {
  @Test
  void theReadmeExampleDoesWhatItSays() throws IOException {
    BioTracker bios = new BioTracker();
    ManualClock clock = new ManualClock(); // time moves when you say
    try (DeviceMapper dm = DeviceMapper.builder().clock(clock).build()) {
      dm.registerDevice("disk", MemoryBlockDevice.create("disk", 1 << 20));
      MappedDevice slow = dm.create("slow", "0 1048576 delay disk 0 0 disk 0 50"); // writes +50 ms
      MappedDevice flaky = dm.create("flaky", "0 1048576 flakey disk 0 5 2 1 drop_writes");
      MappedDevice dusty = dm.create("dusty", "0 1048576 dust disk 0 4096");
      dusty.message(0, "addbadblock", "17");
      dusty.message(0, "enable"); // block 17 now fails reads

      BioTracker.Completion w = bios.completion();
      slow.submit(Bio.write(0, ByteBuffer.allocate(512), w));
      assertThat(w.isDone()).isFalse();
      BioTracker.Completion bad = bios.completion();
      dusty.submit(Bio.read(17 * 8, ByteBuffer.allocate(512), bad));
      assertThat(bad.await()).isEqualTo(BlockStatus.IOERR);

      clock.advance(Duration.ofSeconds(5)); // flaky is down: writes vanish
      assertThat(w.await()).isEqualTo(BlockStatus.OK);
      ByteBuffer ones = ByteBuffer.allocate(512);
      ones.put(0, (byte) 1);
      flaky.write(ones, 1000 * 512L);
      ByteBuffer got = ByteBuffer.allocate(512);
      flaky.read(got, 1000 * 512L);
      assertThat(got.get(0)).isZero();
      clock.advance(Duration.ofSeconds(2)); // up again
      flaky.write(ones.clear(), 1000 * 512L);
      flaky.read(got.clear(), 1000 * 512L);
      assertThat(got.get(0)).isEqualTo((byte) 1);
    }
  }
}
