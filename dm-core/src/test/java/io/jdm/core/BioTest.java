package io.jdm.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class BioTest {
  private final List<Bio> done = new ArrayList<>();
  private final BioCallback record = done::add;

  @Test
  void payloadIsTheRemainingBytesAndThePositionStays() {
    ByteBuffer b = ByteBuffer.allocate(4096).position(512).limit(2048);
    Bio bio = Bio.read(7, b, record);
    assertThat(bio.sectors()).isEqualTo(3);
    assertThat(bio.bytes()).isEqualTo(1536);
    assertThat(bio.dataOffset()).isEqualTo(512);
    assertThat(bio.endSector()).isEqualTo(10);
    bio.zeroFill();
    assertThat(b.position()).isEqualTo(512);
    assertThat(bio.payload().remaining()).isEqualTo(1536);
  }

  @Test
  void malformedBiosAreCallerMistakes() {
    assertThatThrownBy(() -> Bio.write(0, ByteBuffer.allocate(100), record))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not a multiple of 512");
    assertThatThrownBy(() -> Bio.discard(0, -1, record))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Bio.of(Bio.Op.FLUSH, 0, 0, 0, ByteBuffer.allocate(512), record))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Bio.of(Bio.Op.READ, 0, 0, 2, ByteBuffer.allocate(512), record))
        .hasMessageContaining("does not match the payload");
    assertThatThrownBy(() -> Bio.write(0, ByteBuffer.allocate(512), 1 << 20, record))
        .hasMessageContaining("unknown flags");
    assertThatThrownBy(() -> Bio.read(0, ByteBuffer.allocate(512), null))
        .isInstanceOf(NullPointerException.class);
  }

  @Test
  void completesExactlyOnce() {
    Bio bio = Bio.flush(record);
    bio.complete(BlockStatus.OK);
    assertThat(done).containsExactly(bio);
    assertThat(bio.isCompleted()).isTrue();
    assertThatThrownBy(() -> bio.complete(BlockStatus.OK))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("completed twice");
    assertThat(done).hasSize(1);
  }

  @Test
  void resetMakesABioReusable() {
    ByteBuffer b = ByteBuffer.allocate(512);
    Bio bio = Bio.read(0, b, record);
    bio.complete(BlockStatus.MEDIUM);
    bio.reset(Bio.Op.WRITE, Bio.FUA, 9, b, record);
    assertThat(bio.status()).isEqualTo(BlockStatus.OK);
    assertThat(bio.isCompleted()).isFalse();
    bio.complete(BlockStatus.OK);
    assertThat(done).hasSize(2);
  }

  @Test
  void framesRestoreWhatTheLayerChanged() {
    BlockDevice upper = NullBlockDevice.create("upper", 100);
    BlockDevice lower = NullBlockDevice.create("lower", 100);
    List<String> seen = new ArrayList<>();
    Bio bio = Bio.write(10, ByteBuffer.allocate(512), Bio.FUA, record);
    bio.setDevice(upper);
    Bio.Frame f =
        bio.pushFrame(
            (b, frame) -> {
              seen.add(b.device().name() + "@" + b.sector() + " ctx=" + b.targetContext());
              return true;
            });
    assertThat(f).isNotNull();
    bio.setTargetContext("mine");
    bio.remap(lower, 50);
    bio.setFlags(0);
    bio.complete(BlockStatus.OK);
    assertThat(seen).containsExactly("lower@50 ctx=mine");
    assertThat(bio.device()).isSameAs(upper);
    assertThat(bio.sector()).isEqualTo(10);
    assertThat(bio.flags()).isEqualTo(Bio.FUA);
    assertThat(done).containsExactly(bio);
  }

  @Test
  void anOwnerCanKeepTheBioAndCompleteItAgain() {
    AtomicInteger calls = new AtomicInteger();
    Bio bio = Bio.flush(record);
    bio.pushFrame((b, f) -> calls.incrementAndGet() > 1);
    bio.complete(BlockStatus.IOERR); // kept (a multipath retry)
    assertThat(done).isEmpty();
    bio.complete(BlockStatus.OK);
    assertThat(calls.get()).isEqualTo(2);
    assertThat(done).containsExactly(bio);
    assertThat(bio.status()).isEqualTo(BlockStatus.OK);
  }

  @Test
  void splitPartsCompleteTheParentWithTheFirstError() {
    ByteBuffer b = ByteBuffer.allocate(8 * 512);
    Bio parent = Bio.read(100, b, record);
    Bio a = parent.split(2);
    Bio c = parent.split(3);
    assertThat(a.sector()).isEqualTo(100);
    assertThat(a.sectors()).isEqualTo(2);
    assertThat(a.dataOffset()).isZero();
    assertThat(c.sector()).isEqualTo(102);
    assertThat(c.dataOffset()).isEqualTo(1024);
    assertThat(parent.sector()).isEqualTo(105);
    assertThat(parent.sectors()).isEqualTo(3);
    assertThat(parent.dataOffset()).isEqualTo(2560);
    c.complete(BlockStatus.MEDIUM);
    parent.complete(BlockStatus.OK);
    assertThat(done).isEmpty();
    a.complete(BlockStatus.IOERR);
    assertThat(done).containsExactly(parent);
    assertThat(parent.status()).isEqualTo(BlockStatus.MEDIUM);
    assertThatThrownBy(() -> a.complete(BlockStatus.OK)).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void splitRejectsBadLengths() {
    Bio bio = Bio.read(0, ByteBuffer.allocate(1024), record);
    assertThatThrownBy(() -> bio.split(0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> bio.split(2)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void nestedSplitsAtDifferentLayersJoinInOrder() {
    List<String> order = new ArrayList<>();
    Bio bio = Bio.read(0, ByteBuffer.allocate(8 * 512), record);
    bio.pushFrame(
        (b, f) -> {
          order.add("upper " + b.status());
          return true;
        });
    Bio upperChild = bio.split(4); // upper layer's join
    bio.pushFrame(
        (b, f) -> {
          order.add("lower " + b.status());
          return true;
        });
    Bio lowerChild = bio.split(2); // lower layer's join, above the lower frame
    lowerChild.complete(BlockStatus.OK);
    bio.complete(BlockStatus.OK);
    assertThat(order).containsExactly("lower OK");
    upperChild.complete(BlockStatus.TIMEOUT);
    assertThat(order).containsExactly("lower OK", "upper TIMEOUT");
    assertThat(done).containsExactly(bio);
    assertThat(bio.sector()).isZero();
    assertThat(bio.sectors()).isEqualTo(8);
  }

  @Test
  void chainedSlicesShareThePayloadAndJoinTheParent() {
    ByteBuffer b = ByteBuffer.allocate(8 * 512).position(512).limit(3584); // 6 sectors
    Bio parent = Bio.write(40, b, Bio.FUA, record);
    Bio front = parent.chainSlice(0, 2);
    Bio back = parent.chainSlice(4, 2);
    assertThat(front.sector()).isEqualTo(40);
    assertThat(front.dataOffset()).isEqualTo(512);
    assertThat(back.sector()).isEqualTo(44);
    assertThat(back.dataOffset()).isEqualTo(512 + 4 * 512);
    assertThat(back.flags()).isEqualTo(Bio.FUA);
    assertThat(back.data()).isSameAs(b);
    assertThat(parent.sector()).isEqualTo(40); // unlike split, the parent keeps its range
    assertThat(parent.sectors()).isEqualTo(6);
    back.complete(BlockStatus.OK);
    parent.complete(BlockStatus.OK); // the parent's own share
    assertThat(done).isEmpty();
    front.complete(BlockStatus.NOSPC);
    assertThat(done).containsExactly(parent);
    assertThat(parent.status()).isEqualTo(BlockStatus.NOSPC);
  }

  @Test
  void theParentsOwnShareMayArriveLastAndItsErrorCounts() {
    Bio parent = Bio.discard(0, 64, record);
    Bio a = parent.chainSlice(0, 32);
    Bio c = parent.chainSlice(32, 32);
    a.complete(BlockStatus.OK);
    c.complete(BlockStatus.OK);
    assertThat(done).isEmpty();
    parent.complete(BlockStatus.TIMEOUT);
    assertThat(done).containsExactly(parent);
    assertThat(parent.status()).isEqualTo(BlockStatus.TIMEOUT);
  }

  @Test
  void aChildWithItsOwnBufferGoesToAnyDevice() throws IOException {
    MemoryBlockDevice disk = MemoryBlockDevice.create("disk", 64);
    ByteBuffer own = ByteBuffer.allocate(1024);
    own.put(0, (byte) 7).put(1023, (byte) 9);
    Bio parent = Bio.read(0, ByteBuffer.allocate(512), record);
    Bio child = parent.chain(Bio.Op.WRITE, Bio.FUA, 10, 2, own);
    assertThat(child.device()).isNull();
    assertThat(child.data()).isSameAs(own);
    child.submit(disk);
    assertThat(done).isEmpty();
    parent.complete(BlockStatus.OK);
    assertThat(done).containsExactly(parent);
    assertThat(parent.status()).isEqualTo(BlockStatus.OK);
    ByteBuffer back = ByteBuffer.allocate(1024);
    disk.read(back, 10 * 512);
    assertThat(back.flip()).isEqualTo(own);

    Bio second = Bio.flush(record);
    second.chain(Bio.Op.READ, 0, 64, 1, ByteBuffer.allocate(512)).submit(disk); // beyond the end
    second.complete(BlockStatus.OK);
    assertThat(second.status()).isEqualTo(BlockStatus.IOERR);
  }

  @Test
  void aChainedChildMaySplitAgainInAMappedDevice() throws IOException {
    MemoryBlockDevice a = MemoryBlockDevice.create("a", 64);
    MemoryBlockDevice c = MemoryBlockDevice.create("c", 64);
    try (DeviceMapper dm = DeviceMapper.create()) {
      dm.registerDevice("a", a);
      dm.registerDevice("c", c);
      MappedDevice md = dm.create("both", "0 8 linear a 0\n8 8 linear c 0");
      ByteBuffer payload = ByteBuffer.allocate(16 * 512);
      for (int i = 0; i < payload.capacity(); i++) {
        payload.put(i, (byte) (i * 31));
      }
      Bio parent = Bio.write(0, payload, record);
      Bio child = parent.chainSlice(0, 16);
      child.submit(md); // crosses the boundary: the mapped device splits the child again
      parent.complete(BlockStatus.OK);
      assertThat(done).containsExactly(parent);
      assertThat(parent.status()).isEqualTo(BlockStatus.OK);
      ByteBuffer back = ByteBuffer.allocate(8 * 512);
      c.read(back, 0);
      assertThat(back.flip()).isEqualTo(payload.slice(8 * 512, 8 * 512));
    }
  }

  @Test
  void rejectedChainsChangeNothing() {
    Bio parent = Bio.read(0, ByteBuffer.allocate(2048), record);
    assertThatThrownBy(() -> parent.chainSlice(3, 2))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("slice of 2 sectors at 3 (expected: 0 <= offset <= offset + sectors <= 4)");
    assertThatThrownBy(() -> parent.chainSlice(-1, 1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> parent.chain(Bio.Op.WRITE, 0, 0, 2, ByteBuffer.allocate(512)))
        .hasMessageContaining("does not match the payload");
    assertThatThrownBy(() -> parent.chain(Bio.Op.DISCARD, 0, 0, 2, ByteBuffer.allocate(1024)))
        .hasMessageContaining("carries no payload");
    assertThatThrownBy(() -> parent.chain(Bio.Op.FLUSH, 0, 0, 2, null))
        .hasMessageContaining("a flush has no sectors");
    assertThatThrownBy(() -> parent.chain(Bio.Op.READ, 1 << 20, 0, 1, ByteBuffer.allocate(512)))
        .hasMessageContaining("unknown flags");
    parent.complete(BlockStatus.OK); // no pending child was left behind by the refusals
    assertThat(done).containsExactly(parent);
    assertThatThrownBy(() -> parent.chainSlice(0, 1))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("cannot chain to a completed bio");
  }

  @Test
  void cloneIsIndependent() {
    ByteBuffer b = ByteBuffer.allocate(512);
    Bio bio = Bio.write(3, b, Bio.FUA, record);
    List<Bio> cloneDone = new ArrayList<>();
    Bio copy = bio.clone(cloneDone::add);
    assertThat(copy.op()).isEqualTo(Bio.Op.WRITE);
    assertThat(copy.flags()).isEqualTo(Bio.FUA);
    assertThat(copy.data()).isSameAs(b);
    copy.complete(BlockStatus.OK);
    assertThat(cloneDone).containsExactly(copy);
    assertThat(done).isEmpty();
  }

  @Test
  void toStringNamesTheRequest() {
    Bio bio = Bio.write(5, ByteBuffer.allocate(1024), Bio.FUA | Bio.PREFLUSH, record);
    assertThat(bio.toString()).isEqualTo("Bio[WRITE|FUA|PREFLUSH sector=5 sectors=2]");
  }
}
