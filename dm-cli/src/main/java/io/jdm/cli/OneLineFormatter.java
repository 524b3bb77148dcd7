package io.jdm.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.StreamHandler;

/**
 * The daemon's log format, one line per record as {@code dmesg} shows kernel messages: {@code
 * 2025-01-31 12:00:00.123 INFO basic_target_map: write of 512 bytes at sector 10}, then the stack
 * trace if there is one.
 */
final class OneLineFormatter extends Formatter {
  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS", Locale.ROOT)
          .withZone(ZoneId.systemDefault());

  @Override
  public String format(LogRecord r) {
    StringBuilder sb = new StringBuilder(128);
    sb.append(TIME.format(Instant.ofEpochMilli(r.getMillis())))
        .append(' ')
        .append(r.getLevel().getName())
        .append(' ')
        .append(formatMessage(r))
        .append('\n');
    if (r.getThrown() != null) {
      StringWriter sw = new StringWriter();
      r.getThrown().printStackTrace(new PrintWriter(sw));
      sb.append(sw);
    }
    return sb.toString();
  }

  /** A handler appending to {@code file}, flushed after every record so readers see it at once. */
  static Handler fileHandler(Path file) throws IOException {
    OutputStream out =
        Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    StreamHandler h =
        new StreamHandler(out, new OneLineFormatter()) {
          @Override
          public synchronized void publish(LogRecord record) {
            super.publish(record);
            flush();
          }
        };
    h.setLevel(Level.ALL);
    return h;
  }
}
