package io.jdm.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link BioHoldList}: held bios are pushed back by a noflush suspend and replayed in order after
 * resume, failed by a flushing suspend, released by the target, failed when the table goes.
 */
class BioHoldListTest {
  private final TargetRegistry registry = TargetRegistry.builtins();
  private final DeviceMapper dm;
  private final MemoryBlockDevice disk = MemoryBlockDevice.create("disk", 4096);
  private final List<Bio> completed = new ArrayList<>();
  private volatile boolean keep = true;
  private volatile boolean swallow;
  private final List<Bio> swallowed = new java.util.concurrent.CopyOnWriteArrayList<>();
  private volatile BioHoldList list;
  private volatile TargetContext context;

  BioHoldListTest() {
    registry.register(
        TestTargets.type(
            "keeper",
            Set.of(),
            (ctx, begin, length, args) -> {
              BlockDevice dev = ctx.getDevice(args[0]).bdev();
              BioHoldList h = ctx.holdList(BlockStatus.IOERR);
              list = h;
              context = ctx;
              return new Target() {
                @Override
                public MapResult map(Bio bio) {
                  bio.remap(dev, bio.sector() - begin);
                  if (swallow) {
                    swallowed.add(bio);
                    return MapResult.SUBMITTED;
                  }
                  if (keep) {
                    h.hold(bio);
                    return MapResult.SUBMITTED;
                  }
                  return MapResult.REMAPPED;
                }

                @Override
                public String message(String... argv) {
                  return Integer.toString(h.release(Bio::submit));
                }
              };
            }));
    dm = DeviceMapper.builder().registry(registry).build();
    dm.registerDevice("disk", disk);
  }

  @AfterEach
  void close() throws IOException {
    dm.close();
    disk.close();
  }

  private Bio write(long sector, int fill) {
    ByteBuffer b = ByteBuffer.allocate(512);
    while (b.hasRemaining()) {
      b.put((byte) fill);
    }
    b.flip();
    return Bio.write(sector, b, this::done);
  }

  private synchronized void done(Bio b) {
    completed.add(b);
  }

  private synchronized List<Bio> completed() {
    return List.copyOf(completed);
  }

  private byte diskByte(long sector) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(512);
    disk.read(b, sector * 512);
    return b.get(0);
  }

  @Test
  void heldBiosWaitAndTheTargetReleasesThemInOrder() throws IOException {
    MappedDevice md = dm.create("k", null, "0 100 keeper disk");
    md.submit(write(1, 1));
    md.submit(write(1, 2));
    assertThat(list.size()).isEqualTo(2);
    assertThat(completed()).isEmpty();
    assertThat(md.message(0, "release")).isEqualTo("2");
    assertThat(completed()).hasSize(2).allMatch(b -> b.status() == BlockStatus.OK);
    assertThat(diskByte(1)).isEqualTo((byte) 2);
  }

  @Test
  void noflushSuspendPushesHeldBiosBackAndResumeReplaysThemInArrivalOrder() throws IOException {
    MappedDevice md = dm.create("k", null, "0 100 keeper disk");
    for (int i = 1; i <= 5; i++) {
      md.submit(write(7, i));
    }
    assertThat(list.size()).isEqualTo(5);
    md.suspend(SuspendMode.NOFLUSH); // would wait forever if the held bios stayed held
    assertThat(list.size()).isZero();
    assertThat(completed()).isEmpty();
    keep = false;
    md.resume();
    assertThat(completed()).hasSize(5).allMatch(b -> b.status() == BlockStatus.OK);
    assertThat(diskByte(7)).isEqualTo((byte) 5); // replayed oldest first
  }

  @Test
  void flushingSuspendFailsHeldBiosWithTheFailStatus() {
    MappedDevice md = dm.create("k", null, "0 100 keeper disk");
    md.submit(write(3, 1));
    md.submit(write(4, 1));
    md.suspend();
    assertThat(completed()).hasSize(2).allMatch(b -> b.status() == BlockStatus.IOERR);
    md.resume();
    md.submit(write(5, 1));
    assertThat(list.size()).as("holds again after resume").isEqualTo(1);
    assertThat(list.release(Bio::submit)).isEqualTo(1);
  }

  @Test
  void aBioOfferedWhileSuspendingIsLetGoAtOnce() {
    MappedDevice md = dm.create("k", null, "0 100 keeper disk");
    md.suspend(SuspendMode.NOFLUSH);
    assertThat(context.noflushSuspending()).as("only while suspending").isFalse();
    Bio own = write(9, 1);
    own.setDevice(disk);
    assertThat(list.hold(own)).isFalse();
    assertThat(own.status()).isEqualTo(BlockStatus.IOERR);
    md.resume();
  }

  @Test
  void abandonedSuspendHoldsAgain() {
    MappedDevice md = dm.create("k", null, "0 100 keeper disk");
    md.submit(write(2, 1));
    swallow = true;
    md.submit(write(3, 1)); // kept outside the list: the suspend cannot drain
    swallow = false;
    assertThat(md.suspend(SuspendMode.NOFLUSH, java.time.Duration.ofMillis(20))).isFalse();
    assertThat(md.isSuspended()).isFalse();
    // the held bio was pushed back, reissued when the suspend gave up, and is held again
    assertThat(list.size()).isEqualTo(1);
    md.submit(write(4, 1));
    assertThat(list.size()).isEqualTo(2);
    swallowed.get(0).submit();
    assertThat(list.release(Bio::submit)).isEqualTo(2);
    assertThat(completed()).hasSize(3).allMatch(b -> b.status() == BlockStatus.OK);
  }

  @Test
  void noflushTableSwapCarriesHeldBiosToTheNewTable() {
    MappedDevice md = dm.create("k", null, "0 100 keeper disk");
    md.submit(write(2, 1));
    md.submit(write(3, 1));
    BioHoldList first = list;
    md.load("0 100 keeper disk");
    BioHoldList second = list;
    assertThat(second).isNotSameAs(first);
    md.resume(SuspendMode.NOFLUSH);
    assertThat(first.size()).isZero();
    assertThat(second.size()).isEqualTo(2);
    assertThat(completed()).isEmpty();
    assertThatThrownBy(() -> context.holdList(BlockStatus.IOERR))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("constructor");
    second.release(Bio::submit);
    assertThat(completed()).hasSize(2).allMatch(b -> b.status() == BlockStatus.OK);
  }

  @Test
  void closingTheDeviceMapperFailsWhatIsStillHeld() throws IOException {
    dm.create("k", null, "0 100 keeper disk");
    dm.device("k").submit(write(2, 1));
    BioHoldList h = list;
    dm.close();
    assertThat(h.size()).isZero();
    assertThat(completed()).hasSize(1).allMatch(b -> b.status() == BlockStatus.IOERR);
  }
}
