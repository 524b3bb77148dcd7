package io.jdm.core;

import java.text.MessageFormat;
import java.util.Locale;
import java.util.Objects;
import java.util.ResourceBundle;
import java.util.function.Supplier;

/**
 * A target's logger ({@link TargetContext#logger()}): every message starts as the kernel's {@code
 * DMERR}/{@code DMWARN}/{@code DMINFO} lines for a device do, {@code device-mapper: <target>: dm-N:
 * }, so a log holding several devices says which one spoke ({@code device-mapper: verity: dm-3:
 * data block 1 is corrupted}). {@code dm-N} is the mapped device's kernel name (its minor).
 *
 * <p>Records go to the {@link System.Logger} named {@code io.jdm.target.<target>}, so levels and
 * handlers are configured per target type as before. Thread-safe (it holds only its prefix).
 */
final class TargetLogger implements System.Logger {
  private final System.Logger delegate;
  private final String prefix;

  private TargetLogger(System.Logger delegate, String prefix) {
    this.delegate = delegate;
    this.prefix = prefix;
  }

  /** The logger for a target of type {@code type} in the mapped device numbered {@code number}. */
  static TargetLogger of(String type, DeviceNumber number) {
    return of(System.getLogger("io.jdm.target." + type), type, number);
  }

  /** As {@link #of(String, DeviceNumber)}, logging to {@code delegate}. */
  static TargetLogger of(System.Logger delegate, String type, DeviceNumber number) {
    Objects.requireNonNull(type, "type");
    return new TargetLogger(
        Objects.requireNonNull(delegate, "delegate"),
        "device-mapper: " + type + ": dm-" + number.minor() + ": ");
  }

  /** What every message starts with. */
  String prefix() {
    return prefix;
  }

  @Override
  public String getName() {
    return delegate.getName();
  }

  @Override
  public boolean isLoggable(Level level) {
    return delegate.isLoggable(level);
  }

  @Override
  public void log(Level level, ResourceBundle bundle, String msg, Throwable thrown) {
    if (delegate.isLoggable(level)) {
      delegate.log(level, bundle, prefix + localized(bundle, msg), thrown);
    }
  }

  @Override
  public void log(Level level, ResourceBundle bundle, String format, Object... params) {
    if (!delegate.isLoggable(level)) {
      return;
    }
    String f = localized(bundle, format);
    String text =
        params == null || params.length == 0
            ? f
            : new MessageFormat(f == null ? "null" : f, Locale.ROOT).format(params);
    // already formatted: hand it on without parameters, so braces in it stay as they are
    delegate.log(level, (ResourceBundle) null, prefix + text, (Throwable) null);
  }

  @Override
  public void log(Level level, Supplier<String> supplier) {
    if (delegate.isLoggable(level)) {
      delegate.log(level, (ResourceBundle) null, prefix + supplier.get(), (Throwable) null);
    }
  }

  @Override
  public void log(Level level, Supplier<String> supplier, Throwable thrown) {
    if (delegate.isLoggable(level)) {
      delegate.log(level, (ResourceBundle) null, prefix + supplier.get(), thrown);
    }
  }

  private static String localized(ResourceBundle bundle, String msg) {
    if (bundle != null && msg != null && bundle.containsKey(msg)) {
      return bundle.getString(msg);
    }
    return msg;
  }
}
