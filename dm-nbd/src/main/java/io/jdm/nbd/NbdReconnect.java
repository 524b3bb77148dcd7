package io.jdm.nbd;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.Objects;

/**
 * How an {@link NbdBlockDevice} reconnects once its server goes away: the first attempt {@code
 * interval} after the connection is lost, each failed attempt doubling the wait up to {@code
 * maxInterval}, on the device's {@link io.jdm.core.Clock}. In an NBD URI: {@code reconnect=1} (or
 * qemu's {@code reconnect-delay=0}) for {@link #DEFAULT}, {@code reconnect-interval=SECONDS} and
 * {@code reconnect-max-interval=SECONDS} (decimal seconds) for other bounds.
 *
 * @param interval the wait before the first attempt
 * @param maxInterval the longest wait between two attempts (at least {@code interval})
 */
public record NbdReconnect(Duration interval, Duration maxInterval) {

  /** qemu's backoff ({@code nbd/client-connection.c}): 1 s, doubling up to 16 s. */
  public static final NbdReconnect DEFAULT =
      new NbdReconnect(Duration.ofSeconds(1), Duration.ofSeconds(16));

  public NbdReconnect {
    Objects.requireNonNull(interval, "interval");
    Objects.requireNonNull(maxInterval, "maxInterval");
    if (interval.isNegative() || interval.isZero()) {
      throw new IllegalArgumentException("reconnect interval " + interval + " (expected: > 0)");
    }
    if (maxInterval.compareTo(interval) < 0) {
      throw new IllegalArgumentException(
          "reconnect max interval " + maxInterval + " is shorter than the interval " + interval);
    }
  }

  /** Decimal seconds ({@code 0.25}, {@code 16}) as a duration, for the URI parameters. */
  static Duration parseSeconds(String key, String value) {
    BigDecimal s;
    try {
      s = new BigDecimal(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + "=" + value + ": not a number of seconds", e);
    }
    if (s.signum() <= 0 || s.compareTo(BigDecimal.valueOf(86400)) > 0) {
      throw new IllegalArgumentException(
          key + "=" + value + ": expected seconds > 0 and at most 86400");
    }
    long nanos = s.movePointRight(9).longValue();
    if (nanos <= 0) {
      throw new IllegalArgumentException(key + "=" + value + ": shorter than a nanosecond");
    }
    return Duration.ofNanos(nanos);
  }

  /** A duration as decimal seconds, without trailing zeros. */
  static String seconds(Duration d) {
    return BigDecimal.valueOf(d.toNanos(), 9).stripTrailingZeros().toPlainString();
  }
}
