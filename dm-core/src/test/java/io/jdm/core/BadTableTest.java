package io.jdm.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Bad tables loaded into a device that is serving a good one: each is refused with an error that
 * names the line, the target and the rule, and leaves the device, its tables, the registry and the
 * open devices as they were.
 */
class BadTableTest {
  private final DeviceMapper dm = DeviceMapper.create();
  private final MemoryBlockDevice disk = MemoryBlockDevice.create("disk", 1000);
  private MappedDevice md;
  private List<TargetType> types;

  @BeforeEach
  void setUp() throws IOException {
    dm.registerDevice("disk", disk);
    md = dm.create("vol", "0 500 linear disk 0\n500 500 linear disk 500");
    md.load("0 1000 linear disk 0");
    ByteBuffer b = ByteBuffer.allocate(512);
    b.put(0, (byte) 7);
    md.write(b, 0);
    types = dm.targets();
  }

  @AfterEach
  void tearDown() throws IOException {
    dm.close();
    disk.close();
  }

  private void assertUnchanged() throws IOException {
    assertThat(md.table()).isEqualTo("0 500 linear 240:0 0\n500 500 linear 240:0 500\n");
    assertThat(md.inactiveTable()).isEqualTo("0 1000 linear 240:0 0\n");
    assertThat(md.isSuspended()).isFalse();
    assertThat(dm.targets()).isEqualTo(types);
    assertThat(dm.openDeviceCount()).isEqualTo(1);
    assertThat(dm.list()).containsExactly(md);
    ByteBuffer b = ByteBuffer.allocate(512);
    md.read(b, 0);
    assertThat(b.get(0)).isEqualTo((byte) 7);
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
          0 100 nosuch                                    | line 1: nosuch: unknown target type
          0 100 flakey disk 0 1 1                         | line 1: flakey: unknown target type (provided by jdm's dm-targets module: put io.jdm:dm-targets on the class path)
          0 100 crypt aes-xts-plain64 - 0 disk 0          | line 1: crypt: unknown target type (provided by jdm's dm-crypto module: put io.jdm:dm-crypto on the class path)
          0 100 linear disk 0\\n50 100 linear disk 0       | line 2: linear: Gap in table (starts at sector 50, expected 100)
          0 100 linear disk 0\\n200 100 linear disk 0      | line 2: linear: Gap in table (starts at sector 200, expected 100)
          5 100 linear disk 0                             | line 1: linear: Gap in table (starts at sector 5, expected 0)
          0 0 linear disk 0                               | line 1: linear: zero-length target
          0 100 linear disk -1                            | line 1: linear: Invalid device sector
          0 100 linear disk 0x10                          | line 1: linear: Invalid device sector
          0 100 linear disk 18446744073709551616          | line 1: linear: Invalid device sector
          -1 100 linear disk 0                            | line 1: invalid start sector "-1"
          0 0x64 linear disk 0                            | line 1: invalid length "0x64"
          0 18446744073709551616 zero                     | line 1: invalid length
          0 9223372036854775807 zero                      | line 1: zero: too large device
          0 100 linear disk                               | line 1: linear: Invalid argument count
          0 100 linear disk 0 0                           | line 1: linear: Invalid argument count
          0 100 linear /no/such/disk 0                    | line 1: linear: Device lookup failed: /no/such/disk: no such device
          0 100 linear disk 950                           | line 1: linear: device 240:0 (disk) too small for target: start=950, len=100, dev_size=1000
          0 100 striped 2 0 disk 0 disk 500               | line 1: striped: Invalid chunk_size
          0 100 striped 2 8 disk 0 disk 500               | line 1: striped: Target length not divisible by chunk size
          0 101 striped 2 8 disk 0 disk 500               | line 1: striped: Target length not divisible by number of stripes
          0 96 striped 2 8 disk 0                         | line 1: striped: Not enough destinations specified
          0 96 zero 1                                     | line 1: zero: No arguments required
          """)
  void isRefusedAndChangesNothing(String table, String error) throws IOException {
    String text = table.replace("\\n", "\n");
    assertThatThrownBy(() -> md.load(text))
        .isInstanceOf(TableException.class)
        .hasMessageStartingWith(error);
    assertUnchanged();
    assertThatThrownBy(() -> dm.create("other", text)).isInstanceOf(TableException.class);
    assertUnchanged();
  }

  @Test
  void anEmptyTableIsRefused() throws IOException {
    assertThatThrownBy(() -> md.load("# nothing\n")).hasMessage("no targets specified");
    assertUnchanged();
  }

  @Test
  void exceptionsCarryTheLineTheTargetAndTheRule() {
    TableException e =
        (TableException)
            org.assertj.core.api.Assertions.catchThrowable(
                () -> md.load("0 10 zero\n10 96 striped 2 7 disk 0 disk 500"));
    assertThat(e.line()).isEqualTo(2);
    assertThat(e.targetType()).isEqualTo("striped");
    assertThat(e.reason()).isEqualTo("Target length not divisible by chunk size");
    assertThat(e.errno()).isEqualTo(Errno.EINVAL);
  }

  @Test
  void misalignedTargetsOnA4kDeviceAreRefused() throws IOException {
    MemoryBlockDevice big = MemoryBlockDevice.builder("4k", 800).logicalBlockSize(4096).build();
    dm.registerDevice("4k", big);
    assertThatThrownBy(() -> md.load("0 12 linear 4k 0"))
        .hasMessage(
            "line 1: linear: len=12 not aligned to h/w logical block size 4096 of 240:1 (4k)");
    assertThatThrownBy(() -> md.load("0 8 linear 4k 4"))
        .hasMessage(
            "line 1: linear: start=4 not aligned to h/w logical block size 4096 of 240:1 (4k)");
    assertThatThrownBy(() -> md.load("0 4 zero\n4 8 linear 4k 0"))
        .hasMessageContaining("not aligned to h/w logical block size 4096");
    assertUnchanged();
    big.close();
  }

  @Test
  void anUnknownMessageIsRefused() throws IOException {
    assertThatThrownBy(() -> md.message(0, "frobnicate"))
        .isInstanceOf(TargetException.class)
        .hasMessage("Target type does not support messages");
    assertUnchanged();
  }
}
