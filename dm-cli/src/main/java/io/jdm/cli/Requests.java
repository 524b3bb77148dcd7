package io.jdm.cli;

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
      case "wait":
        return "waitevent";
      case "remove_all":
        return "remove";
      case "luks_open":
        return "create";
      default:
        return verb;
    }
  }

  private String run(Protocol.Request r) throws InterruptedException, IOException {
    switch (r.verb()) {
      case "luks_open":
        luksOpen(r);
        return "";
      case "version":
        return "Driver version:    " + DRIVER_VERSION + "\n";
      case "targets":
        return dm.registry().describe();
      case "create":
        create(r);
        return "";
      case "load":
        dm.device(name(r)).load(TableSpec.parse(required(r, "table")), r.flag("readonly"));
        return "";
      case "suspend":
        dm.device(name(r)).suspend(r.flag("noflush") ? SuspendMode.NOFLUSH : SuspendMode.FLUSH);
        return "";
      case "resume":
        dm.device(name(r)).resume(r.flag("noflush") ? SuspendMode.NOFLUSH : SuspendMode.FLUSH);
        return "";
      case "remove":
        dm.remove(name(r), removeOptions(r));
        return "";
      case "remove_all":
        return removeAll(r);
      case "rename":
        rename(r);
        return "";
      case "clear":
        dm.device(name(r)).clear();
        return "";
      case "ls":
        return r.flag("tree") ? tree() : dm.ls();
      case "table":
        return perDevice(
            r,
            md -> {
              String t = r.flag("inactive") ? md.inactiveTable() : md.table();
              return r.flag("showkeys") ? t : Keys.hide(t);
            });
      case "status":
        return perDevice(r, MappedDevice::status);
      case "info":
        return perDevice(
            r, md -> r.flag("columns") ? md.info().toColumns() + "\n" : md.info().toString());
      case "deps":
        return perDevice(r, Requests::deps);
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
      Luks.activate(dm, name(r), required(r, "device"), pass);
    } finally {
      Arrays.fill(pass, (byte) 0);
    }
  }

  private static String name(Protocol.Request r) {
    return required(r, "name");
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

  /** Text for the named devices, or {@code name: }-prefixed for every device when none is named. */
  private String perDevice(Protocol.Request r, Function<MappedDevice, String> f) {
    List<String> names = r.all("name");
    StringBuilder sb = new StringBuilder();
    if (!names.isEmpty()) {
      for (String n : names) {
        sb.append(f.apply(dm.device(n)));
      }
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
      if (r.verb().equals("info")) {
        sb.append(text);
        continue;
      }
      String prefix = md.name() + ": ";
      if (text.equals("\n")) {
        sb.append(prefix).append('\n');
        continue;
      }
      for (String line : text.split("\n")) {
        sb.append(prefix).append(line).append('\n');
      }
    }
    return sb.toString();
  }

  /** {@code dmsetup deps}: {@code 2 dependencies\t: (7, 0) (253, 1)}. */
  private static String deps(MappedDevice md) {
    List<DeviceNumber> deps = md.deps();
    StringBuilder sb = new StringBuilder();
    sb.append(deps.size()).append(" dependencies\t:");
    for (DeviceNumber n : deps) {
      sb.append(" (").append(n.major()).append(", ").append(n.minor()).append(')');
    }
    return sb.append('\n').toString();
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
    MappedDevice md = dm.device(name(r));
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
