package io.jdm.cli;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The control socket's line protocol (see {@code dm-cli/PROTOCOL.md}): one request line, one
 * response of a status line, body lines and a lone {@code .}. Stateless helpers and the two message
 * types; not thread-safe per stream.
 */
final class Protocol {
  /** Longest request line accepted (a big table still fits). */
  static final int MAX_LINE = 16 << 20;

  private Protocol() {}

  /** One request: a verb and ordered {@code key=value} arguments (a key may repeat). */
  record Request(String verb, List<Map.Entry<String, String>> args) {
    Request {
      Objects.requireNonNull(verb, "verb");
      args = List.copyOf(args);
    }

    static Builder of(String verb) {
      return new Builder(verb);
    }

    /** The first value of {@code key}, or {@code null}. */
    String get(String key) {
      for (Map.Entry<String, String> e : args) {
        if (e.getKey().equals(key)) {
          return e.getValue();
        }
      }
      return null;
    }

    /** Every value of {@code key}, in order. */
    List<String> all(String key) {
      List<String> l = new ArrayList<>();
      for (Map.Entry<String, String> e : args) {
        if (e.getKey().equals(key)) {
          l.add(e.getValue());
        }
      }
      return l;
    }

    /** Whether {@code key} is given as {@code 1}. */
    boolean flag(String key) {
      return "1".equals(get(key));
    }

    /** The request line, without the line feed. */
    String encode() {
      StringBuilder sb = new StringBuilder(verb);
      for (Map.Entry<String, String> e : args) {
        sb.append(' ').append(e.getKey()).append('=').append(escape(e.getValue()));
      }
      return sb.toString();
    }

    /**
     * Parses a request line.
     *
     * @throws IllegalArgumentException if it is malformed
     */
    static Request decode(String line) {
      String[] words = line.split(" ", -1);
      if (words[0].isEmpty() || !words[0].chars().allMatch(Protocol::isKeyChar)) {
        throw new IllegalArgumentException("bad verb \"" + clip(words[0]) + "\"");
      }
      List<Map.Entry<String, String>> args = new ArrayList<>();
      for (int i = 1; i < words.length; i++) {
        int eq = words[i].indexOf('=');
        if (eq <= 0 || !words[i].substring(0, eq).chars().allMatch(Protocol::isKeyChar)) {
          throw new IllegalArgumentException(
              "bad argument \"" + clip(words[i]) + "\" (expected key=value)");
        }
        args.add(Map.entry(words[i].substring(0, eq), unescape(words[i].substring(eq + 1))));
      }
      return new Request(words[0], args);
    }

    /**
     * The request line for logs: a {@code passphrase} shown as {@code <hidden>} and crypt keys in a
     * {@code table} as zeros ({@code dmsetup table}'s way), so that no key material reaches {@code
     * daemon.log}.
     */
    @Override
    public String toString() {
      StringBuilder sb = new StringBuilder(verb);
      for (Map.Entry<String, String> e : args) {
        String v = e.getValue();
        if (e.getKey().equals("passphrase")) {
          v = "<hidden>";
        } else if (e.getKey().equals("table")) {
          v = Keys.hide(v);
        }
        sb.append(' ').append(e.getKey()).append('=').append(escape(v));
      }
      return sb.toString();
    }

    /** Builds a request. */
    static final class Builder {
      private final String verb;
      private final List<Map.Entry<String, String>> args = new ArrayList<>();

      private Builder(String verb) {
        this.verb = verb;
      }

      Builder arg(String key, String value) {
        if (value != null) {
          args.add(Map.entry(key, value));
        }
        return this;
      }

      Builder flag(String key, boolean set) {
        return set ? arg(key, "1") : this;
      }

      Request build() {
        return new Request(verb, args);
      }
    }
  }

  /**
   * One response. A failure names the operation that failed as dmsetup names the ioctl ({@code
   * create}, {@code reload}, {@code remove}…), the errno and the kernel-style reason.
   *
   * @param body what the command prints, lines ending in {@code \n}; empty on failure
   */
  record Response(boolean ok, String ioctl, String errno, String message, String body) {
    static Response ok(String body) {
      return new Response(true, null, null, null, body);
    }

    static Response error(String ioctl, String errno, String message) {
      return new Response(false, ioctl, errno, oneLine(message), "");
    }

    void write(Writer w) throws IOException {
      if (ok) {
        w.write("OK\n");
      } else {
        w.write("ERR " + ioctl + " " + errno + " " + message + "\n");
      }
      if (!body.isEmpty()) {
        int from = 0;
        while (from < body.length()) {
          int nl = body.indexOf('\n', from);
          int end = nl < 0 ? body.length() : nl;
          String line = body.substring(from, end);
          if (line.startsWith(".")) {
            w.write('.');
          }
          w.write(line);
          w.write('\n');
          from = end + 1;
        }
      }
      w.write(".\n");
      w.flush();
    }

    /**
     * Reads one response.
     *
     * @throws IOException if the stream ends first or the status line is malformed
     */
    static Response read(BufferedReader r) throws IOException {
      String status = r.readLine();
      if (status == null) {
        throw new IOException("the daemon closed the connection without answering");
      }
      StringBuilder body = new StringBuilder();
      while (true) {
        String line = r.readLine();
        if (line == null) {
          throw new IOException("the daemon closed the connection in mid-answer");
        }
        if (line.equals(".")) {
          break;
        }
        body.append(line.startsWith(".") ? line.substring(1) : line).append('\n');
      }
      if (status.equals("OK")) {
        return ok(body.toString());
      }
      String[] p = status.split(" ", 4);
      if (p.length < 3 || !p[0].equals("ERR")) {
        throw new IOException("malformed answer from the daemon: " + status);
      }
      return error(p[1], p[2], p.length == 4 ? p[3] : "");
    }
  }

  /** At most 64 characters of {@code s}, for an error message. */
  private static String clip(String s) {
    return s.length() <= 64 ? s : s.substring(0, 64) + "...";
  }

  private static boolean isKeyChar(int c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  }

  private static String oneLine(String s) {
    return s == null ? "" : s.replace('\n', ' ').replace('\r', ' ');
  }

  /** Percent-encodes the UTF-8 bytes of {@code s} that are not printable ASCII, and {@code %}. */
  static String escape(String s) {
    StringBuilder sb = new StringBuilder(s.length());
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      if (c <= 0x20 || c >= 0x7f || c == '%') {
        sb.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)));
        sb.append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
      } else {
        sb.append((char) c);
      }
    }
    return sb.toString();
  }

  /**
   * Undoes {@link #escape}.
   *
   * @throws IllegalArgumentException on a malformed escape
   */
  static String unescape(String s) {
    if (s.indexOf('%') < 0) {
      return s;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c != '%') {
        out.write(c);
        continue;
      }
      int hi = i + 2 < s.length() ? Character.digit(s.charAt(i + 1), 16) : -1;
      int lo = i + 2 < s.length() ? Character.digit(s.charAt(i + 2), 16) : -1;
      if (hi < 0 || lo < 0) {
        throw new IllegalArgumentException("bad escape at " + i);
      }
      out.write(hi << 4 | lo);
      i += 2;
    }
    return utf8(out.toByteArray());
  }

  /**
   * Decodes UTF-8 strictly: malformed input is refused, never replaced (two different byte strings
   * must not become one name).
   *
   * @throws IllegalArgumentException if {@code b} is not valid UTF-8
   */
  static String utf8(byte[] b) {
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(b))
          .toString();
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException("not valid UTF-8");
    }
  }
}
