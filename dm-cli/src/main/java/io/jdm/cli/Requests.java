package io.jdm.cli;

import io.jdm.core.DeviceInfo;
import io.jdm.core.DeviceMapper;
import io.jdm.core.DeviceNumber;
import io.jdm.core.DmException;
import io.jdm.core.Errno;
import io.jdm.core.MappedDevice;
import io.jdm.core.SuspendMode;
import io.jdm.core.TableException;
import io.jdm.core.TableSpec;
import io.jdm.crypto.luks.Luks;
import io.jdm.crypto.luks.LuksPassphraseException;
import io.jdm.crypto.luks.PlainMode;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Carries out control requests on a {@link DeviceMapper} and renders the answers in {@code
 * dmsetup}'s output formats (the kernel-format text comes from {@link MappedDevice}). Every failure
 * becomes an error response naming the ioctl dmsetup would have used, the errno and the reason.
 *
 * <p>Thread-safe: it keeps no state of its own.
 */
final class Requests {
  /** The device-mapper ioctl interface version jdm mirrors ({@code dmsetup version}). */
  static final String DRIVER_VERSION = "4.48.0";

  private final DeviceMapper dm;

  Requests(DeviceMapper dm) {
    this.dm = dm;
  }

  /** The verbs {@link #handle} knows ({@code PROTOCOL.md}). */
  private static final Set<String> VERBS =
      Set.of(
          "luks_open",
          "crypt_status",
          "version",
          "targets",
          "create",
          "load",
          "suspend",
          "resume",
          "remove",
          "remove_all",
          "rename",
          "clear",
          "ls",
          "table",
          "status",
          "info",
          "deps",
          "report",
          "message",
          "wait",
          "shutdown");

  /** Carries out {@code r}; never throws for a refused operation. */
  Protocol.Response handle(Protocol.Request r) {
    if (!VERBS.contains(r.verb())) {
      String v = r.verb();
      return Protocol.Response.error(
          "-",
          Errno.EINVAL.name(),
          "unknown request \"" + (v.length() <= 64 ? v : v.substring(0, 64) + "...") + "\"");
    }
    String ioctl = ioctlOf(r.verb());
    try {
      return Protocol.Response.ok(run(r));
    } catch (TableException e) {
      return Protocol.Response.error(
          ioctl.equals("create") ? "reload" : ioctl, e.errno().name(), e.getMessage());
    } catch (DmException e) {
      return Protocol.Response.error(ioctl, e.errno().name(), e.getMessage());
    } catch (IllegalArgumentException | IllegalStateException e) {
      return Protocol.Response.error(ioctl, Errno.EINVAL.name(), e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Protocol.Response.error(ioctl, Errno.EAGAIN.name(), "interrupted");
    } catch (LuksPassphraseException e) {
      return Protocol.Response.error(ioctl, Errno.EPERM.name(), e.getMessage());
    } catch (IOException e) {
      return Protocol.Response.error(ioctl, Errno.EINVAL.name(), e.getMessage());
    }
  }

  /** The ioctl dmsetup names in its failure message for each request. */
  private static String ioctlOf(String verb) {
    switch (verb) {
      case "load":
        return "reload";
      case "ls":
      case "deps":
        return verb;
      case "report":
        return "info";
      case "wait":
        return "waitevent";
      case "remove_all":
        return "remove";
      case "luks_open":
        return "create";
      case "crypt_status":
        return "status";
      default:
        return verb;
    }
  }

  private String run(Protocol.Request r) throws InterruptedException, IOException {
    switch (r.verb()) {
      case "luks_open":
        luksOpen(r);
        return "";
      case "crypt_status":
        return CryptStatus.of(dm, required(r, "name"));
      case "version":
        return "Driver version:    " + DRIVER_VERSION + "\n";
      case "targets":
        return dm.registry().describe();
      case "create":
        create(r);
        return "";
      case "load":
        select(r).load(TableSpec.parse(required(r, "table")), r.flag("readonly"));
        return "";
      case "suspend":
        select(r).suspend(r.flag("noflush") ? SuspendMode.NOFLUSH : SuspendMode.FLUSH);
        return "";
      case "resume":
        select(r).resume(r.flag("noflush") ? SuspendMode.NOFLUSH : SuspendMode.FLUSH);
        return "";
      case "remove":
        dm.remove(select(r).name(), removeOptions(r));
        return "";
      case "remove_all":
        return removeAll(r);
      case "rename":
        rename(r);
        return "";
      case "clear":
        select(r).clear();
        return "";
      case "ls":
        return ls(r);
      case "table":
        return perDevice(
            r,
            md -> {
              String t = r.flag("inactive") ? md.inactiveTable() : md.table();
              return onlyTarget(r, r.flag("showkeys") ? t : Keys.hide(t));
            });
      case "status":
        return perDevice(r, md -> onlyTarget(r, md.status()));
      case "info":
        return perDevice(
            r, md -> r.flag("columns") ? md.info().toColumns() + "\n" : md.info().toString());
      case "deps":
        return perDevice(r, md -> deps(md, r.get("names")));
      case "report":
        return perDevice(r, this::report);
      case "message":
        return message(r);
      case "wait":
        return waitEvent(r);
      case "shutdown":
        return "";
      default:
        throw new IllegalArgumentException("unknown request \"" + r.verb() + "\"");
    }
  }

  /**
   * {@code cryptsetup open}: unlocks the LUKS container on {@code device} with {@code passphrase}
   * (its bytes in hex: a key file may hold any bytes) and creates {@code name} over it. The
   * passphrase bytes are wiped here; the request's text itself cannot be.
   */
  private void luksOpen(Protocol.Request r) throws IOException {
    byte[] pass = java.util.HexFormat.of().parseHex(required(r, "passphrase"));
    try {
      String device = required(r, "device");
      String type = r.get("type") == null ? "luks" : r.get("type");
      try {
        if (type.equals("plain")) {
          PlainMode.Options d = PlainMode.Options.defaults();
          PlainMode.activate(
              dm,
              name(r),
              device,
              pass,
              new PlainMode.Options(
                  r.get("cipher") == null ? d.cipher() : r.get("cipher"),
                  r.get("key_size") == null ? d.keyBits() : Integer.parseInt(r.get("key_size")),
                  r.get("hash") == null ? d.hash() : r.get("hash"),
                  number(r, "offset"),
                  number(r, "skip"),
                  number(r, "size"),
                  r.get("sector_size") == null ? 512 : Integer.parseInt(r.get("sector_size")),
                  r.flag("readonly"),
                  r.flag("allow_discards")));
          return;
        }
        int version =
            switch (type) {
              case "luks" -> 0;
              case "luks1" -> 1;
              case "luks2" -> 2;
              default -> throw new IllegalArgumentException("unknown type " + type);
            };
        Luks.activate(
            dm,
            name(r),
            device,
            pass,
            new Luks.ActivateOptions(
                version,
                r.get("key_slot") == null ? -1 : Integer.parseInt(r.get("key_slot")),
                r.flag("readonly"),
                r.flag("allow_discards"),
                null));
      } catch (java.nio.file.NoSuchFileException e) {
        throw new DmException(Errno.ENOENT, "device " + device + " does not exist");
      }
    } finally {
      Arrays.fill(pass, (byte) 0);
    }
  }

  private static long number(Protocol.Request r, String key) {
    String v = r.get(key);
    return v == null ? 0 : Long.parseLong(v);
  }

  private static String name(Protocol.Request r) {
    return required(r, "name");
  }

  /**
   * The device a request names: {@code name}, else dmsetup's {@code -u} ({@code by_uuid}), else its
   * {@code -j}/{@code -m} ({@code by_major}, {@code by_minor}).
   */
  private MappedDevice select(Protocol.Request r) {
    String n = r.get("name");
    if (n != null) {
      return dm.device(n);
    }
    String uuid = r.get("by_uuid");
    if (uuid != null) {
      return dm.findByUuid(uuid)
          .orElseThrow(
              () -> new DmException(Errno.ENXIO, "device with uuid " + uuid + " does not exist"));
    }
    String major = r.get("by_major");
    String minor = r.get("by_minor");
    if (major != null && minor != null) {
      for (MappedDevice md : dm.list()) {
        if (Integer.toString(md.number().major()).equals(major)
            && Integer.toString(md.number().minor()).equals(minor)) {
          return md;
        }
      }
      throw new DmException(Errno.ENXIO, "device " + major + ":" + minor + " does not exist");
    }
    throw new IllegalArgumentException(r.verb() + ": missing name=");
  }

  private static boolean selects(Protocol.Request r) {
    return r.get("name") != null || r.get("by_uuid") != null || r.get("by_major") != null;
  }

  /**
   * dmsetup's {@code --target TYPE}: only the lines of {@code text} (table or status lines, {@code
   * START LENGTH TYPE ...}) of that type.
   */
  private static String onlyTarget(Protocol.Request r, String text) {
    String type = r.get("target");
    if (type == null) {
      return text;
    }
    StringBuilder sb = new StringBuilder();
    for (String line : text.split("\n")) {
      String[] w = line.split(" ", 4);
      if (w.length >= 3 && w[2].equals(type)) {
        sb.append(line).append('\n');
      }
    }
    return sb.toString();
  }

  /**
   * {@code dmsetup ls}: {@code NAME\t(253:0)}, {@code NAME\t(dm-0)} ({@code names=blkdevname}),
   * {@code NAME\t(NAME)} ({@code names=devname}); with {@code target=TYPE} the devices with a
   * target of that type, as {@code NAME\t(253, 0)} (dmsetup prints them through its status path,
   * with a comma).
   */
  private String ls(Protocol.Request r) {
    if (r.flag("tree")) {
      return tree();
    }
    String type = r.get("target");
    List<MappedDevice> all;
    if (type != null && selects(r)) {
      all = List.of(select(r));
    } else {
      all = dm.list();
      if (all.isEmpty()) {
        return "No devices found\n";
      }
    }
    StringBuilder sb = new StringBuilder();
    for (MappedDevice md : all) {
      DeviceNumber n = md.number();
      if (type != null) {
        String table;
        try {
          table = md.table();
        } catch (DmException | IllegalStateException e) {
          continue; // removed meanwhile
        }
        if (!onlyTarget(r, table).isEmpty()) {
          sb.append(md.name()).append("\t(").append(n.major()).append(", ");
          sb.append(n.minor()).append(")\n");
        }
        continue;
      }
      sb.append(md.name()).append("\t(").append(devName(n, r.get("names"))).append(")\n");
    }
    return sb.toString();
  }

  /**
   * A device number as dmsetup's {@code -o devno|devname|blkdevname} shows it: {@code 253:0}, the
   * mapped device's name, {@code dm-0}. jdm's other devices have no kernel name: they show their
   * number, as dmsetup does when it cannot resolve one.
   */
  private String devName(DeviceNumber n, String names) {
    if (names == null || names.equals("devno") || n.major() != DeviceNumber.DM_MAJOR) {
      return n.major() + ":" + n.minor();
    }
    if (names.equals("blkdevname")) {
      return "dm-" + n.minor();
    }
    for (MappedDevice md : dm.list()) {
      if (md.number().equals(n)) {
        return md.name();
      }
    }
    return n.major() + ":" + n.minor();
  }

  private static String required(Protocol.Request r, String key) {
    String v = r.get(key);
    if (v == null) {
      throw new IllegalArgumentException(r.verb() + ": missing " + key + "=");
    }
    return v;
  }

  private void create(Protocol.Request r) {
    String table = r.get("table");
    dm.create(
        name(r), r.get("uuid"), table == null ? null : TableSpec.parse(table), r.flag("readonly"));
  }

  private static DeviceMapper.RemoveOption[] removeOptions(Protocol.Request r) {
    List<DeviceMapper.RemoveOption> l = new ArrayList<>();
    if (r.flag("force")) {
      l.add(DeviceMapper.RemoveOption.FORCE);
    }
    if (r.flag("deferred")) {
      l.add(DeviceMapper.RemoveOption.DEFERRED);
    }
    return l.toArray(new DeviceMapper.RemoveOption[0]);
  }

  /**
   * {@code dmsetup remove_all}: removes every device it can, top of each stack first, and reports
   * those it could not.
   */
  private String removeAll(Protocol.Request r) {
    DeviceMapper.RemoveOption[] opts = removeOptions(r);
    boolean progress = true;
    DmException last = null;
    while (progress) {
      progress = false;
      last = null;
      for (MappedDevice md : dm.list()) {
        try {
          dm.remove(md.name(), opts);
          progress = true;
        } catch (DmException e) {
          last = e;
        }
      }
    }
    if (last != null) {
      throw last;
    }
    return "";
  }

  private void rename(Protocol.Request r) {
    String uuid = r.get("uuid");
    if (uuid != null) {
      dm.setUuid(name(r), uuid);
    } else {
      dm.rename(name(r), required(r, "newname"));
    }
  }

  /**
   * Text for the selected device ({@code name: }-prefixed with {@code prefix=1}, as dmsetup does
   * when given several), or {@code name: }-prefixed for every device when none is selected.
   */
  private String perDevice(Protocol.Request r, Function<MappedDevice, String> f) {
    StringBuilder sb = new StringBuilder();
    if (selects(r)) {
      MappedDevice md = select(r);
      String text = f.apply(md);
      if (!r.flag("prefix") || r.verb().equals("info") || r.verb().equals("report")) {
        return text;
      }
      prefixed(sb, md.name(), text);
      return sb.toString();
    }
    List<MappedDevice> all = dm.list();
    if (all.isEmpty()) {
      return "No devices found\n";
    }
    for (MappedDevice md : all) {
      String text;
      try {
        text = f.apply(md);
      } catch (DmException | IllegalStateException e) {
        continue; // removed meanwhile
      }
      if (r.verb().equals("info") || r.verb().equals("report")) {
        sb.append(text);
        continue;
      }
      prefixed(sb, md.name(), text);
    }
    return sb.toString();
  }

  private static void prefixed(StringBuilder sb, String name, String text) {
    String prefix = name + ": ";
    if (text.equals("\n")) {
      sb.append(prefix).append('\n');
      return;
    }
    if (text.isEmpty()) {
      return;
    }
    for (String line : text.split("\n")) {
      sb.append(prefix).append(line).append('\n');
    }
  }

  /**
   * {@code dmsetup deps}: {@code 2 dependencies\t: (7, 0) (253, 1)}; with {@code names=devname} or
   * {@code blkdevname} the mapped devices' names ({@code (base)}, {@code (dm-1)}).
   */
  private String deps(MappedDevice md, String names) {
    List<DeviceNumber> deps = md.deps();
    StringBuilder sb = new StringBuilder();
    sb.append(deps.size()).append(" dependencies\t:");
    for (DeviceNumber n : deps) {
      if (names != null && n.major() == DeviceNumber.DM_MAJOR) {
        sb.append(" (").append(devName(n, names)).append(')');
      } else {
        sb.append(" (").append(n.major()).append(", ").append(n.minor()).append(')');
      }
    }
    return sb.append('\n').toString();
  }

  /**
   * One line of raw fields for {@code dmsetup info -c -o ...}, which the client lays out: {@code
   * key=value} words, values percent-encoded as in requests. {@code deps}/{@code users} are the
   * numbers of the devices this one uses / of the mapped devices using it, {@code
   * deps_names}/{@code users_names} the names of those that are mapped devices.
   */
  private String report(MappedDevice md) {
    DeviceInfo i = md.info();
    List<String> depNos = new ArrayList<>();
    List<String> depNames = new ArrayList<>();
    List<String> userNos = new ArrayList<>();
    List<String> userNames = new ArrayList<>();
    Map<DeviceNumber, String> mapped = new HashMap<>();
    List<MappedDevice> all = dm.list();
    for (MappedDevice o : all) {
      mapped.put(o.number(), o.name());
    }
    for (DeviceNumber n : md.deps()) {
      depNos.add(n.major() + ":" + n.minor());
      String name = mapped.get(n);
      if (name != null) {
        depNames.add(name);
      }
    }
    for (MappedDevice o : all) {
      List<DeviceNumber> d;
      try {
        d = o.deps();
      } catch (DmException | IllegalStateException e) {
        continue;
      }
      if (d.contains(md.number())) {
        userNos.add(o.number().major() + ":" + o.number().minor());
        userNames.add(o.name());
      }
    }
    return Protocol.Request.of("device")
            .arg("name", i.name())
            .arg("uuid", i.uuid().orElse(""))
            .arg("major", Integer.toString(i.number().major()))
            .arg("minor", Integer.toString(i.number().minor()))
            .arg("open", Integer.toString(i.openCount()))
            .arg("targets", Integer.toString(i.targetCount()))
            .arg("event", Integer.toString(i.eventNr()))
            .arg("live", i.liveTable() ? "1" : "0")
            .arg("inactive", i.inactiveTable() ? "1" : "0")
            .arg("suspended", i.suspended() ? "1" : "0")
            .arg("readonly", i.readOnly() ? "1" : "0")
            .arg("readahead", Integer.toString(i.readAhead()))
            .arg("deps", String.join(",", depNos))
            .arg("deps_names", String.join(",", depNames))
            .arg("users", String.join(",", userNos))
            .arg("users_names", String.join(",", userNames))
            .build()
            .encode()
        + "\n";
  }

  /**
   * {@code dmsetup ls --tree}: every device nothing else uses at the top, what it uses below it.
   * Underlying devices that are not mapped devices show only their number, as dmsetup does without
   * {@code -o blkdevname}.
   */
  private String tree() {
    List<MappedDevice> all = dm.list();
    if (all.isEmpty()) {
      return "No devices found\n";
    }
    Map<DeviceNumber, MappedDevice> byNumber = new HashMap<>();
    Map<MappedDevice, List<DeviceNumber>> deps = new HashMap<>();
    Set<DeviceNumber> used = new HashSet<>();
    for (MappedDevice md : all) {
      byNumber.put(md.number(), md);
      List<DeviceNumber> d = md.deps();
      deps.put(md, d);
      used.addAll(d);
    }
    StringBuilder sb = new StringBuilder();
    for (MappedDevice md : all) {
      if (!used.contains(md.number())) {
        node(sb, md.number(), byNumber, deps, "", true, true);
      }
    }
    return sb.toString();
  }

  private static void node(
      StringBuilder sb,
      DeviceNumber n,
      Map<DeviceNumber, MappedDevice> byNumber,
      Map<MappedDevice, List<DeviceNumber>> deps,
      String indent,
      boolean last,
      boolean top) {
    MappedDevice md = byNumber.get(n);
    String label = (md == null ? "" : md.name()) + " (" + n.major() + ":" + n.minor() + ")";
    if (top) {
      sb.append(label).append('\n');
    } else {
      sb.append(indent).append(last ? " \u2514\u2500" : " \u251c\u2500").append(label).append('\n');
    }
    if (md == null) {
      return;
    }
    List<DeviceNumber> children = deps.getOrDefault(md, List.of());
    String childIndent = top ? "" : indent + (last ? "   " : " \u2502 ");
    for (int i = 0; i < children.size(); i++) {
      node(sb, children.get(i), byNumber, deps, childIndent, i == children.size() - 1, false);
    }
  }

  private String message(Protocol.Request r) {
    String s = required(r, "sector");
    long sector;
    try {
      sector = Long.parseLong(s);
    } catch (NumberFormatException e) {
      throw new DmException(Errno.EINVAL, "Invalid sector " + s);
    }
    List<String> argv = r.all("arg");
    String reply = dm.device(name(r)).message(sector, argv.toArray(new String[0]));
    return reply.isEmpty() || reply.endsWith("\n") ? reply : reply + "\n";
  }

  /**
   * {@code dmsetup wait NAME [EVENT_NR]}: returns once the device's event number differs from
   * {@code EVENT_NR} (default 0), or the device is removed.
   */
  private String waitEvent(Protocol.Request r) throws InterruptedException {
    MappedDevice md = select(r);
    String e = r.get("event");
    int event;
    try {
      event = e == null ? 0 : Integer.parseUnsignedInt(e);
    } catch (NumberFormatException x) {
      throw new DmException(Errno.EINVAL, "Invalid event number " + e);
    }
    while (md.awaitEvent(event, Duration.ofSeconds(1)) == event) {
      if (dm.find(md.name()).orElse(null) != md) {
        break;
      }
    }
    return "";
  }
}
