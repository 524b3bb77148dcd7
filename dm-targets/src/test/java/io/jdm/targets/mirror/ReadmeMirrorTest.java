package io.jdm.targets.mirror;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.SuspendMode;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The README's mirror example, run, with what its comments claim checked. */
class ReadmeMirrorTest {
  @Test
  void theReadmeExampleDoesWhatItSays() throws Exception {
    try (DeviceMapper dm = DeviceMapper.create()) {
      for (String d : List.of("disk0", "disk1")) {
        dm.registerDevice(d, MemoryBlockDevice.create(d, 65536));
      }
      dm.registerDevice("logdisk", MemoryBlockDevice.create("logdisk", 8));
      MappedDevice leg1 = dm.create("leg1", "0 65536 linear disk1 0"); // a leg we can pull
      MappedDevice m =
          dm.create("m", "0 65536 mirror disk 2 logdisk 1024 2 disk0 0 leg1 0 1 handle_errors");
      m.awaitEvent(0, Duration.ofSeconds(10)); // resync done
      assertThat(m.status()).isEqualTo("0 65536 mirror 2 240:0 253:0 64/64 1 AA 3 disk 240:2 A\n");
      leg1.load("0 65536 error");
      leg1.resume(); // the leg dies
      CompletableFuture<BlockStatus> w = new CompletableFuture<>();
      m.submit(Bio.write(0, ByteBuffer.allocate(4096), b -> w.complete(b.status())));
      m.awaitEvent(1, Duration.ofSeconds(10)); // the failure
      // (the event comes as the leg fails; the write is held a moment later)
      MirrorTarget t = (MirrorTarget) m.liveTable().orElseThrow().target(0);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (t.heldWrites() == 0 && System.nanoTime() < deadline) {
        java.util.concurrent.locks.LockSupport.parkNanos(100_000);
      }
      assertThat(m.status()).isEqualTo("0 65536 mirror 2 240:0 253:0 63/64 1 AD 3 disk 240:2 A\n");
      assertThat(w).isNotDone(); // held
      m.suspend(SuspendMode.NOFLUSH); // held writes go back to the core...
      m.load("0 65536 linear disk0 0"); // ...what lvm does: drop the dead leg
      m.resume(); // ...and are reissued
      assertThat(w.get(10, TimeUnit.SECONDS)).isEqualTo(BlockStatus.OK);
    }
  }
}
