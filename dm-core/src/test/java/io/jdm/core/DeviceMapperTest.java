package io.jdm.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DeviceMapperTest {
  @TempDir Path dir;
  private final DeviceMapper dm = DeviceMapper.create();

  @AfterEach
  void close() {
    dm.close();
    assertThat(dm.openDeviceCount()).isZero();
  }

  private Path file(String name, long sectors) throws IOException {
    Path p = dir.resolve(name);
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(sectors * 512);
    }
    return p;
  }

  @Test
  void createListRenameRemove() {
    MappedDevice a = dm.create("a", "0 8 zero");
    MappedDevice b = dm.create("b", "uuid-b", "0 8 error");
    assertThat(a.number()).isEqualTo(new DeviceNumber(253, 0));
    assertThat(b.number()).isEqualTo(new DeviceNumber(253, 1));
    assertThat(dm.list()).containsExactly(a, b);
    assertThat(dm.ls()).isEqualTo("a\t(253:0)\nb\t(253:1)\n");
    assertThat(dm.findByUuid("uuid-b")).contains(b);
    int events = a.eventNr();
    dm.rename("a", "c");
    assertThat(a.name()).isEqualTo("c");
    assertThat(a.eventNr()).isEqualTo(events + 1);
    assertThat(dm.find("a")).isEmpty();
    assertThat(dm.device("c")).isSameAs(a);
    dm.remove("c");
    b.remove();
    assertThat(dm.list()).isEmpty();
    assertThat(dm.ls()).isEqualTo("No devices found\n");
    assertThatThrownBy(() -> dm.device("c"))
        .isInstanceOf(DmException.class)
        .hasMessage("device c does not exist")
        .satisfies(e -> assertThat(((DmException) e).errno()).isEqualTo(Errno.ENXIO));
  }

  /** As the kernel's {@code next_free_minor}: the lowest free minor, so numbers come back. */
  @Test
  void minorsOfRemovedDevicesAreGivenAgainLowestFirst() {
    dm.create("a", "0 8 zero");
    dm.create("b", "0 8 zero");
    dm.create("c", "0 8 zero");
    dm.remove("a");
    dm.remove("b");
    assertThat(dm.create("d", "0 8 zero").number()).hasToString("253:0");
    assertThatThrownBy(() -> dm.create("bad", "0 8 linear")).isInstanceOf(TableException.class);
    assertThat(dm.create("e", "0 8 zero").number()).hasToString("253:1");
    assertThat(dm.ls()).isEqualTo("c\t(253:2)\nd\t(253:0)\ne\t(253:1)\n");
  }

  @Test
  void namesAndUuidsAreValidatedAndUnique() {
    dm.create("x", "u1", "0 8 zero");
    assertThatThrownBy(() -> dm.create("x", "0 8 zero"))
        .isInstanceOf(DmException.class)
        .hasMessage("device x already exists")
        .satisfies(e -> assertThat(((DmException) e).errno()).isEqualTo(Errno.EBUSY));
    assertThatThrownBy(() -> dm.create("y", "u1", "0 8 zero"))
        .hasMessage("uuid u1 is already used by device x");
    assertThatThrownBy(() -> dm.create("a/b")).hasMessage("device name cannot contain '/'");
    for (String bad : new String[] {"control", ".", ".."}) {
      assertThatThrownBy(() -> dm.create(bad))
          .hasMessage("device name cannot be \"control\", \".\", or \"..\"");
    }
    assertThatThrownBy(() -> dm.create("n".repeat(128)))
        .hasMessageEndingWith("too long: 128 bytes (at most 127)");
    assertThatThrownBy(() -> dm.rename("x", "x"))
        .hasMessage("Unable to change name on mapped device x to one that already exists: x");
    assertThatThrownBy(() -> dm.rename("nope", "z"))
        .hasMessage("Unable to rename non-existent device, nope to z");
    assertThatThrownBy(() -> dm.setUuid("x", "u2"))
        .hasMessage(
            "Unable to change uuid of mapped device x to u2 because uuid is already set to u1");
    dm.create("z");
    dm.setUuid("z", "u3");
    assertThat(dm.device("z").uuid()).contains("u3");
    assertThat(dm.list()).hasSize(2);
  }

  @Test
  void namesThatCouldForgeOutputLinesOrHaveTwoSpellingsAreRefused() {
    dm.create("ok");
    for (String bad :
        new String[] {
          "a\u0000b", "a\nb", "a\tb", "a\rb", "a\u007fb", "a\u0085b", "a\ud800b", "\udc00"
        }) {
      assertThatThrownBy(() -> dm.create(bad))
          .isInstanceOf(DmException.class)
          .satisfies(e -> assertThat(((DmException) e).errno()).isEqualTo(Errno.EINVAL))
          .satisfies(e -> assertThat(e.getMessage()).doesNotContain(bad).doesNotContain("\n"));
      assertThatThrownBy(() -> dm.rename("ok", bad)).isInstanceOf(DmException.class);
      assertThatThrownBy(() -> dm.create("u", bad, "0 8 zero")).isInstanceOf(DmException.class);
      assertThatThrownBy(() -> dm.setUuid("ok", bad)).isInstanceOf(DmException.class);
    }
    assertThatThrownBy(() -> dm.create("a\nb"))
        .hasMessage(
            "device name \"a\\x0ab\" contains the control character 0x0a at 1 (names and uuids"
                + " are printable UTF-8)");
    assertThatThrownBy(() -> dm.create("a\ud800b"))
        .hasMessage("device name \"a\\ud800b\" is not valid UTF-8 (unpaired surrogate at 1)");
    // lengths are UTF-8 bytes, as DM_NAME_LEN and DM_UUID_LEN count them
    String e63 = "\u00e9".repeat(63); // 126 bytes
    dm.create(e63 + "x");
    assertThatThrownBy(() -> dm.create(e63 + "\u00e9"))
        .hasMessageEndingWith("too long: 128 bytes (at most 127)");
    dm.create("v", "\u00e9".repeat(64), "0 8 zero");
    assertThatThrownBy(() -> dm.create("w", "\u00e9".repeat(64) + "x", "0 8 zero"))
        .hasMessageEndingWith("too long: 129 bytes (at most 128)");
    // printable non-ASCII and emoji (a surrogate pair) are names like any other
    dm.create("disk-\u00fc-\ud83d\udcbe");
    assertThat(dm.list()).hasSize(4);
  }

  @Test
  void characterDevicesFifosAndAreasPastTheEndOfAFileAreRefusedAtLoad() throws Exception {
    assertThatThrownBy(() -> dm.create("null", "0 100 linear /dev/null 0"))
        .isInstanceOf(TableException.class)
        .hasMessage(
            "line 1: linear: Device lookup failed: /dev/null: not a block device or regular file"
                + " (a character device)")
        .satisfies(e -> assertThat(((TableException) e).errno()).isEqualTo(Errno.ENOTBLK));
    Path fifo = dir.resolve("fifo");
    Process p = new ProcessBuilder("mkfifo", fifo.toString()).start();
    assertThat(p.waitFor()).isZero();
    assertThatThrownBy(() -> dm.create("fifo", "0 100 linear " + fifo + " 0"))
        .hasMessageEndingWith(fifo + ": not a block device or regular file (a FIFO)");
    assertThatThrownBy(() -> dm.create("dir", "0 100 linear " + dir + " 0"))
        .hasMessageEndingWith(dir + ": not a block device or regular file (a folder)");
    Path empty = file("empty", 0);
    assertThatThrownBy(() -> dm.create("empty", "0 100 linear " + empty + " 0"))
        .hasMessageContaining("too small for target: start=0, len=100, dev_size=0");
    assertThat(dm.list()).isEmpty();
  }

  @Test
  void targetsAreListedNewestFirstAsDmsetupDoes() {
    assertThat(dm.registry().describe())
        .startsWith("")
        .contains("zero             v1.2.0\n")
        .endsWith("striped          v1.6.0\nlinear           v1.4.0\nerror            v1.7.0\n");
    assertThatThrownBy(() -> dm.registry().register(new io.jdm.core.targets.ZeroTargetType()))
        .hasMessage("'zero' target already registered");
  }

  @Test
  void pathsResolveInTheDocumentedOrder() throws IOException {
    Path f = file("disk.img", 100);
    MemoryBlockDevice reg = MemoryBlockDevice.create("reg", 100);
    dm.registerDevice("disk1", reg);
    MappedDevice base = dm.create("base", "0 100 linear " + f + " 0");
    MappedDevice top =
        dm.create(
            "top",
            "0 10 linear /dev/mapper/base 0\n"
                + "10 10 linear base 10\n"
                + "20 10 linear 253:0 20\n"
                + "30 10 linear disk1 0\n"
                + "40 10 linear "
                + f
                + " 40\n");
    assertThat(top.table())
        .isEqualTo(
            "0 10 linear 253:0 0\n10 10 linear 253:0 10\n20 10 linear 253:0 20\n"
                + "30 10 linear 240:0 0\n40 10 linear 7:0 40\n");
    assertThat(top.deps())
        .containsExactly(
            new DeviceNumber(253, 0), new DeviceNumber(240, 0), new DeviceNumber(7, 0));
    assertThat(base.openCount()).isEqualTo(1);
    assertThat(dm.numberOf(f.toString())).contains(new DeviceNumber(7, 0));
    // the numbers printed by table() resolve back to the same devices
    top.load(top.table());
    top.resume();
    assertThat(top.deps()).hasSize(3);
    reg.close();
  }

  @Test
  void aDeviceInUseCannotBeRemoved() throws IOException {
    MappedDevice base = dm.create("base", "0 100 zero");
    MappedDevice top = dm.create("top", "0 100 linear base 0");
    assertThat(base.openCount()).isEqualTo(1);
    assertThat(base.info().openCount()).isEqualTo(1);
    assertThatThrownBy(() -> dm.remove("base"))
        .isInstanceOf(DmException.class)
        .hasMessageContaining("device base is busy: open count 1")
        .satisfies(e -> assertThat(((DmException) e).errno()).isEqualTo(Errno.EBUSY));
    assertThat(base.table()).isEqualTo("0 100 zero \n"); // untouched
    top.remove();
    assertThat(base.openCount()).isZero();
    base.remove();
  }

  @Test
  void openHandlesHoldTheDeviceAndDeferredRemoveWaitsForThem() throws IOException {
    MappedDevice md = dm.create("d", "0 100 zero");
    BlockDevice h = md.open();
    assertThat(md.openCount()).isEqualTo(1);
    h.read(ByteBuffer.allocate(512), 0);
    assertThatThrownBy(() -> dm.remove("d")).hasMessageContaining("busy");
    dm.remove("d", DeviceMapper.RemoveOption.DEFERRED);
    assertThat(md.info().deferredRemove()).isTrue();
    assertThat(md.info().toString()).contains("State:             ACTIVE (DEFERRED REMOVE)\n");
    assertThat(dm.find("d")).isPresent();
    h.close();
    h.close();
    assertThat(dm.find("d")).isEmpty();
    assertThatThrownBy(() -> h.read(ByteBuffer.allocate(512), 0))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void deferredRemoveCanBeCancelledByMessage() throws IOException {
    MappedDevice md = dm.create("d", "0 100 zero");
    BlockDevice h = md.open();
    dm.remove("d", DeviceMapper.RemoveOption.DEFERRED);
    assertThat(md.message(0, "@cancel_deferred_remove")).isEmpty();
    assertThat(md.info().deferredRemove()).isFalse();
    assertThatThrownBy(() -> md.message(0, "@cancel_deferred_remove", "x"))
        .hasMessage("Invalid arguments for @cancel_deferred_remove");
    assertThatThrownBy(() -> md.message(0, "@stats_list"))
        .hasMessage("Unsupported message sent to DM core: @stats_list");
    h.close();
    assertThat(dm.find("d")).isPresent();
  }

  @Test
  void forcedRemoveFailsIoForRemainingOpeners() throws IOException {
    MappedDevice md = dm.create("d", "0 100 zero");
    BlockDevice h = md.open();
    assertThatThrownBy(() -> dm.remove("d", DeviceMapper.RemoveOption.FORCE))
        .hasMessageContaining("busy");
    assertThat(md.table()).isEqualTo("0 100 error \n");
    assertThatThrownBy(() -> h.read(ByteBuffer.allocate(512), 0))
        .isInstanceOf(BlockIOException.class);
    h.close();
    dm.remove("d");
  }

  @Test
  void filesAreOpenedOnceAndClosedWhenNoTableUsesThem() throws IOException {
    Path f = file("shared.img", 200);
    MappedDevice a = dm.create("a", "0 100 linear " + f + " 0\n100 100 linear " + f + " 100");
    assertThat(dm.openDeviceCount()).isEqualTo(1);
    MappedDevice b = dm.create("b", "0 100 linear " + f + " 100");
    assertThat(dm.openDeviceCount()).isEqualTo(2); // one per using device, as the kernel
    a.remove();
    assertThat(dm.openDeviceCount()).isEqualTo(1);
    b.remove();
    assertThat(dm.openDeviceCount()).isZero();
  }

  @Test
  void aFailedCreateReleasesEverythingItOpened() throws IOException {
    Path f = file("d.img", 100);
    MappedDevice base = dm.create("base", "0 100 zero");
    List<TargetType> types = dm.targets();
    assertThatThrownBy(
            () ->
                dm.create(
                    "bad", "0 50 linear " + f + " 0\n50 50 linear base 0\n100 10 linear nope 0"))
        .isInstanceOf(TableException.class)
        .hasMessageStartingWith("line 3: linear: Device lookup failed: nope: no such device");
    assertThat(dm.find("bad")).isEmpty();
    assertThat(dm.openDeviceCount()).isZero();
    assertThat(base.openCount()).isZero();
    assertThat(dm.targets()).isEqualTo(types);
    // the file was closed: it can be deleted and created again
    Files.delete(f);
  }

  @Test
  void aDeviceCannotUseItselfOrCreateALoop() {
    MappedDevice a = dm.create("a", "0 100 zero");
    assertThatThrownBy(() -> a.load("0 100 linear a 0"))
        .isInstanceOf(TableException.class)
        .hasMessageContaining("a device cannot be used in its own table");
    dm.create("b", "0 100 linear a 0");
    assertThatThrownBy(() -> a.load("0 100 linear b 0"))
        .hasMessageContaining("b depends on a (dependency loop)");
    assertThat(a.hasInactiveTable()).isFalse();
  }

  @Test
  void readOnlyDevicesCannotBeMappedWritable() throws IOException {
    MemoryBlockDevice backing = MemoryBlockDevice.create("m", 100);
    dm.create("ro", null, TableSpec.parse("0 100 linear " + register(backing) + " 0"), true);
    assertThat(dm.device("ro").isReadOnly()).isTrue();
    assertThatThrownBy(() -> dm.create("rw", "0 100 linear ro 0"))
        .hasMessageContaining("ro: device is read-only");
    dm.create("ro2", null, TableSpec.parse("0 100 linear ro 0"), true);
    assertThat(dm.device("ro2").info().toString()).contains("ACTIVE (READ-ONLY)");
    backing.close();
  }

  private String register(BlockDevice d) {
    dm.registerDevice("dev-" + d.name(), d);
    return "dev-" + d.name();
  }

  @Test
  void registeredDevicesStayTheCallers() throws IOException {
    MemoryBlockDevice m = MemoryBlockDevice.create("m", 100);
    dm.registerDevice("m", m);
    assertThatThrownBy(() -> dm.registerDevice("m", m)).hasMessageContaining("already registered");
    MappedDevice md = dm.create("x", "0 100 linear m 0");
    assertThatThrownBy(() -> dm.unregisterDevice("m"))
        .hasMessageContaining("used by the table of x");
    md.remove();
    dm.unregisterDevice("m");
    assertThat(m.isClosed()).isFalse();
    m.close();
  }

  @Test
  void closeTakesStacksDownFromTheTop() throws IOException {
    Path f = file("d.img", 100);
    dm.create("l0", "0 100 linear " + f + " 0");
    dm.create("l1", "0 100 linear l0 0");
    dm.create("l2", "0 100 linear l1 0");
    dm.close();
    assertThat(dm.list()).isEmpty();
    assertThat(dm.openDeviceCount()).isZero();
    assertThatThrownBy(() -> dm.create("again")).isInstanceOf(IllegalStateException.class);
    Files.delete(f);
  }

  @Test
  void resolverDevicesAreClosedWhenUnused() throws IOException {
    List<BlockDevice> opened = new java.util.ArrayList<>();
    dm.addResolver(
        new DeviceResolver() {
          @Override
          public String key(String path) {
            return path.startsWith("mem://") ? path : null;
          }

          @Override
          public BlockDevice open(String path, boolean readOnly) {
            MemoryBlockDevice m = MemoryBlockDevice.create(path, 64);
            opened.add(m);
            return m;
          }
        });
    MappedDevice md = dm.create("r", "0 64 linear mem://one 0");
    assertThat(md.table()).isEqualTo("0 64 linear 240:0 0\n");
    assertThat(opened).hasSize(1);
    md.remove();
    assertThat(((MemoryBlockDevice) opened.get(0)).isClosed()).isTrue();
    assertThat(Map.of()).isEmpty();
  }
}
