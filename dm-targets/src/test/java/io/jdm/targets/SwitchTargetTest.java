package io.jdm.targets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.TargetException;
import io.jdm.testkit.BaseChunkedTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.TargetFixture;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code switch} over three memory devices with the region size as the chunk. */
class SwitchTargetTest extends BaseChunkedTargetTestCase {
  @Override
  protected String targetType() {
    return "switch";
  }

  /**
   * Three paths to one storage device, the target's real use (a storage array reached through
   * several ports): a discard goes down one path only, as in the kernel, so the paths must share
   * the data for discards to read back as zeros.
   */
  @Override
  protected String targetArgs(TargetFixture f, long length, int chunk) {
    MemoryBlockDevice storage = MemoryBlockDevice.create("array", length + 40);
    return "3 "
        + chunk
        + " 0 "
        + f.register(storage)
        + " 40 "
        + f.register(storage)
        + " 40 "
        + f.register(storage)
        + " 40";
  }

  @Override
  protected DeviceCapabilities capabilities() {
    return DeviceCapabilities.disk().withWriteZeroes(false);
  }

  @Override
  protected List<BadArguments> badArguments(TargetFixture f) {
    String a = f.memory(1024);
    String b = f.memory(1024);
    return List.of(
        new BadArguments(64, "", "Invalid number of paths"),
        new BadArguments(64, "0 8 0", "Invalid number of paths"),
        new BadArguments(64, "x 8 0", "Invalid number of paths"),
        new BadArguments(64, "2", "Invalid region size"),
        new BadArguments(64, "2 0 0 " + a + " 0 " + b + " 0", "Invalid region size"),
        new BadArguments(64, "2 4294967296 0 " + a + " 0 " + b + " 0", "Invalid region size"),
        new BadArguments(64, "2 8", "Invalid number of optional args"),
        new BadArguments(64, "2 8 1 x " + a + " 0 " + b + " 0", "Invalid number of optional args"),
        new BadArguments(64, "2 8 0 " + a + " 0", "Incorrect number of path arguments"),
        new BadArguments(
            64, "2 8 0 " + a + " 0 " + b + " 0 " + a, "Incorrect number of path arguments"),
        new BadArguments(64, "2 8 0 " + a + " 0 /no/such 0", "Device lookup failed"),
        new BadArguments(64, "2 8 0 " + a + " 0 " + b + " -1", "Invalid device starting offset"),
        new BadArguments(64, "2 8 0 " + a + " 0 " + b + " 1000", "too small for target"));
  }

  // ---------------------------------------------------------------------------------------------
  // Region mappings, with two paths of 1024 sectors and regions of 16 sectors.

  private DeviceMapper dm;
  private MemoryBlockDevice[] paths;
  private MappedDevice sw;

  @BeforeEach
  void createSwitch() throws IOException {
    dm = DeviceMapper.create();
    paths = new MemoryBlockDevice[3];
    for (int i = 0; i < paths.length; i++) {
      paths[i] = MemoryBlockDevice.create("p" + i, 1024);
      dm.registerDevice("p" + i, paths[i]);
    }
    sw = dm.create("sw", "0 200 switch 3 16 0 p0 0 p1 100 p2 200");
  }

  @AfterEach
  void closeSwitch() throws IOException {
    dm.close();
    for (MemoryBlockDevice p : paths) {
      p.close();
    }
  }

  /** Which path region {@code r} goes to, found by writing a marker through the switch. */
  private int pathOf(long region) throws IOException {
    long sector = region * 16 + 3;
    ByteBuffer marker = ByteBuffer.allocate(512);
    marker.putLong(0, 0x5157_0000_0000L | region);
    sw.write(marker, sector * 512);
    int found = -1;
    long[] offsets = {0, 100, 200};
    for (int i = 0; i < paths.length; i++) {
      ByteBuffer got = ByteBuffer.allocate(512);
      paths[i].read(got, (offsets[i] + sector) * 512);
      if (got.getLong(0) == (0x5157_0000_0000L | region)) {
        assertThat(found).as("region %d on two paths", region).isEqualTo(-1);
        found = i;
      }
      paths[i].write(ByteBuffer.allocate(512), (offsets[i] + sector) * 512);
    }
    assertThat(found).as("region %d on no path", region).isNotEqualTo(-1);
    return found;
  }

  private int[] mapping() throws IOException {
    int[] m = new int[13]; // 200 sectors in regions of 16: 13 regions, the last one short
    for (int r = 0; r < m.length; r++) {
      m[r] = pathOf(r);
    }
    return m;
  }

  @Test
  void tableAndStatusTextAreTheKernels() {
    assertThat(sw.table()).isEqualTo("0 200 switch 3 16 0 240:0 0 240:1 100 240:2 200\n");
    assertThat(sw.status()).isEqualTo("0 200 switch \n");
    assertThat(sw.info().targetCount()).isEqualTo(1);
  }

  @Test
  void regionsStartRoundRobin() throws IOException {
    assertThat(mapping()).containsExactly(0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0);
  }

  @Test
  void setRegionMappingsWithExplicitAndFollowingRegions() throws IOException {
    assertThat(sw.message(0, "set_region_mappings", "0:2", ":2", ":0", "a:1", "C:0")).isEmpty();
    assertThat(mapping()).containsExactly(2, 2, 0, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0);
    // hex: 0xa = region 10; uppercase C = region 12; the command word is case-insensitive
    assertThat(sw.message(0, "Set_Region_Mappings", "5:1")).isEmpty();
    assertThat(mapping()).containsExactly(2, 2, 0, 0, 1, 1, 0, 1, 2, 0, 1, 2, 0);
  }

  @Test
  void repeatCopiesTheLastCycle() throws IOException {
    // regions 0,1 = 1,0 then repeat that 2-cycle over the next 5 regions (2..6)
    sw.message(0, "set_region_mappings", "0:1", ":0", "R2,5");
    assertThat(mapping()).containsExactly(1, 0, 1, 0, 1, 0, 1, 1, 2, 0, 1, 2, 0);
    sw.message(0, "set_region_mappings", "8:2", "r1,4");
    assertThat(mapping()).containsExactly(1, 0, 1, 0, 1, 0, 1, 1, 2, 2, 2, 2, 2);
  }

  @Test
  void badMappingsAreRefusedWithTheKernelsText() {
    assertMessageFails("invalid set_region_mappings argument: '0'", "0");
    assertMessageFails("invalid set_region_mappings argument: '0:'", "0:");
    assertMessageFails("invalid set_region_mappings argument: '0:1x'", "0:1x");
    assertMessageFails("invalid set_region_mappings argument: 'g:1'", "g:1");
    assertMessageFails("invalid set_region_mappings argument: 'R,1'", "R,1");
    assertMessageFails("invalid set_region_mappings argument: 'R1'", "R1");
    assertMessageFails("invalid set_region_mappings argument: 'R1,'", "R1,");
    assertMessageFails("invalid set_region_mappings argument: 'R1,2z'", "R1,2z");
    assertMessageFails("invalid set_region_mappings region number: 13 >= 13", "d:0");
    assertMessageFails("invalid set_region_mappings device: 3 >= 3", "0:3");
    assertMessageFails(
        "invalid set_region_mappings cycle length: 18446744073709551615 > 0", "R0,1");
    assertMessageFails("invalid set_region_mappings cycle length: 2 > 1", "1:0", "R3,1");
    assertMessageFails("invalid set_region_mappings region number: 10 + 3 >= 13", "a:0", "R1,3");
    // numbers are unsigned longs, as in the kernel: huge values are refused, not wrapped
    assertMessageFails(
        "invalid set_region_mappings device: 18446744073709551615 >= 3", "0:ffffffffffffffff");
    assertMessageFails(
        "invalid set_region_mappings region number: 18446744073709551615 >= 13",
        "ffffffffffffffff:1");
    assertMessageFails(
        "invalid set_region_mappings device: 9223372036854775808 >= 3", "1:8000000000000000");
    assertMessageFails(
        "invalid set_region_mappings cycle length: 9223372036854775808 > 1",
        "1:0",
        "R8000000000000001,1");
    assertMessageFails(
        "invalid set_region_mappings region number: 1 + 18446744073709551615 >= 13",
        "1:0",
        "R1,ffffffffffffffff");
    // the command word folds ASCII case only, as strcasecmp (not U+017F, a long s)
    assertThatThrownBy(() -> sw.message(0, "\u017fet_region_mappings", "0:1"))
        .hasMessage("Unrecognised message received.");
    assertThatThrownBy(() -> sw.message(0, "set_region_mapping", "0:1"))
        .isInstanceOf(TargetException.class)
        .hasMessage("Unrecognised message received.");
  }

  @Test
  void mappingsBeforeABadArgumentStayAsInTheKernel() throws IOException {
    assertMessageFails("invalid set_region_mappings device: 7 >= 3", "0:2", "1:7");
    assertThat(pathOf(0)).isEqualTo(2);
    assertThat(pathOf(1)).isEqualTo(1);
  }

  private void assertMessageFails(String error, String... mappings) {
    String[] argv = new String[mappings.length + 1];
    argv[0] = "set_region_mappings";
    System.arraycopy(mappings, 0, argv, 1, mappings.length);
    assertThatThrownBy(() -> sw.message(0, argv))
        .as("set_region_mappings %s", String.join(" ", mappings))
        .isInstanceOf(TargetException.class)
        .hasMessage(error);
  }

  /** As in the kernel, a discard is not cut at regions: it all goes down the first one's path. */
  @Test
  void aDiscardGoesDownOnePath() throws IOException {
    ByteBuffer data = randomData(32 * 512);
    sw.write(data.duplicate(), 0);
    assertThat(rangeBio(sw, Bio.Op.DISCARD, 0, 32)).isEqualTo(BlockStatus.OK);
    ByteBuffer p0 = ByteBuffer.allocate(32 * 512);
    paths[0].read(p0, 0);
    assertThat(p0.flip()).isEqualTo(ByteBuffer.allocate(32 * 512));
    ByteBuffer region1 = ByteBuffer.allocate(16 * 512);
    sw.read(region1, 16 * 512);
    assertThat(region1.flip()).isEqualTo(data.slice(data.position() + 16 * 512, 16 * 512));
  }

  @Test
  void tableReloadStartsRoundRobinAgain() throws IOException {
    sw.message(0, "set_region_mappings", "0:2", ":2", ":2");
    sw.load(sw.table());
    sw.resume();
    assertThat(mapping()).containsExactly(0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0);
  }
}
