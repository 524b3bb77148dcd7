package io.jdm.targets.multipath;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.BlockIOException;
import io.jdm.core.DeviceMapper;
import io.jdm.core.DmException;
import io.jdm.core.Errno;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.SuspendMode;
import io.jdm.core.TargetException;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Table and status text exactly as the kernel prints them (trailing space included), and the
 * messages with their errors. Paths a, b, c are 240:0, 240:1, 240:2, all on one store.
 */
class MultipathTextTest {
  private DeviceMapper dm;
  private MemoryBlockDevice store;
  private PathDevice a;
  private PathDevice b;
  private PathDevice c;

  @BeforeEach
  void paths() {
    dm = DeviceMapper.create();
    store = MemoryBlockDevice.create("store", 1024);
    a = new PathDevice("a", store, false);
    b = new PathDevice("b", store, false);
    c = new PathDevice("c", store, false);
    assertThat(dm.registerDevice("a", a)).hasToString("240:0");
    assertThat(dm.registerDevice("b", b)).hasToString("240:1");
    assertThat(dm.registerDevice("c", c)).hasToString("240:2");
  }

  @AfterEach
  void close() throws IOException {
    dm.close();
    store.close();
  }

  private MappedDevice mp(String args) {
    return dm.create("mp", "0 1024 multipath " + args);
  }

  private static String table(MappedDevice md) {
    String t = md.table();
    return t.substring("0 1024 multipath ".length(), t.length() - 1);
  }

  private static String status(MappedDevice md) {
    String t = md.status();
    return t.substring("0 1024 multipath ".length(), t.length() - 1);
  }

  private static void read(MappedDevice md) throws IOException {
    md.read(ByteBuffer.allocate(512), 0);
  }

  @Test
  void roundRobinTextBeforeAndAfterTheFirstIo() throws IOException {
    MappedDevice md = mp("0 0 1 1 round-robin 0 2 1 a 1 b 1");
    assertThat(table(md)).isEqualTo("0 0 1 1 round-robin 0 2 1 240:0 1 240:1 1 ");
    // Before any I/O the kernel still has MPATHF_QUEUE_IO set and no current group.
    assertThat(status(md)).isEqualTo("2 1 0 0 1 1 E 0 2 0 240:0 A 0 240:1 A 0 ");
    read(md);
    assertThat(status(md)).isEqualTo("2 0 0 0 1 1 A 0 2 0 240:0 A 0 240:1 A 0 ");
    assertThat(dm.targets().stream().filter(t -> t.name().equals("multipath")).findFirst())
        .hasValueSatisfying(t -> assertThat(t.version()).hasToString("1.14.0"));
  }

  @Test
  void featuresPrintInTheKernelsOrderWithTheirCount() {
    assertThat(
            table(
                mp(
                    "6 pg_init_delay_msecs 0 retain_attached_hw_handler queue_if_no_path"
                        + " pg_init_retries 50 0 0 0")))
        .isEqualTo(
            "6 queue_if_no_path pg_init_retries 50 pg_init_delay_msecs 0"
                + " retain_attached_hw_handler 0 0 0 ");
    dm.remove("mp");
    // queue_mode bio implies retain_attached_hw_handler; its handler arguments are ignored
    assertThat(table(mp("2 QUEUE_MODE bio 2 alua x 0 0")))
        .isEqualTo("3 retain_attached_hw_handler queue_mode bio 0 0 0 ");
    dm.remove("mp");
    assertThat(table(mp("2 queue_mode rq 0 0 0"))).isEqualTo("0 0 0 0 ");
    dm.remove("mp");
    assertThat(table(mp("2 queue_mode mq 0 0 0"))).isEqualTo("0 0 0 0 ");
  }

  @Test
  void noGroupsFailsIoAndClearsQueueIo() {
    MappedDevice md = mp("0 0 0 0");
    assertThat(table(md)).isEqualTo("0 0 0 0 ");
    assertThat(status(md)).isEqualTo("2 1 0 0 0 0 ");
    assertThatThrownBy(() -> read(md))
        .isInstanceOf(BlockIOException.class)
        .hasMessageContaining("I/O");
    assertThat(status(md)).isEqualTo("2 0 0 0 0 0 ");
  }

  @Test
  void selectorsPrintTheirArgumentsAndState() throws IOException {
    MappedDevice md =
        mp(
            "0 0 4 3 queue-length 0 1 1 a 5 service-time 0 2 2 b 1 4 c 0 0"
                + " historical-service-time 2 900 3 1 1 a 7 round-robin 0 1 0 c");
    assertThat(table(md))
        .isEqualTo(
            "0 0 4 3 queue-length 0 1 1 240:0 1 service-time 0 2 2 240:1 1 4 240:2 0 0"
                + " historical-service-time 2 900 3 1 1 240:0 0 round-robin 0 1 1 240:2 1 ");
    assertThat(status(md))
        .isEqualTo(
            "2 1 0 0 4 3 E 0 1 1 240:0 A 0 0 E 0 2 2 240:1 A 0 0 4 240:2 A 0 0 0"
                + " E 2 900 3 1 3 240:0 A 0 1024 0 0 E 0 1 0 240:2 A 0 ");
    read(md); // the initial group, hst: one I/O that took no time on the system clock's terms
    assertThat(status(md)).startsWith("2 0 0 0 4 3 E 0 1 1 240:0 A 0 0 E ").contains(" A 2 900 3 ");
  }

  @Test
  void anInitialGroupBeyondTheLastIsAcceptedAndIgnoredAsTheKernelDoes() throws IOException {
    MappedDevice md = mp("0 0 2 3 round-robin 0 1 0 a round-robin 0 1 0 b");
    assertThat(table(md)).startsWith("0 0 2 1 ");
    read(md);
    assertThat(a.submitted.get()).isEqualTo(1);
    assertThat(status(md)).isEqualTo("2 0 0 0 2 1 A 0 1 0 240:0 A 0 E 0 1 0 240:1 A 0 ");
  }

  @Test
  void failAndReinstateByNumberOrNameRaiseEvents() throws IOException {
    MappedDevice md = mp("0 0 2 1 round-robin 0 2 0 a b round-robin 0 1 0 a");
    int ev;
    assertThat(md.eventNr()).isZero();
    assertThat(md.message(0, "fail_path", "240:0")).isEmpty();
    ev = md.eventNr();
    assertThat(ev).as("one event per path failed").isEqualTo(2);
    // every path on the device, in every group
    assertThat(status(md)).isEqualTo("2 1 0 0 2 1 E 0 2 0 240:0 F 1 240:1 A 0 E 0 1 0 240:0 F 1 ");
    md.message(0, "fail_path", "a"); // already failed: no change, no event
    assertThat(md.eventNr()).isEqualTo(ev);
    read(md);
    assertThat(b.submitted.get()).isEqualTo(1);
    md.message(0, "Reinstate_Path", "a");
    assertThat(md.eventNr()).isEqualTo(ev + 2);
    assertThat(status(md)).isEqualTo("2 0 0 0 2 1 A 0 2 0 240:0 A 1 240:1 A 0 E 0 1 0 240:0 A 1 ");
    assertThatThrownBy(() -> md.message(0, "fail_path", "nosuch"))
        .isInstanceOf(TargetException.class)
        .hasMessage("message: error getting device nosuch");
    assertThatThrownBy(() -> md.message(0, "fail_path", "240:2"))
        .isInstanceOf(TargetException.class)
        .hasMessage("message: 240:2 is not a path of this device");
  }

  @Test
  void groupMessagesAndTheirErrors() throws IOException {
    MappedDevice md = mp("0 0 2 1 round-robin 0 1 0 a round-robin 0 1 0 b");
    read(md);
    int ev = md.eventNr();
    md.message(0, "switch_group", "2");
    assertThat(md.eventNr()).isEqualTo(ev + 1);
    assertThat(status(md)).isEqualTo("2 0 0 0 2 2 E 0 1 0 240:0 A 0 E 0 1 0 240:1 A 0 ");
    read(md);
    assertThat(b.submitted.get()).isEqualTo(1);
    assertThat(status(md)).isEqualTo("2 0 0 0 2 2 E 0 1 0 240:0 A 0 A 0 1 0 240:1 A 0 ");
    md.message(0, "disable_group", "2");
    assertThat(status(md)).isEqualTo("2 0 0 0 2 1 E 0 1 0 240:0 A 0 D 0 1 0 240:1 A 0 ");
    read(md);
    assertThat(a.submitted.get()).isEqualTo(2);
    md.message(0, "disable_group", "1");
    // only bypassed groups left: the kernel uses them anyway
    read(md);
    assertThat(a.submitted.get()).isEqualTo(3);
    // a bypassed group shows D even while it is the current one
    assertThat(status(md)).isEqualTo("2 0 0 0 2 1 D 0 1 0 240:0 A 0 D 0 1 0 240:1 A 0 ");
    md.message(0, "enable_group", "2");
    md.message(0, "switch_group", "1"); // clears the bypass of every group
    assertThat(status(md)).isEqualTo("2 0 0 0 2 1 E 0 1 0 240:0 A 0 E 0 1 0 240:1 A 0 ");
    for (String bad : new String[] {"0", "3", "x", "-1", "1 "}) {
      assertThatThrownBy(() -> md.message(0, "switch_group", bad))
          .hasMessage("invalid PG number supplied to switch_pg_num");
      assertThatThrownBy(() -> md.message(0, "disable_group", bad))
          .hasMessage("invalid PG number supplied to bypass_pg");
      assertThatThrownBy(() -> md.message(0, "enable_group", bad))
          .hasMessage("invalid PG number supplied to bypass_pg");
    }
  }

  @Test
  void badMessages() {
    MappedDevice md = mp("0 0 1 1 round-robin 0 1 0 a");
    assertThatThrownBy(() -> md.message(0, "fail_path"))
        .isInstanceOf(TargetException.class)
        .hasMessage("Invalid multipath message arguments. Expected 2 arguments, got 1.");
    assertThatThrownBy(() -> md.message(0, "queue_if_no_path", "1"))
        .hasMessage("Unrecognised multipath message received: queue_if_no_path");
    assertThatThrownBy(() -> md.message(0, "fail_path", "a", "b"))
        .hasMessage("Invalid multipath message arguments. Expected 2 arguments, got 3.");
    assertThatThrownBy(() -> md.message(0, "frobnicate", "a"))
        .hasMessage("Unrecognised multipath message received: frobnicate");
    assertThat(md.message(0, "QUEUE_IF_NO_PATH")).isEmpty();
    assertThat(table(md)).startsWith("1 queue_if_no_path 0 ");
    assertThat(md.message(0, "fail_if_no_path")).isEmpty();
    assertThat(table(md)).startsWith("0 0 ");
    assertThatThrownBy(() -> mp("0 0 0 0")).isInstanceOf(DmException.class); // "mp" exists
  }

  @Test
  void messagesAreRefusedWithEbusyWhileSuspended() {
    MappedDevice md = mp("0 0 1 1 round-robin 0 1 0 a");
    md.suspend(SuspendMode.NOFLUSH);
    assertThatThrownBy(() -> md.message(0, "fail_path", "a"))
        .isInstanceOf(TargetException.class)
        .extracting(e -> ((DmException) e).errno())
        .isEqualTo(Errno.EBUSY);
    md.resume();
    assertThat(md.message(0, "fail_path", "a")).isEmpty();
  }
}
