package io.jdm.targets;

import io.jdm.core.ArgSet;
import io.jdm.core.DmDev;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;

/**
 * {@code jdm-fault <dev> <offset> [<#features> <feature>...]}: jdm's own fault-injection target
 * (there is no kernel counterpart; the {@code jdm-} prefix says so), for Java storage tests that
 * want a failure at a given I/O rather than in a time window as {@code flakey} gives. A
 * pass-through to {@code dev} from sector {@code offset} that fails chosen bios with {@code IOERR}.
 *
 * <p>Features, each at most once:
 *
 * <ul>
 *   <li>{@code fail_nth_read <n>}, {@code fail_nth_write <n>}: the {@code n}th read (or write) bio
 *       the target sees after the table is loaded fails, once ({@code n >= 1}). Writes count
 *       discards and write-zeroes too; empty flushes are neither and always pass.
 *   <li>{@code random_read_error <p>}, {@code random_write_error <p>}: each read (or write) fails
 *       with probability {@code p / 1,000,000,000}, as {@code flakey}'s {@code random_*_corrupt}.
 *   <li>{@code seed <s>}: the seed of the random choices (a decimal {@code long}); without it the
 *       device mapper's seeded random gives one, so a test's seed still replays a run.
 * </ul>
 *
 * <p>Bios are counted after the core splits them at target ends and {@code maxIoSectors}, as a
 * target sees them. Status (INFO): {@code <reads> <writes> <failed reads> <failed writes>}; TABLE:
 * the arguments as given. Message {@code reset}: counts back to zero, so {@code fail_nth_*} fires
 * again.
 */
public final class FaultTargetType implements TargetType {
  /** Creates the type; instances are found through {@link java.util.ServiceLoader}. */
  public FaultTargetType() {}

  private static final TargetVersion VERSION = TargetVersion.of(1, 0, 0);

  /** Probabilities are in parts per {@value}. */
  static final long PROBABILITY_BASE = 1_000_000_000L;

  @Override
  public String name() {
    return "jdm-fault";
  }

  @Override
  public TargetVersion version() {
    return VERSION;
  }

  @Override
  public Target create(TargetContext ctx, long begin, long length, String[] args) {
    if (args.length < 2) {
      throw new TargetException("Invalid argument count");
    }
    ArgSet as = new ArgSet(args);
    String devPath = as.next();
    long start = ArgSet.parseSector(as.next(), "Invalid device sector");
    FaultTarget.Features f = new FaultTarget.Features();
    int argc = as.hasNext() ? as.readArgGroup(0, 10, "Invalid number of feature args") : 0;
    while (argc-- > 0) {
      String name = as.next();
      if (name == null) {
        throw new TargetException("Insufficient feature arguments");
      }
      if (argc-- == 0) {
        throw new TargetException("Feature " + name + " requires a parameter");
      }
      String value = as.next();
      if (value == null) {
        throw new TargetException("Insufficient feature arguments");
      }
      switch (ArgSet.toLowerAscii(name)) {
        case "fail_nth_read":
          f.nthRead = once(f.nthRead, name, nth(value, "Invalid read number"));
          break;
        case "fail_nth_write":
          f.nthWrite = once(f.nthWrite, name, nth(value, "Invalid write number"));
          break;
        case "random_read_error":
          f.randomRead = once(f.randomRead, name, probability(value));
          break;
        case "random_write_error":
          f.randomWrite = once(f.randomWrite, name, probability(value));
          break;
        case "seed":
          if (f.seedText != null) {
            throw new TargetException("Feature seed duplicated");
          }
          try {
            f.seed = Long.parseLong(value);
          } catch (NumberFormatException e) {
            throw new TargetException("Invalid seed");
          }
          f.seedText = value;
          break;
        default:
          throw new TargetException("Unrecognised fault feature requested: " + name);
      }
      f.text.append(' ').append(name).append(' ').append(value);
      f.count += 2;
    }
    if (as.hasNext()) {
      throw new TargetException("Invalid argument count");
    }
    if (f.seedText == null) {
      f.seed = ctx.random().nextLong();
    }
    DmDev dev = ctx.getDevice(devPath, "Device lookup failed");
    return new FaultTarget(dev, begin, length, start, f);
  }

  private static long nth(String value, String error) {
    return ArgSet.parseLong(value, 1, Long.MAX_VALUE, error);
  }

  private static long probability(String value) {
    return ArgSet.parseLong(value, 0, PROBABILITY_BASE, "Invalid random error argument");
  }

  private static long once(long was, String name, long value) {
    if (was != 0) {
      throw new TargetException("Feature " + name + " duplicated");
    }
    return value;
  }
}
