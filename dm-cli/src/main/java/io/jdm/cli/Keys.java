package io.jdm.cli;

/**
 * Hides the keys of {@code crypt} table lines as {@code dmsetup table} does without {@code
 * --showkeys}: every character of a hex key becomes {@code 0}; a kernel keyring reference ({@code
 * :32:logon:desc}) and the empty key {@code -} are shown as they are.
 */
final class Keys {
  private Keys() {}

  /** {@code table} text with crypt keys hidden. */
  static String hide(String table) {
    if (!table.contains(" crypt ")) {
      return table;
    }
    String[] lines = table.split("\n", -1);
    for (int i = 0; i < lines.length; i++) {
      lines[i] = hideLine(lines[i]);
    }
    return String.join("\n", lines);
  }

  /** {@code start length crypt cipher KEY ...}: the fifth word is the key. */
  static String hideLine(String line) {
    String[] w = line.split(" ", 6);
    if (w.length < 5 || !w[2].equals("crypt") || w[4].startsWith(":") || w[4].equals("-")) {
      return line;
    }
    w[4] = "0".repeat(w[4].length());
    return String.join(" ", w);
  }
}
