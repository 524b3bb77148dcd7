package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.BlockDevice;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * dmsetup's options through {@code jdmsetup}: the {@code info -c} report ({@code -o}, {@code
 * --noheadings}, {@code --separator}, {@code --nameprefixes}), {@code --target}, {@code -u} and
 * {@code -j}/{@code -m} selection, {@code remove --retry}, {@code -o devname|blkdevname}, and extra
 * arguments refused. Expected texts follow {@code libdm/dm-tools/dmsetup.c} and {@code
 * libdm/libdm-report.c} (lvm2); the refusals that need no kernel were checked against the installed
 * dmsetup 1.02.185.
 */
class JdmsetupOptionsTest {
  @TempDir Path tmp;

  private RuntimeDir dir;
  private Daemon daemon;
  private Cli cli;
  private Path disk;

  @BeforeEach
  void startDaemon() throws IOException {
    dir = new RuntimeDir(tmp.resolve("run"));
    daemon = Daemon.start(dir);
    cli = new Cli(dir);
    disk = tmp.resolve("d");
    try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
      f.setLength(200 * 512);
    }
  }

  private static final Jdmsetup.Sleeper REAL_SLEEPER = Jdmsetup.retrySleeper;

  @AfterEach
  void stopDaemon() {
    Jdmsetup.retrySleeper = REAL_SLEEPER;
    daemon.close();
  }

  /**
   * base (253:0) over the file, left (253:1) and right (253:2) over base, top (253:3) over both.
   */
  private void stack() {
    cli.run("create", "base", "-u", "U-base", "--table", "0 200 linear " + disk + " 0").ok();
    cli.run("create", "left", "--table", "0 100 linear base 0").ok();
    cli.run("create", "right", "--table", "0 100 linear base 100;100 8 zero").ok();
    cli.run("create", "top", "--table", "0 100 linear left 0;100 100 linear right 0").ok();
  }

  @Test
  void infoColumnsHasDmsetupsWidths() {
    cli.run("create", "vol", "-u", "U-1", "--table", "0 100 zero").ok();
    cli.run("create", "two", "--table", "0 50 error;50 50 zero").ok();
    // every column padded to its width (Name 16, UUID 32 at least), the last one too
    assertThat(cli.run("info", "-c").ok().out())
        .isEqualTo(
            "Name             Maj Min Stat Open Targ Event  UUID"
                + " ".repeat(28)
                + "\ntwo              253   1 L--w    0    2      0 "
                + " ".repeat(32)
                + "\nvol              253   0 L--w    0    1      0 U-1"
                + " ".repeat(29)
                + "\n");
    assertThat(cli.run("info", "-C", "vol").ok().out())
        .endsWith("      0 U-1" + " ".repeat(29) + "\n");
  }

  @Test
  void infoColumnsWithFields() {
    stack();
    cli.run("suspend", "right").ok();
    assertThat(cli.run("info", "-c", "-o", "name,attr,tables_loaded,suspended,readonly").ok().out())
        .isEqualTo(
            "Name             Stat Tables Suspended Read-only\n"
                + "base             L--w Live   Active    Writeable\n"
                + "left             L--w Live   Active    Writeable\n"
                + "right            L-sw Live   Suspended Writeable\n"
                + "top              L--w Live   Active    Writeable\n");
    cli.run("resume", "right").ok();
    assertThat(
            cli.run(
                    "info",
                    "-c",
                    "-o",
                    "name,devno,blkdevname,device_count,devs_used,devnos_used,blkdevs_used,"
                        + "device_ref_count,names_using_dev,devnos_using_dev",
                    "top",
                    "base")
                .ok()
                .out())
        .isEqualTo(
            "Name             DevNo BlkDevName       #Devs DevNamesUsed     DevNosUsed       "
                + "BlkDevNamesUsed  #Refs RefNames   RefDevNos  \n"
                + "top              253:3 dm-3                 2 left,right       253:1,253:2      "
                + "dm-1,dm-2            0                       \n"
                + "base             253:0 dm-0                 1                  7:0              "
                + "7:0                  2 left,right 253:1,253:2\n");
    // +FIELDS adds to the default ones
    assertThat(cli.run("info", "-c", "-o", "+read_ahead", "--separator", "|", "base").ok().out())
        .isEqualTo(
            "Name|Maj|Min|Stat|Open|Targ|Event|UUID|RAhead\nbase|253|0|L--w|2|1|0|U-base|256\n");
  }

  @Test
  void noheadingsSeparatorAndNamePrefixes() {
    cli.run("create", "vol", "-u", "U-1", "--table", "0 100 zero").ok();
    // --noheadings: dmsetup's old format, ':' between unaligned fields
    assertThat(cli.run("info", "-c", "--noheadings").ok().out())
        .isEqualTo("vol:253:0:L--w:0:1:0:U-1\n");
    assertThat(
            cli.run("info", "-c", "--noheadings", "--separator", " ", "-o", "name,open").ok().out())
        .isEqualTo("vol 0\n");
    assertThat(cli.run("info", "-c", "--separator", ",", "-o", "name,minor").ok().out())
        .isEqualTo("Name,Min\nvol,0\n");
    assertThat(cli.run("info", "-c", "--nameprefixes", "-o", "name,uuid,open").ok().out())
        .isEqualTo("Name UUID Open\nDM_NAME='vol' DM_UUID='U-1' DM_OPEN='0'\n");
    // what udev's 10-dm.rules asks for, with a separator as it gives one
    assertThat(
            cli.run(
                    "info",
                    "-j",
                    "253",
                    "-m",
                    "0",
                    "-c",
                    "--nameprefixes",
                    "--noheadings",
                    "--separator",
                    " ",
                    "-o",
                    "name,uuid,suspended,readonly,major,minor,open,tables_loaded,names_using_dev")
                .ok()
                .out())
        .isEqualTo(
            "DM_NAME='vol' DM_UUID='U-1' DM_SUSPENDED='Active' DM_READONLY='Writeable'"
                + " DM_MAJOR='253' DM_MINOR='0' DM_OPEN='0' DM_TABLES_LOADED='Live'"
                + " DM_NAMES_USING_DEV=''\n");
    assertThat(cli.run("info", "-c", "--noheadings", "nope").failed().err())
        .isEqualTo("Device does not exist.\nCommand failed.\n");
  }

  @Test
  void unknownFieldListsTheFields() {
    cli.run("create", "vol", "--table", "0 100 zero").ok();
    Cli.Result r = cli.run("info", "-c", "-o", "name,bogus");
    assertThat(r.failed().err()).contains("  name                  - Name\n");
    assertThat(r.err()).endsWith("Unrecognised field: bogus\n");
    assertThat(r.out()).isEmpty();
    // without -c, -o is the device-name option
    assertThat(cli.run("info", "-o", "name").failed().err())
        .isEqualTo("Option not recognised: name.\nCouldn't process command line.\n");
  }

  @Test
  void targetFiltersTableStatusAndLs() {
    stack();
    assertThat(cli.run("table", "--target", "zero").ok().out()).isEqualTo("right: 100 8 zero \n");
    assertThat(cli.run("table", "--target", "zero", "right").ok().out()).isEqualTo("100 8 zero \n");
    assertThat(cli.run("table", "--target", "zero", "left").ok().out()).isEmpty();
    assertThat(cli.run("status", "--target", "zero").ok().out()).isEqualTo("right: 100 8 zero \n");
    // dmsetup's ls --target goes through its status path: "(253, 2)", with a comma
    assertThat(cli.run("ls", "--target", "zero").ok().out()).isEqualTo("right\t(253, 2)\n");
    assertThat(cli.run("ls", "--target", "linear").ok().out())
        .isEqualTo("base\t(253, 0)\nleft\t(253, 1)\nright\t(253, 2)\ntop\t(253, 3)\n");
    assertThat(cli.run("ls", "--target", "linear", "-j", "253", "-m", "1").ok().out())
        .isEqualTo("left\t(253, 1)\n");
    assertThat(cli.run("ls", "--target", "crypt").ok().out()).isEmpty();
  }

  @Test
  void severalNamesArePrefixedAsDmsetupDoes() {
    stack();
    assertThat(cli.run("table", "left", "right").ok().out())
        .isEqualTo(
            "left: 0 100 linear 253:0 0\nright: 0 100 linear 253:0 100\nright: 100 8 zero \n");
    assertThat(cli.run("deps", "left", "top").ok().out())
        .isEqualTo("left: 1 dependencies\t: (253, 0)\ntop: 2 dependencies\t: (253, 1) (253, 2)\n");
    assertThat(cli.run("table", "left").ok().out()).isEqualTo("0 100 linear 253:0 0\n");
  }

  @Test
  void uuidAndNumberSelection() {
    stack();
    assertThat(cli.run("table", "-u", "U-base").ok().out()).isEqualTo("0 200 linear 7:0 0\n");
    assertThat(cli.run("status", "-j", "253", "-m", "1").ok().out()).isEqualTo("0 100 linear \n");
    assertThat(cli.run("info", "--uuid", "U-base").ok().out())
        .startsWith("Name:              base\n");
    assertThat(cli.run("deps", "-j", "253", "-m", "3").ok().out())
        .isEqualTo("2 dependencies\t: (253, 1) (253, 2)\n");
    cli.run("suspend", "-j", "253", "-m", "2").ok();
    assertThat(cli.run("info", "right").ok().out()).contains("SUSPENDED");
    cli.run("resume", "--major", "253", "--minor", "2").ok();
    assertThat(cli.run("info", "right").ok().out()).contains("ACTIVE");
    assertThat(cli.run("info", "-u", "nope").failed().err())
        .isEqualTo("Device does not exist.\nCommand failed.\n");
    assertThat(cli.run("remove", "-u", "nope").failed().err())
        .isEqualTo(
            "device-mapper: remove ioctl on  nope failed: No such device or address\n"
                + "Command failed.\n");
    assertThat(cli.run("remove", "-j", "253", "-m", "9").failed().err())
        .isEqualTo(
            "device-mapper: remove ioctl on  (253:9) failed: No such device or address\n"
                + "Command failed.\n");
    assertThat(cli.run("info", "-j", "253").failed().err())
        .isEqualTo(
            "Please specify both major number and minor number.\n"
                + "Couldn't process command line.\n");
    assertThat(cli.run("remove").failed().err())
        .isEqualTo("No device specified.\nCommand failed.\n");
    cli.run("remove", "-j", "253", "-m", "3").ok();
    assertThat(cli.run("ls").ok().out()).doesNotContain("top");
  }

  @Test
  void devnameAndBlkdevnameOptions() {
    stack();
    assertThat(cli.run("deps", "-o", "devname", "top").ok().out())
        .isEqualTo("2 dependencies\t: (left) (right)\n");
    assertThat(cli.run("deps", "-o", "blkdevname", "top").ok().out())
        .isEqualTo("2 dependencies\t: (dm-1) (dm-2)\n");
    // a device that is not a mapped device has no kernel name here: its number, as dmsetup
    // prints when it cannot resolve one
    assertThat(cli.run("deps", "-o", "blkdevname", "base").ok().out())
        .isEqualTo("1 dependencies\t: (7, 0)\n");
    assertThat(cli.run("deps", "-o", "devno", "top").ok().out())
        .isEqualTo("2 dependencies\t: (253, 1) (253, 2)\n");
    assertThat(cli.run("ls", "-o", "blkdevname").ok().out())
        .isEqualTo("base\t(dm-0)\nleft\t(dm-1)\nright\t(dm-2)\ntop\t(dm-3)\n");
    assertThat(cli.run("ls", "-o", "devname").ok().out())
        .isEqualTo("base\t(base)\nleft\t(left)\nright\t(right)\ntop\t(top)\n");
    assertThat(cli.run("deps", "-o", "bogus").failed().err())
        .isEqualTo("Option not recognised: bogus.\nCouldn't process command line.\n");
  }

  @Test
  void removeRetryWaitsForTheLastUser() throws IOException {
    cli.run("create", "vol", "--table", "0 100 zero").ok();
    BlockDevice handle = daemon.deviceMapper().device("vol").open();
    AtomicInteger sleeps = new AtomicInteger();
    Jdmsetup.retrySleeper =
        () -> {
          if (sleeps.incrementAndGet() == 3) {
            try {
              handle.close();
            } catch (IOException e) {
              throw new java.io.UncheckedIOException(e);
            }
          }
        };
    cli.run("remove", "--retry", "vol").ok();
    assertThat(sleeps).hasValue(3);
    assertThat(cli.run("ls").ok().out()).isEqualTo("No devices found\n");

    cli.run("create", "held", "--table", "0 100 zero").ok();
    BlockDevice h2 = daemon.deviceMapper().device("held").open();
    sleeps.set(0);
    Jdmsetup.retrySleeper = sleeps::incrementAndGet;
    Cli.Result busy = cli.run("remove", "--retry", "held").failed();
    assertThat(sleeps).hasValue(Jdmsetup.REMOVE_RETRIES);
    assertThat(busy.err())
        .startsWith("device-mapper: remove ioctl on held  failed: Device or resource busy\n")
        .endsWith("Command failed.\n");
    h2.close();
  }

  @Test
  void targetLogLinesNameTheDevice() throws IOException {
    cli.run("create", "first", "--table", "0 8 zero").ok();
    cli.run("create", "dusty", "--table", "0 64 dust " + disk + " 0 512").ok();
    cli.run("message", "dusty", "0", "addbadblock", "5").ok();
    assertThat(java.nio.file.Files.readString(dir.logFile()))
        .contains(
            " INFO device-mapper: dust: dm-1: dust_add_block: badblock added at block 5 with write fail count 0\n");
  }

  @Test
  void extraArgumentsAreRefused() {
    cli.run("create", "vol", "--table", "0 100 zero").ok();
    String[][] cmds = {
      {"create", "x", "--table", "0 1 zero", "extra"},
      {"create", "x", "a", "b"},
      {"load", "vol", "--table", "0 1 zero", "extra"},
      {"ls", "extra"},
      {"targets", "extra"},
      {"version", "extra"},
      {"rename", "vol", "b", "c"},
      {"wait", "vol", "1", "2"},
      {"remove_all", "extra"},
    };
    for (String[] c : cmds) {
      Cli.Result r = cli.run(c).failed();
      assertThat(r.err())
          .as(String.join(" ", c))
          .startsWith("Incorrect number of arguments.\n")
          .contains("Usage: jdmsetup " + c[0]);
    }
    assertThat(cli.run("ls").ok().out()).isEqualTo("vol\t(253:0)\n");
    assertThat(cli.run("create", "x", "--table", "0 1 zero", "--notable").failed().err())
        .isEqualTo("--table and --notable are incompatible.\nCouldn't process command line.\n");
  }
}
