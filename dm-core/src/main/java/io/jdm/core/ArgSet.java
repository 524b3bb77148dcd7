package io.jdm.core;

import java.util.Arrays;

/**
 * A cursor over a target's arguments with the kernel's parsing helpers ({@code struct dm_arg_set},
 * {@code dm_shift_arg}, {@code dm_read_arg}, {@code dm_read_arg_group}, {@code dm_consume_args}),
 * so every target parses numbers and optional feature groups such as {@code 2 allow_discards
 * sector_size:4096} the same way.
 *
 * <p>Numbers are strictly decimal: only ASCII digits, no sign, no {@code 0x}, no trailing text, no
 * overflow. The kernel's {@code sscanf("%llu")} also accepts a sign and leading blanks (and turns
 * {@code -1} into 2<sup>64</sup>-1); jdm rejects those, since a negative sector in a table is
 * always a mistake. Errors are {@link TargetException}s carrying the caller's message, as the
 * kernel's {@code ti->error}.
 *
 * <p>The kernel's {@code struct dm_arg} is {@link Spec}: a target declares its bounds once, as the
 * kernel's {@code static const struct dm_arg _args[]}, and reads with {@link #readArg(Spec)} and
 * {@link #readArgGroup(Spec)}; an optional feature list is a {@link #group(Spec)}, an {@code
 * ArgSet} of its own over exactly the group's words. Single values read with {@link
 * #nextUint(String)}, {@link #nextLong(long, long, String)} and {@link #nextSector(String)} fail
 * with the caller's text instead of returning a sentinel.
 *
 * <p>Not thread-safe; one per constructor call.
 */
public final class ArgSet {

  /**
   * An argument's bounds and the error for a value outside them: the kernel's {@code struct
   * dm_arg}.
   */
  public record Spec(int min, int max, String error) {
    public Spec {
      if (min < 0 || max < min) {
        throw new IllegalArgumentException(
            "bounds [" + min + ", " + max + "] (expected: 0 <= min <= max)");
      }
      java.util.Objects.requireNonNull(error, "error");
    }
  }

  private final String[] argv;
  private int pos;

  public ArgSet(String... argv) {
    this.argv = argv.clone();
  }

  /** Arguments not yet consumed. */
  public int remaining() {
    return argv.length - pos;
  }

  public boolean hasNext() {
    return pos < argv.length;
  }

  /** The next argument, or {@code null} when none is left ({@code dm_shift_arg}). */
  public String next() {
    return pos < argv.length ? argv[pos++] : null;
  }

  /** The next argument, or a {@link TargetException} with {@code error} when none is left. */
  public String next(String error) {
    String s = next();
    if (s == null) {
      throw new TargetException(error);
    }
    return s;
  }

  /** The next argument without consuming it, or {@code null}. */
  public String peek() {
    return pos < argv.length ? argv[pos] : null;
  }

  /** Skips {@code n} arguments ({@code dm_consume_args}). */
  public void consume(int n) {
    if (n < 0 || n > remaining()) {
      throw new IllegalArgumentException(
          "consume " + n + " (expected: 0 <= n <= " + remaining() + ")");
    }
    pos += n;
  }

  /** The arguments not yet consumed. */
  public String[] rest() {
    return Arrays.copyOfRange(argv, pos, argv.length);
  }

  /**
   * Reads an unsigned decimal in {@code [min, max]} ({@code dm_read_arg}); a missing, malformed or
   * out-of-range value fails with {@code error}.
   */
  public int readArg(int min, int max, String error) {
    long v = parseDecimal(next());
    if (v < min || v > max) {
      throw new TargetException(error);
    }
    return (int) v;
  }

  /** {@link #readArg(int, int, String)} with a {@link Spec} ({@code dm_read_arg}). */
  public int readArg(Spec spec) {
    return readArg(spec.min(), spec.max(), spec.error());
  }

  /** {@link #readArgGroup(int, int, String)} with a {@link Spec} ({@code dm_read_arg_group}). */
  public int readArgGroup(Spec spec) {
    return readArgGroup(spec.min(), spec.max(), spec.error());
  }

  /**
   * An optional group, such as a feature list {@code 2 allow_discards sector_size:4096}: if any
   * argument is left, reads its count as {@link #readArgGroup(Spec)} and returns an {@code ArgSet}
   * over exactly that many following arguments, which this one skips; with none left, an empty one.
   */
  public ArgSet group(Spec count) {
    if (!hasNext()) {
      return new ArgSet();
    }
    int n = readArgGroup(count);
    ArgSet g = new ArgSet(Arrays.copyOfRange(argv, pos, pos + n));
    pos += n;
    return g;
  }

  /**
   * The next argument as an unsigned 32-bit decimal, as the kernel's {@code kstrtouint(s, 10, ...)}
   * or {@code sscanf("%u")}; missing or bad fails with {@code error}.
   */
  public long nextUint(String error) {
    return parseUint(next(), error);
  }

  /**
   * The next argument as a decimal in {@code [min, max]}; missing or bad fails with {@code error}.
   */
  public long nextLong(long min, long max, String error) {
    return parseLong(next(), min, max, error);
  }

  /**
   * The next argument as a sector ({@link #parseSector}); missing or bad fails with {@code error}.
   */
  public long nextSector(String error) {
    return parseSector(next(), error);
  }

  /**
   * Reads the count of an optional group ({@code dm_read_arg_group}): as {@link #readArg} and also
   * no larger than the number of arguments left.
   */
  public int readArgGroup(int min, int max, String error) {
    int n = readArg(min, max, error);
    if (n > remaining()) {
      throw new TargetException(error);
    }
    return n;
  }

  /**
   * {@code a} and {@code b} are equal ignoring the case of ASCII letters only, as the kernel's
   * {@code strcasecmp} (Java's {@code equalsIgnoreCase} also folds other scripts).
   */
  public static boolean equalsIgnoreCase(String a, String b) {
    if (a.length() != b.length()) {
      return false;
    }
    for (int i = 0; i < a.length(); i++) {
      if (lower(a.charAt(i)) != lower(b.charAt(i))) {
        return false;
      }
    }
    return true;
  }

  /** {@code s} with ASCII capitals lowered and everything else kept, to switch on words. */
  public static String toLowerAscii(String s) {
    StringBuilder sb = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c >= 'A' && c <= 'Z') {
        if (sb == null) {
          sb = new StringBuilder(s);
        }
        sb.setCharAt(i, lower(c));
      }
    }
    return sb == null ? s : sb.toString();
  }

  private static char lower(char c) {
    return c >= 'A' && c <= 'Z' ? (char) (c + ('a' - 'A')) : c;
  }

  /**
   * Parses a strictly decimal, non-negative {@code long}; returns -1 for {@code null}, an empty
   * string, any non-digit (sign, {@code 0x}, blank, trailing text) or overflow.
   */
  public static long parseDecimal(String s) {
    if (s == null || s.isEmpty()) {
      return -1;
    }
    long v = 0;
    for (int i = 0; i < s.length(); i++) {
      int d = s.charAt(i) - '0';
      if (d < 0 || d > 9 || v > (Long.MAX_VALUE - d) / 10) {
        return -1;
      }
      v = v * 10 + d;
    }
    return v;
  }

  /**
   * Parses a sector number or count: strictly decimal, at most {@code Long.MAX_VALUE >> 9} so that
   * byte offsets cannot overflow ({@code LLONG_MAX >> SECTOR_SHIFT}, the kernel's own bound on
   * device sizes).
   */
  public static long parseSector(String s, String error) {
    long v = parseDecimal(s);
    if (v < 0 || v > MAX_SECTOR) {
      throw new TargetException(error);
    }
    return v;
  }

  /** Largest sector value jdm accepts: {@code LLONG_MAX >> 9}. */
  public static final long MAX_SECTOR = Long.MAX_VALUE >> Bio.SECTOR_SHIFT;

  /** Parses a decimal in {@code [min, max]}, failing with {@code error}. */
  public static long parseLong(String s, long min, long max, String error) {
    long v = parseDecimal(s);
    if (v < 0 || v < min || v > max) {
      throw new TargetException(error);
    }
    return v;
  }

  /** Parses a decimal unsigned 32-bit value as the kernel's {@code kstrtouint(s, 10, ...)}. */
  public static long parseUint(String s, String error) {
    return parseLong(s, 0, 0xFFFF_FFFFL, error);
  }
}
