package io.jdm.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * The text of a mapping table, parsed but not constructed: what {@code dmsetup} reads from {@code
 * --table}, a file or standard input, before the kernel builds targets from it.
 *
 * <p>Syntax (lvm2's {@code _parse_line} in {@code dmsetup.c}): one target per line, {@code <start>
 * <length> <target_type> <params...>}, sectors in decimal; leading and trailing blanks are ignored;
 * empty lines and lines starting with {@code #} are skipped; a {@code #} in the parameters starts a
 * comment. Within the parameters a backslash escapes the next character (so {@code a\ b} is one
 * argument), as the kernel's {@code dm_split_args}.
 *
 * <p>Numbers must be plain decimal; unlike {@code sscanf("%llu")}, jdm rejects signs, hex and
 * overflow with an error that names the line. Table rules that need the targets (contiguity,
 * lengths, arguments) are checked when the table is loaded.
 *
 * <p>{@link #toString()} prints the canonical text, one {@code "start length type params"} line per
 * target, each ending in a newline; {@code parse(spec.toString())} equals {@code spec}.
 *
 * <p>Immutable and thread-safe.
 */
public final class TableSpec {

  /** One target line. {@code params} is the parameter text as written, escapes included. */
  public record Line(long start, long length, String type, String params) {
    public Line {
      Objects.requireNonNull(type, "type");
      Objects.requireNonNull(params, "params");
    }

    /** The parameters split as the kernel's {@code dm_split_args} splits them. */
    public String[] args() {
      return splitArgs(params);
    }

    /** The line as {@code dmsetup table} prints it (without a newline). */
    @Override
    public String toString() {
      return start + " " + length + " " + type + " " + params;
    }
  }

  /** Longest target type name: {@code DM_MAX_TYPE_NAME} (16) minus the terminating NUL. */
  public static final int MAX_TYPE_NAME = 15;

  private final List<Line> lines;
  private final int[] lineNumbers;

  private TableSpec(List<Line> lines, int[] lineNumbers) {
    this.lines = Collections.unmodifiableList(lines);
    this.lineNumbers = lineNumbers;
  }

  /** Parses table text. */
  public static TableSpec parse(String text) {
    Objects.requireNonNull(text, "text");
    List<Line> lines = new ArrayList<>();
    List<Integer> numbers = new ArrayList<>();
    String[] raw = text.split("\n", -1);
    for (int i = 0; i < raw.length; i++) {
      int lineNo = i + 1;
      String s = raw[i].strip();
      if (s.isEmpty() || s.charAt(0) == '#') {
        continue;
      }
      int p = 0;
      int e = nextBlank(s, p);
      String startText = s.substring(p, e);
      p = skipBlanks(s, e);
      e = nextBlank(s, p);
      String lengthText = s.substring(p, e);
      p = skipBlanks(s, e);
      e = nextBlank(s, p);
      String type = s.substring(p, e);
      if (type.isEmpty()) {
        throw new TableException(
            lineNo,
            null,
            "invalid format: expected <start> <length> <target_type> <params...>, got \""
                + s
                + "\"");
      }
      long start = number(startText, lineNo, "start sector");
      long length = number(lengthText, lineNo, "length");
      if (type.length() > MAX_TYPE_NAME) {
        throw new TableException(
            lineNo,
            null,
            "target type name \""
                + type
                + "\" is too long (at most "
                + MAX_TYPE_NAME
                + " characters)");
      }
      // as dmsetup: a '#' starts a comment only in the parameters
      String params = s.substring(skipBlanks(s, e));
      int hash = params.indexOf('#');
      if (hash >= 0) {
        params = params.substring(0, hash).strip();
      }
      lines.add(new Line(start, length, type, params));
      numbers.add(lineNo);
    }
    return new TableSpec(lines, numbers.stream().mapToInt(Integer::intValue).toArray());
  }

  private static long number(String text, int lineNo, String what) {
    long v = ArgSet.parseDecimal(text);
    if (v < 0) {
      throw new TableException(
          lineNo,
          null,
          "invalid "
              + what
              + " \""
              + text
              + "\" (expected: a decimal number of 512-byte sectors, 0 to "
              + Long.MAX_VALUE
              + ")");
    }
    return v;
  }

  private static int nextBlank(String s, int i) {
    while (i < s.length() && !isSpace(s.charAt(i))) {
      i++;
    }
    return i;
  }

  private static int skipBlanks(String s, int i) {
    while (i < s.length() && isSpace(s.charAt(i))) {
      i++;
    }
    return i;
  }

  /** C's {@code isspace} in the "C" locale. */
  static boolean isSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\u000b' || c == '\f' || c == '\r';
  }

  /**
   * Splits a parameter string on blanks, a backslash escaping the next character ({@code
   * dm_split_args}).
   */
  public static String[] splitArgs(String params) {
    List<String> args = new ArrayList<>();
    int i = 0;
    int n = params.length();
    StringBuilder sb = new StringBuilder();
    while (true) {
      while (i < n && isSpace(params.charAt(i))) {
        i++;
      }
      if (i >= n) {
        break;
      }
      sb.setLength(0);
      while (i < n) {
        char c = params.charAt(i);
        if (c == '\\' && i + 1 < n) {
          sb.append(params.charAt(i + 1));
          i += 2;
          continue;
        }
        if (isSpace(c)) {
          break;
        }
        sb.append(c);
        i++;
      }
      args.add(sb.toString());
    }
    return args.toArray(new String[0]);
  }

  /** A spec from lines built in code. */
  public static TableSpec of(List<Line> lines) {
    List<Line> copy = List.copyOf(lines);
    int[] numbers = new int[copy.size()];
    for (int i = 0; i < numbers.length; i++) {
      numbers[i] = i + 1;
    }
    return new TableSpec(new ArrayList<>(copy), numbers);
  }

  /**
   * A builder for tables made in code: {@code TableSpec.builder().add(0, 2048, "zero").build()}.
   */
  public static Builder builder() {
    return new Builder();
  }

  public List<Line> lines() {
    return lines;
  }

  /** The line of the source text the {@code index}-th target came from (1-based). */
  public int lineNumber(int index) {
    return lineNumbers[index];
  }

  public boolean isEmpty() {
    return lines.isEmpty();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TableSpec && ((TableSpec) o).lines.equals(lines);
  }

  @Override
  public int hashCode() {
    return lines.hashCode();
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    for (Line l : lines) {
      sb.append(l).append('\n');
    }
    return sb.toString();
  }

  /** Builds a {@link TableSpec} line by line. */
  public static final class Builder {
    private final List<Line> lines = new ArrayList<>();

    private Builder() {}

    /**
     * Adds a line; each argument is escaped as needed so it stays one argument (blanks and
     * backslashes get a backslash). An argument may not contain {@code #}.
     */
    public Builder add(long start, long length, String type, String... args) {
      StringBuilder params = new StringBuilder();
      for (String a : args) {
        if (params.length() > 0) {
          params.append(' ');
        }
        if (a.indexOf('#') >= 0) {
          throw new IllegalArgumentException(
              "argument \"" + a + "\" contains '#', which table text treats as a comment");
        }
        for (int i = 0; i < a.length(); i++) {
          char c = a.charAt(i);
          if (c == '\\' || isSpace(c)) {
            params.append('\\');
          }
          params.append(c);
        }
      }
      lines.add(new Line(start, length, type, params.toString()));
      return this;
    }

    /** Adds a line after the last one: its start is the previous line's end. */
    public Builder append(long length, String type, String... args) {
      long start = lines.isEmpty() ? 0 : last().start() + last().length();
      return add(start, length, type, args);
    }

    private Line last() {
      return lines.get(lines.size() - 1);
    }

    public TableSpec build() {
      return of(lines);
    }
  }
}
