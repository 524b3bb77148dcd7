package io.jdm.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * {@code dmsetup info -c}'s report, laid out as libdm's {@code dm_report} does ({@code
 * libdm/libdm-report.c}, fields from {@code libdm/dm-tools/dmsetup.c}): columns chosen with {@code
 * -o} (default {@code name,major,minor,attr,open,segments,events,uuid}; {@code +FIELDS} appends),
 * aligned to the widest of the field's default width and its values (numbers to the right, text to
 * the left, the last column padded as well), headings unless {@code --noheadings}. {@code
 * --noheadings} also makes the output unaligned with {@code :} between fields (dmsetup's "old
 * behaviour"), {@code --separator S} unaligned with {@code S}, {@code --nameprefixes} unaligned
 * {@code DM_NAME='vol'} words.
 *
 * <p>Not thread-safe; one report per command.
 */
final class Report {
  /** One column: dmsetup's heading, default width, alignment and value. */
  private record Field(
      String heading, int width, boolean number, Function<Map<String, String>, String> value) {}

  static final String DEFAULT_FIELDS = "name,major,minor,attr,open,segments,events,uuid";

  private static final Map<String, Field> FIELDS = new LinkedHashMap<>();

  static {
    FIELDS.put("name", new Field("Name", 16, false, d -> d.get("name")));
    FIELDS.put("mangled_name", new Field("MangledName", 16, false, d -> d.get("name")));
    FIELDS.put("unmangled_name", new Field("UnmangledName", 16, false, d -> d.get("name")));
    FIELDS.put("uuid", new Field("UUID", 32, false, d -> d.get("uuid")));
    FIELDS.put("mangled_uuid", new Field("MangledUUID", 32, false, d -> d.get("uuid")));
    FIELDS.put("unmangled_uuid", new Field("UnmangledUUID", 32, false, d -> d.get("uuid")));
    FIELDS.put("read_ahead", new Field("RAhead", 6, true, d -> d.get("readahead")));
    FIELDS.put("blkdevname", new Field("BlkDevName", 16, false, d -> "dm-" + d.get("minor")));
    FIELDS.put("attr", new Field("Stat", 4, false, Report::attr));
    FIELDS.put("tables_loaded", new Field("Tables", 6, false, Report::tables));
    FIELDS.put(
        "suspended",
        new Field("Suspended", 9, false, d -> flag(d, "suspended") ? "Suspended" : "Active"));
    FIELDS.put(
        "readonly",
        new Field("Read-only", 9, false, d -> flag(d, "readonly") ? "Read-only" : "Writeable"));
    FIELDS.put("devno", new Field("DevNo", 5, false, d -> d.get("major") + ":" + d.get("minor")));
    FIELDS.put("major", new Field("Maj", 3, true, d -> d.get("major")));
    FIELDS.put("minor", new Field("Min", 3, true, d -> d.get("minor")));
    FIELDS.put("open", new Field("Open", 4, true, d -> d.get("open")));
    FIELDS.put("segments", new Field("Targ", 4, true, d -> d.get("targets")));
    FIELDS.put("events", new Field("Event", 6, true, d -> d.get("event")));
    FIELDS.put("device_count", new Field("#Devs", 5, true, d -> count(d.get("deps"))));
    FIELDS.put("devs_used", new Field("DevNamesUsed", 16, false, d -> d.get("deps_names")));
    FIELDS.put("devnos_used", new Field("DevNosUsed", 16, false, d -> d.get("deps")));
    FIELDS.put("blkdevs_used", new Field("BlkDevNamesUsed", 16, false, Report::blkdevsUsed));
    FIELDS.put("device_ref_count", new Field("#Refs", 5, true, d -> count(d.get("users"))));
    FIELDS.put("names_using_dev", new Field("RefNames", 8, false, d -> d.get("users_names")));
    FIELDS.put("devnos_using_dev", new Field("RefDevNos", 9, false, d -> d.get("users")));
  }

  private final List<String> ids;
  private final String separator;
  private final boolean aligned;
  private final boolean headings;
  private final boolean prefixes;
  private final List<Map<String, String>> rows = new ArrayList<>();

  private Report(
      List<String> ids, String separator, boolean aligned, boolean headings, boolean prefixes) {
    this.ids = ids;
    this.separator = separator;
    this.aligned = aligned;
    this.headings = headings;
    this.prefixes = prefixes;
  }

  /** An unknown field in {@code -o}: dmsetup lists the fields and exits 1. */
  static final class UnknownFieldException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    UnknownFieldException(String field) {
      super(field);
    }
  }

  /**
   * A report of the columns {@code options} ({@code null}: the default ones) with dmsetup's
   * switches.
   *
   * @throws UnknownFieldException for a field jdm does not know
   */
  static Report of(String options, boolean noHeadings, String separator, boolean namePrefixes) {
    String o = options == null ? DEFAULT_FIELDS : options;
    if (o.startsWith("+")) {
      o = DEFAULT_FIELDS + "," + o.substring(1);
    }
    List<String> ids = new ArrayList<>();
    for (String id : o.split(",", -1)) {
      String f = id.trim().toLowerCase(Locale.ROOT);
      if (f.isEmpty()) {
        continue;
      }
      if (!FIELDS.containsKey(f)) {
        throw new UnknownFieldException(id);
      }
      ids.add(f);
    }
    boolean aligned = true;
    String sep = " ";
    if (noHeadings) { // "emulate old dmsetup behaviour"
      sep = ":";
      aligned = false;
    }
    if (namePrefixes) {
      aligned = false;
    }
    if (separator != null) {
      sep = separator;
      aligned = false;
    }
    return new Report(ids, sep, aligned, !noHeadings, namePrefixes);
  }

  /** dmsetup's field help (the part of {@code -o help} jdm supports). */
  static String help() {
    StringBuilder sb = new StringBuilder();
    sb.append("Mapped Device Fields\n--------------------\n");
    for (String id : FIELDS.keySet()) {
      sb.append(String.format(Locale.ROOT, "  %-21s - %s%n", id, FIELDS.get(id).heading()));
    }
    return sb.toString();
  }

  /** Adds one device: a {@code device key=value...} line from the daemon's {@code report}. */
  void add(String line) {
    Protocol.Request r = Protocol.Request.decode(line);
    Map<String, String> m = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : r.args()) {
      m.put(e.getKey(), e.getValue());
    }
    rows.add(m);
  }

  /** The report's text: the headings (if any) and one line per device. */
  String render() {
    int[] widths = new int[ids.size()];
    List<String[]> values = new ArrayList<>();
    for (int i = 0; i < ids.size(); i++) {
      widths[i] = FIELDS.get(ids.get(i)).width();
    }
    for (Map<String, String> row : rows) {
      String[] v = new String[ids.size()];
      for (int i = 0; i < ids.size(); i++) {
        String s = FIELDS.get(ids.get(i)).value().apply(row);
        v[i] = s == null ? "" : s;
        widths[i] = Math.max(widths[i], v[i].length());
      }
      values.add(v);
    }
    StringBuilder sb = new StringBuilder();
    if (headings && !ids.isEmpty()) {
      for (int i = 0; i < ids.size(); i++) {
        if (i > 0) {
          sb.append(separator);
        }
        String h = FIELDS.get(ids.get(i)).heading();
        sb.append(aligned ? pad(h, widths[i], false) : h);
      }
      sb.append('\n');
    }
    for (String[] v : values) {
      for (int i = 0; i < ids.size(); i++) {
        if (i > 0) {
          sb.append(separator);
        }
        Field f = FIELDS.get(ids.get(i));
        if (prefixes) {
          sb.append("DM_").append(ids.get(i).toUpperCase(Locale.ROOT)).append("='");
        }
        sb.append(aligned ? pad(v[i], widths[i], f.number()) : v[i]);
        if (prefixes) {
          sb.append('\'');
        }
      }
      sb.append('\n');
    }
    return sb.toString();
  }

  private static String pad(String s, int width, boolean right) {
    if (s.length() >= width) {
      return s;
    }
    String spaces = " ".repeat(width - s.length());
    return right ? spaces + s : s + spaces;
  }

  private static boolean flag(Map<String, String> d, String key) {
    return "1".equals(d.get(key));
  }

  private static String attr(Map<String, String> d) {
    return (flag(d, "live") ? "L" : "-")
        + (flag(d, "inactive") ? "I" : "-")
        + (flag(d, "suspended") ? "s" : "-")
        + (flag(d, "readonly") ? "r" : "w");
  }

  private static String tables(Map<String, String> d) {
    if (flag(d, "live")) {
      return flag(d, "inactive") ? "Both" : "Live";
    }
    return flag(d, "inactive") ? "Inactive" : "None";
  }

  private static String count(String list) {
    return list == null || list.isEmpty() ? "0" : Integer.toString(list.split(",").length);
  }

  /** {@code dm-N} for a mapped device; jdm's other devices have no kernel name: their number. */
  private static String blkdevsUsed(Map<String, String> d) {
    String deps = d.get("deps");
    if (deps == null || deps.isEmpty()) {
      return "";
    }
    List<String> out = new ArrayList<>();
    for (String n : deps.split(",")) {
      out.add(n.startsWith("253:") ? "dm-" + n.substring(4) : n);
    }
    return String.join(",", out);
  }
}
