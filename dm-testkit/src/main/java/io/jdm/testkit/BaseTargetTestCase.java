package io.jdm.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.DmException;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.SuspendMode;
import io.jdm.core.TableException;
import io.jdm.core.TableSpec;
import io.jdm.core.TargetType;
import io.jdm.testkit.DeviceCapabilities.Data;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * The suite for a target: the target is wrapped in a one-line table {@code 0 <length> <type>
 * <args>} in a fresh {@link DeviceMapper} and tested as a device with everything in {@link
 * BaseBlockDeviceTestCase}, plus what is particular to targets: the {@code table} text loads again
 * and prints the same, the status line has the kernel's shape, bad arguments from {@link
 * #badArguments} are refused with the right message and leave nothing behind, held I/O waits for
 * resume, tables swapped under load lose and fail nothing, and what was acknowledged before a flush
 * survives a power cut.
 *
 * <p>The backing memory devices of {@link TargetFixture} have a volatile write cache: a target that
 * forwards no flushes ({@link io.jdm.core.Target#numFlushBios()} 0) acknowledges a flush that never
 * reached the disk, and {@link #testFlushedWritesSurviveACrash()} fails on it.
 *
 * <p>After each test the device mapper must hold no open device, and is closed.
 */
public abstract class BaseTargetTestCase extends BaseBlockDeviceTestCase {
  private final List<DeviceMapper> mappers = new ArrayList<>();
  private final List<TargetFixture> fixtures = new ArrayList<>();
  private DeviceMapper lastMapper;
  private TargetFixture lastFixture;
  private String lastLine;

  protected BaseTargetTestCase() {}

  /** The target type's name in tables. */
  protected abstract String targetType();

  /**
   * Arguments for a table line of {@code length} sectors; make the backing devices through {@code
   * fixture}.
   */
  protected abstract String targetArgs(TargetFixture fixture, long length) throws IOException;

  /**
   * Whether tables are loaded read-only ({@code dmsetup --readonly}), for targets that refuse a
   * writable table (the kernel's {@code verity}: "Device must be readonly"). Default false.
   */
  protected boolean readOnlyTable() {
    return false;
  }

  /** The line length for a requested size (round it to what the target needs). */
  protected long targetLength(long sectors) {
    return sectors;
  }

  /**
   * The device mapper to test with, its targets' random choices drawn from the test's seed;
   * override to register target types of your own (pass {@code seed()} on to keep failures
   * replayable).
   */
  protected DeviceMapper newDeviceMapper() {
    return DeviceMapper.builder().seed(seed()).build();
  }

  /** A bad argument list and a fragment of the error it must produce. */
  public record BadArguments(long length, String args, String expectedError) {}

  /** Argument lists the target must refuse; each is tried in a fresh table line. */
  protected List<BadArguments> badArguments(TargetFixture fixture) throws IOException {
    return List.of();
  }

  /** The mapped device's table line for {@code length} sectors. */
  protected final String tableLine(TargetFixture fixture, long length) throws IOException {
    return "0 " + length + " " + targetType() + " " + targetArgs(fixture, length);
  }

  @Override
  protected BlockDevice createDevice(long sectors) throws IOException {
    DeviceMapper dm = newDeviceMapper();
    mappers.add(dm);
    TargetFixture f = new TargetFixture(dm);
    fixtures.add(f);
    lastMapper = dm;
    lastFixture = f;
    lastLine = tableLine(f, targetLength(sectors));
    return dm.create("dut", null, TableSpec.parse(lastLine), readOnlyTable());
  }

  /** The device mapper behind the device most recently made. */
  protected final DeviceMapper mapper() {
    return lastMapper;
  }

  /** The fixture behind the device most recently made. */
  protected final TargetFixture fixture() {
    return lastFixture;
  }

  @Override
  protected void afterDevicesClosed() throws Exception {
    try {
      for (DeviceMapper dm : mappers) {
        assertThat(dm.list()).as("devices left in the device mapper").isEmpty();
        assertThat(dm.openDeviceCount()).as("underlying devices still held open").isZero();
        dm.close();
      }
    } finally {
      mappers.clear();
      for (TargetFixture f : fixtures) {
        f.close();
      }
      fixtures.clear();
    }
  }

  // ---------------------------------------------------------------------------------------------

  @Test
  public void testTableTextReloadsToTheSameTable() throws IOException {
    MappedDevice md = (MappedDevice) newDevice();
    long len = md.sectors();
    String table = md.table();
    assertThat(table).startsWith("0 " + len + " " + targetType() + " ").endsWith("\n");
    assertThat(table.lines()).hasSize(1);
    ReferenceModel model = new ReferenceModel(md.sectors());
    if (capabilities().writesSucceed() && capabilities().data() == Data.PERSISTENT) {
      ByteBuffer data = randomData(64 * 512);
      md.write(data.duplicate(), 0);
      model.write(0, data);
    }
    md.load(table, md.isReadOnly());
    md.resume();
    assertThat(md.table()).isEqualTo(table);
    verify(md, model, 0, 64);
  }

  @Test
  public void testFlushedWritesSurviveACrash() throws IOException {
    DeviceCapabilities caps = capabilities();
    assumeTrue(
        caps.writesSucceed() && caps.data() == Data.PERSISTENT,
        "needs writes that succeed and read back (capabilities: writesSucceed, data PERSISTENT)");
    assumeTrue(
        caps.durableFlush(),
        "the target does not forward flushes (capabilities: durableFlush false)");
    MappedDevice md = (MappedDevice) newDevice();
    TargetFixture f = fixture();
    String line = lastLine;
    int bs = blockSectors(md);
    long blocks = md.sectors() / bs;
    ReferenceModel model = new ReferenceModel(md.sectors());
    for (int i = 0; i < 16; i++) {
      long sector = random.nextLong(blocks) * bs;
      ByteBuffer data = randomData(bs * 512);
      md.write(data.duplicate(), sector * 512);
      model.write(sector, data);
    }
    md.flush();
    for (int i = 0; i < 4; i++) { // after the flush: may or may not survive
      long sector = random.nextLong(blocks) * bs;
      md.write(randomData(bs * 512), sector * 512);
      model.unspecified(sector, bs);
    }
    Map<String, MemoryBlockDevice> disks = f.durableCopies();
    assumeTrue(
        !disks.isEmpty(),
        "the table uses no memory device of the fixture, so no write cache can lose power");
    md.remove();
    f.replace(disks);
    MappedDevice again = mapper().create("dut", null, TableSpec.parse(line), readOnlyTable());
    try {
      for (long s = 0; s < again.sectors(); s += 256) {
        verify(again, model, s, (int) Math.min(256, again.sectors() - s));
      }
    } finally {
      again.remove();
    }
  }

  @Test
  public void testStatusLine() throws IOException {
    MappedDevice md = (MappedDevice) newDevice();
    String status = md.status();
    assertThat(status).startsWith("0 " + md.sectors() + " " + targetType() + " ").endsWith("\n");
    assertThat(status.lines()).hasSize(1);
    assertThat(md.info().targetCount()).isEqualTo(1);
  }

  @Test
  public void testBadArgumentsAreRefusedAndLeaveNothingBehind() throws IOException {
    DeviceMapper dm = newDeviceMapper();
    mappers.add(dm);
    TargetFixture f = new TargetFixture(dm);
    fixtures.add(f);
    List<BadArguments> corpus = badArguments(f);
    assumeTrue(!corpus.isEmpty(), "no bad-argument corpus");
    List<TargetType> types = dm.targets();
    for (BadArguments bad : corpus) {
      String line = "0 " + bad.length() + " " + targetType() + " " + bad.args();
      assertThatThrownBy(() -> dm.create("bad", null, TableSpec.parse(line), readOnlyTable()))
          .as("table line \"%s\"", line)
          .isInstanceOf(TableException.class)
          .hasMessageContaining("line 1: " + targetType() + ": ")
          .hasMessageContaining(bad.expectedError());
      assertThat(dm.find("bad")).as("device left behind by \"%s\"", line).isEmpty();
      assertThat(dm.openDeviceCount()).as("devices left open by \"%s\"", line).isZero();
    }
    assertThat(dm.targets()).isEqualTo(types);
  }

  @Test
  public void testUnknownMessageIsRefused() throws IOException {
    MappedDevice md = (MappedDevice) newDevice();
    assertThatThrownBy(() -> md.message(0, "no_such_message_word")).isInstanceOf(DmException.class);
    assertThatThrownBy(() -> md.message(md.sectors(), "x"))
        .hasMessage("Target message sector outside device.");
    assertThatThrownBy(() -> md.message(0)).hasMessage("Empty message received.");
  }

  @Test
  public void testIoIsHeldWhileSuspended() throws IOException {
    assumeTrue(
        capabilities().writesSucceed(),
        "the device does not keep writes (capabilities: writesSucceed false)");
    MappedDevice md = (MappedDevice) newDevice();
    md.suspend();
    assertThat(md.isSuspended()).isTrue();
    assertThat(md.info().suspended()).isTrue();
    ByteBuffer data = randomData(8 * 512);
    BioTracker.Completion held = bios.completion();
    md.submit(Bio.write(8, data.duplicate(), held));
    assertThat(held.isDone()).as("write completed while suspended").isFalse();
    BioTracker.Completion nowait = bios.completion();
    Bio nw = Bio.read(0, ByteBuffer.allocate(512), nowait);
    nw.setFlags(Bio.NOWAIT);
    md.submit(nw);
    assertThat(nowait.await()).isEqualTo(BlockStatus.AGAIN);
    md.resume();
    assertThat(held.await()).isEqualTo(BlockStatus.OK);
    if (capabilities().data() == Data.PERSISTENT) {
      ReferenceModel model = new ReferenceModel(md.sectors());
      model.write(8, data);
      verify(md, model, 8, 8);
    }
  }

  @Test
  public void testTablesSwappedUnderLoadLoseNothing() throws Exception {
    DeviceCapabilities caps = capabilities();
    assumeTrue(
        caps.writesSucceed() && caps.concurrent(),
        "needs writes that succeed and concurrent I/O (capabilities: writesSucceed, concurrent)");
    MappedDevice md = (MappedDevice) newDevice();
    String table = md.table();
    int threads = 2;
    int bs = blockSectors(md);
    long region = md.sectors() / threads / bs * bs;
    AtomicBoolean stop = new AtomicBoolean();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<Integer>> futures = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        long lo = t * region;
        Random rnd = new Random(seed() + 31 * t);
        futures.add(
            pool.submit(
                () -> {
                  ReferenceModel model = new ReferenceModel(md.sectors());
                  int ops = 0;
                  while (!stop.get() || ops < 50) {
                    randomOp(md, model, lo, lo + region, rnd);
                    ops++;
                  }
                  verify(md, model, lo, (int) Math.min(region, 256L * bs), rnd);
                  return ops;
                }));
      }
      SuspendMode[] modes = SuspendMode.values();
      for (int i = 0; i < 200; i++) {
        md.load(table, md.isReadOnly());
        if (i % 3 != 0) {
          md.suspend(modes[i % modes.length]);
        }
        md.resume();
        assertThat(md.table()).isEqualTo(table);
      }
      stop.set(true);
      for (Future<Integer> f : futures) {
        assertThat(f.get(5, TimeUnit.MINUTES)).isGreaterThanOrEqualTo(50);
      }
    } finally {
      stop.set(true);
      pool.shutdownNow();
      assertThat(pool.awaitTermination(1, TimeUnit.MINUTES)).isTrue();
    }
  }
}
