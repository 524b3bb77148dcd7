package io.jdm.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.IoLimits;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.NullBlockDevice;
import io.jdm.core.io.DmIo.Region;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class DmIoTest {
  private final List<BlockDevice> open = new ArrayList<>();

  @AfterEach
  void closeDevices() throws IOException {
    for (BlockDevice d : open) {
      d.close();
    }
  }

  private MemoryBlockDevice memory(String name, long sectors) {
    MemoryBlockDevice d = MemoryBlockDevice.create(name, sectors);
    open.add(d);
    return d;
  }

  private InstrumentedDevice instrumented(String name, long sectors, IoLimits limits) {
    MemoryBlockDevice m = memory(name + "-mem", sectors);
    return new InstrumentedDevice(name, m, limits == null ? m.limits() : limits);
  }

  private static ByteBuffer pattern(int bytes, long seed) {
    ByteBuffer b = ByteBuffer.allocate(bytes);
    new Random(seed).nextBytes(b.array());
    return b;
  }

  private static ByteBuffer readBack(BlockDevice d, long sector, int sectors) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(sectors << Bio.SECTOR_SHIFT);
    d.read(b, sector << Bio.SECTOR_SHIFT);
    return b.flip();
  }

  @Test
  void writesOnePayloadToEveryRegionAndReadsOneBack() throws IOException {
    MemoryBlockDevice a = memory("a", 256);
    MemoryBlockDevice b = memory("b", 256);
    ByteBuffer payload = pattern(16 * 512, 1);
    DmIo.write(
        List.of(new Region(a, 0, 16), new Region(b, 100, 16), new Region(a, 200, 16)),
        payload,
        Bio.FUA);
    assertThat(payload.position()).isZero();
    assertThat(readBack(a, 0, 16)).isEqualTo(payload);
    assertThat(readBack(b, 100, 16)).isEqualTo(payload);
    assertThat(readBack(a, 200, 16)).isEqualTo(payload);

    ByteBuffer dst = ByteBuffer.allocate(20 * 512).position(2 * 512).limit(18 * 512);
    DmIo.read(new Region(b, 100, 16), dst);
    assertThat(dst.position()).isEqualTo(2 * 512);
    assertThat(dst).isEqualTo(payload);
  }

  @Test
  void regionsAreSplitAtEachDevicesLimits() throws IOException {
    InstrumentedDevice small =
        instrumented("small", 1024, IoLimits.builder().maxSectors(8).chunkSectors(16).build());
    InstrumentedDevice big = instrumented("big", 1024, null);
    ByteBuffer payload = pattern(100 * 512, 2);
    DmIo.write(List.of(new Region(small, 5, 100), new Region(big, 5, 100)), payload, 0);
    assertThat(small.violations()).isZero();
    // 5..8, then 8-sector parts that stop at every multiple of 16: 3, 8, 8, 8, 8, ... 8, 1
    assertThat(small.seen()).allSatisfy(s -> assertThat(s.sectors()).isLessThanOrEqualTo(8));
    assertThat(small.seen().stream().mapToInt(InstrumentedDevice.Seen::sectors).sum())
        .isEqualTo(100);
    assertThat(small.seen()).hasSize(14);
    assertThat(big.seen()).hasSize(1);
    assertThat(readBack(big, 5, 100)).isEqualTo(payload);

    ByteBuffer dst = ByteBuffer.allocate(100 * 512);
    DmIo.read(new Region(small, 5, 100), dst);
    assertThat(dst).isEqualTo(payload);
    assertThat(small.violations()).isZero();
  }

  @Test
  void discardAndWriteZeroesAreSplitAtTheirOwnLimits() throws IOException {
    InstrumentedDevice d =
        new InstrumentedDevice(
            "d",
            NullBlockDevice.create("null", 1L << 34),
            IoLimits.builder().maxDiscardSectors(1 << 20).maxWriteZeroesSectors(1 << 30).build());
    long huge = (1L << 32) + 8; // more sectors than one bio holds
    DmIo.run(Bio.Op.WRITE_ZEROES, Bio.NOUNMAP, List.of(new Region(d, 0, huge)), null);
    assertThat(d.count(Bio.Op.WRITE_ZEROES)).isEqualTo(5);
    assertThat(d.seen()).allSatisfy(s -> assertThat(s.flags() & Bio.NOUNMAP).isNotZero());
    DmIo.run(Bio.Op.DISCARD, 0, List.of(new Region(d, 8, 3 << 20)), null);
    assertThat(d.count(Bio.Op.DISCARD)).isEqualTo(3);
    assertThat(d.violations()).isZero();
  }

  @Test
  void unsupportedWriteZeroesFailsThatRegionWithoutIo() {
    InstrumentedDevice plain =
        instrumented("plain", 64, IoLimits.builder().maxWriteZeroesSectors(0).build());
    MemoryBlockDevice other = memory("other", 64);
    DmIoException e =
        catchDmIo(
            () ->
                DmIo.run(
                    Bio.Op.WRITE_ZEROES,
                    0,
                    List.of(new Region(other, 0, 8), new Region(plain, 0, 8)),
                    null));
    assertThat(e.errorBits()).isEqualTo(0b10);
    assertThat(e.status(1)).isEqualTo(BlockStatus.NOTSUPP);
    assertThat(e.status(0)).isEqualTo(BlockStatus.OK);
    assertThat(plain.seen()).isEmpty();
  }

  @Test
  void failedRegionsAreReportedBitByBitAndTheOthersStillWritten() throws IOException {
    MemoryBlockDevice good0 = memory("good0", 64);
    MemoryBlockDevice good2 = memory("good2", 64);
    InstrumentedDevice medium =
        instrumented("medium", 64, IoLimits.builder().maxSectors(4).build())
            .failRange(10, 11, BlockStatus.MEDIUM);
    try (DeviceMapper dm = DeviceMapper.create()) {
      BlockDevice error = dm.create("bad", "0 64 error");
      List<Region> regions =
          List.of(
              new Region(good0, 0, 16),
              new Region(error, 8, 16),
              new Region(good2, 16, 16),
              new Region(medium, 0, 16));
      ByteBuffer payload = pattern(16 * 512, 3);

      CompletableFuture<Long> bits = new CompletableFuture<>();
      AtomicInteger calls = new AtomicInteger();
      DmIo.write(
          regions,
          payload,
          0,
          b -> {
            calls.incrementAndGet();
            bits.complete(b);
          });
      assertThat(bits.join()).isEqualTo(0b1010L);
      assertThat(calls.get()).isEqualTo(1);
      assertThat(readBack(good0, 0, 16)).isEqualTo(payload);
      assertThat(readBack(good2, 16, 16)).isEqualTo(payload);

      DmIoException e = catchDmIo(() -> DmIo.write(regions, payload, 0));
      assertThat(e.errorBits()).isEqualTo(0b1010L);
      assertThat(e.status(1)).isEqualTo(BlockStatus.IOERR);
      assertThat(e.status(3)).isEqualTo(BlockStatus.MEDIUM);
      assertThat(e.status()).isEqualTo(BlockStatus.IOERR);
      assertThat(e.device()).isEqualTo("bad");
      assertThat(e.sector()).isEqualTo(8);
      assertThat(e.getMessage())
          .isEqualTo(
              "I/O error, dev bad, sector 8 (dm-io write: regions 1, 3 of 4 failed:"
                  + " 1 bad:8+16 I/O, 3 medium:0+16 critical medium)");
    }
  }

  @Test
  void aFailedReadLeavesZerosNotAMix() {
    InstrumentedDevice d =
        instrumented("d", 64, IoLimits.builder().maxSectors(2).build())
            .failRange(5, 6, BlockStatus.IOERR);
    ByteBuffer dst = ByteBuffer.allocate(8 * 512);
    for (int i = 0; i < dst.capacity(); i++) {
      dst.put(i, (byte) 0xff);
    }
    DmIoException e = catchDmIo(() -> DmIo.read(new Region(d, 0, 8), dst));
    assertThat(e.errorBits()).isEqualTo(1);
    assertThat(dst.array()).containsOnly(0);
  }

  @Test
  void flagsReachEveryPartAndFlushesEveryRegion() throws IOException {
    InstrumentedDevice a = instrumented("a", 64, IoLimits.builder().maxSectors(4).build());
    InstrumentedDevice b = instrumented("b", 64, null);
    ByteBuffer payload = pattern(8 * 512, 4);
    AtomicLong bits = new AtomicLong(-1);
    DmIo.write(
        List.of(new Region(a, 0, 8), new Region(b, 0, 8)),
        payload,
        Bio.FUA | Bio.PREFLUSH,
        bits::set);
    assertThat(bits.get()).isZero();
    assertThat(a.seen())
        .extracting(InstrumentedDevice.Seen::flags)
        .containsExactly(Bio.FUA | Bio.PREFLUSH, Bio.FUA | Bio.PREFLUSH);
    assertThat(b.seen()).extracting(InstrumentedDevice.Seen::flags).containsExactly(3);

    DmIo.run(Bio.Op.FLUSH, 0, List.of(new Region(a, 0, 0), new Region(b, 0, 0)), null);
    assertThat(a.count(Bio.Op.FLUSH)).isEqualTo(1);
    assertThat(b.count(Bio.Op.FLUSH)).isEqualTo(1);
    assertThat(a.seen().get(2).flags()).isEqualTo(Bio.SYNC); // the synchronous form adds SYNC

    // an empty region: nothing, or only the flush that PREFLUSH asks for
    DmIo.run(Bio.Op.DISCARD, 0, List.of(new Region(a, 0, 0)), null);
    assertThat(a.seen()).hasSize(3);
    DmIo.run(Bio.Op.DISCARD, Bio.PREFLUSH, List.of(new Region(a, 0, 0)), null);
    assertThat(a.seen()).hasSize(4);
    assertThat(a.seen().get(3).op()).isEqualTo(Bio.Op.FLUSH);
  }

  @Test
  void completionMayComeFromOtherThreadsOnceForAll() throws Exception {
    InstrumentedDevice a = instrumented("a", 64, IoLimits.builder().maxSectors(2).build());
    InstrumentedDevice b = instrumented("b", 64, null).failRange(0, 64, BlockStatus.TIMEOUT);
    a.hold(true);
    b.hold(true);
    CompletableFuture<Long> bits = new CompletableFuture<>();
    AtomicInteger calls = new AtomicInteger();
    DmIo.write(
        List.of(new Region(a, 0, 8), new Region(b, 8, 8)),
        pattern(8 * 512, 5),
        0,
        x -> {
          calls.incrementAndGet();
          bits.complete(x);
        });
    assertThat(a.heldCount()).isEqualTo(4);
    assertThat(b.heldCount()).isEqualTo(1);
    CompletableFuture.runAsync(b::releaseAll).get(1, TimeUnit.MINUTES);
    a.release(3);
    a.release(0);
    assertThat(bits).isNotDone();
    CompletableFuture.runAsync(a::releaseAll).get(1, TimeUnit.MINUTES);
    assertThat(bits.get(1, TimeUnit.MINUTES)).isEqualTo(0b10);
    assertThat(calls.get()).isEqualTo(1);
  }

  @Test
  void aClosedDeviceFailsItsRegionOnly() throws IOException {
    MemoryBlockDevice a = memory("a", 64);
    MemoryBlockDevice gone = MemoryBlockDevice.create("gone", 64);
    gone.close();
    ByteBuffer payload = pattern(4 * 512, 6);
    DmIoException e =
        catchDmIo(
            () -> DmIo.write(List.of(new Region(gone, 0, 4), new Region(a, 0, 4)), payload, 0));
    assertThat(e.errorBits()).isEqualTo(1);
    assertThat(e.status(0)).isEqualTo(BlockStatus.IOERR);
    assertThat(readBack(a, 0, 4)).isEqualTo(payload);
  }

  @Test
  void malformedRequestsAreRefusedBeforeAnyIo() {
    InstrumentedDevice d = instrumented("d", 64, null);
    InstrumentedDevice big =
        instrumented("big", 64, IoLimits.builder().logicalBlockSize(4096).build());
    ByteBuffer b = ByteBuffer.allocate(4096);
    Region r8 = new Region(d, 0, 8);
    List<Region> many = new ArrayList<>();
    for (int i = 0; i < 65; i++) {
      many.add(r8);
    }
    assertThatThrownBy(() -> DmIo.write(many, b, 0))
        .hasMessage("dm-io write of 65 regions (expected: 1 to 64)");
    assertThatThrownBy(() -> DmIo.write(List.of(), b, 0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> DmIo.run(Bio.Op.READ, 0, List.of(r8, r8), b))
        .hasMessage("dm-io read of 2 regions (expected: a read has one region)");
    assertThatThrownBy(() -> DmIo.write(List.of(r8, new Region(d, 8, 4)), b, 0))
        .hasMessage("dm-io write: region 1 (d:8+4) has 4 sectors (expected: the payload's 8)");
    assertThatThrownBy(() -> DmIo.write(List.of(r8, new Region(big, 4, 8)), b, 0))
        .hasMessage(
            "dm-io write: region 1 (big:4+8) is not aligned to the logical block size 4096 of"
                + " big");
    assertThatThrownBy(() -> DmIo.run(Bio.Op.DISCARD, 0, List.of(r8), b))
        .hasMessage("dm-io discard carries no payload");
    assertThatThrownBy(() -> DmIo.run(Bio.Op.FLUSH, 0, List.of(r8), null))
        .hasMessage("dm-io flush: region 0 (d:0+8) has sectors (expected: count 0)");
    assertThatThrownBy(() -> DmIo.write(List.of(r8), b, 1 << 20))
        .hasMessageContaining("unknown flags");
    assertThatThrownBy(() -> DmIo.write(List.of(r8), ByteBuffer.allocate(100), 0))
        .hasMessage("dm-io write: payload of 100 bytes is not a multiple of 512");
    assertThatThrownBy(() -> new Region(d, -1, 8))
        .hasMessage("region of d at sector -1, count 8 (expected: sector >= 0, count >= 0)");
    assertThat(d.seen()).isEmpty();
    assertThat(big.seen()).isEmpty();
  }

  @Test
  void seededRandomRequestsMatchAReferenceModel() throws IOException {
    long seed = Long.getLong("jdm.seed", System.nanoTime());
    Random rnd = new Random(seed);
    int sectors = 2048;
    InstrumentedDevice[] devs = {
      instrumented("r0", sectors, IoLimits.builder().maxSectors(8).build()),
      instrumented("r1", sectors, IoLimits.builder().maxSectors(24).chunkSectors(32).build()),
      instrumented("r2", sectors, null),
    };
    byte[][] model = new byte[devs.length][sectors << Bio.SECTOR_SHIFT];
    for (int step = 0; step < 300; step++) {
      int n = 1 + rnd.nextInt(100);
      ByteBuffer payload = pattern(n << Bio.SECTOR_SHIFT, rnd.nextLong());
      List<Region> regions = new ArrayList<>();
      for (int i = 0; i < devs.length; i++) {
        if (rnd.nextBoolean()) {
          long at = rnd.nextInt(sectors - n);
          regions.add(new Region(devs[i], at, n));
          System.arraycopy(
              payload.array(), 0, model[i], (int) at << Bio.SECTOR_SHIFT, payload.capacity());
        }
      }
      if (!regions.isEmpty()) {
        DmIo.write(regions, payload, 0);
      }
      int which = rnd.nextInt(devs.length);
      long at = rnd.nextInt(sectors - n);
      ByteBuffer dst = ByteBuffer.allocate(n << Bio.SECTOR_SHIFT);
      DmIo.read(new Region(devs[which], at, n), dst);
      assertThat(dst)
          .as("seed %d step %d", seed, step)
          .isEqualTo(ByteBuffer.wrap(model[which], (int) at << Bio.SECTOR_SHIFT, dst.capacity()));
    }
    for (InstrumentedDevice d : devs) {
      assertThat(d.violations()).as("seed %d", seed).isZero();
    }
  }

  interface IoCall {
    void run() throws IOException;
  }

  private static DmIoException catchDmIo(IoCall call) {
    try {
      call.run();
    } catch (DmIoException e) {
      return e;
    } catch (IOException e) {
      throw new AssertionError("expected a DmIoException", e);
    }
    throw new AssertionError("expected a DmIoException, nothing was thrown");
  }
}
