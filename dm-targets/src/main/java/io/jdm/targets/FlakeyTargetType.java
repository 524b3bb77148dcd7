package io.jdm.targets;

import io.jdm.core.ArgSet;
import io.jdm.core.DmDev;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;

/**
 * {@code flakey <dev> <offset> <up_interval> <down_interval> [<#features> <feature>...]}: a
 * pass-through device that is well for {@code up_interval} seconds, then misbehaves for {@code
 * down_interval} seconds, over and over ({@code drivers/md/dm-flakey.c}, v1.5.0).
 *
 * <p>Features while down: {@code error_reads}, {@code drop_writes} or {@code error_writes}, {@code
 * corrupt_bio_byte <nth byte, 1-based> <r|w> <value 0-255> <flags>} (only bios carrying all the
 * given kernel {@code REQ_*} flag bits), {@code random_read_corrupt <p>}, {@code
 * random_write_corrupt <p>} (probability {@code p / 1,000,000,000}). With no feature that does
 * anything, reads and writes fail ({@code error_reads error_writes}), as in Linux 6.12.
 *
 * <p>Validation and messages are the kernel's, including its quirk of reporting a bad down interval
 * as {@code "Invalid up interval"} (both are read with the same {@code dm_arg}).
 */
public final class FlakeyTargetType implements TargetType {
  /** Creates the type; instances are found through {@link java.util.ServiceLoader}. */
  public FlakeyTargetType() {}

  private static final TargetVersion VERSION = TargetVersion.of(1, 5, 0);
  static final long PROBABILITY_BASE = 1_000_000_000L;

  @Override
  public String name() {
    return "flakey";
  }

  @Override
  public TargetVersion version() {
    return VERSION;
  }

  @Override
  public Target create(TargetContext ctx, long begin, long length, String[] args) {
    if (args.length < 4) {
      throw new TargetException("Invalid argument count");
    }
    ArgSet as = new ArgSet(args);
    String devName = as.next();
    long start = ArgSet.parseSector(as.next(), "Invalid device sector");
    long up = ArgSet.parseUint(as.next(), "Invalid up interval");
    long down = ArgSet.parseUint(as.next(), "Invalid up interval");
    if (((up + down) & 0xFFFF_FFFFL) == 0) { // unsigned int in the kernel: 2^32 wraps to 0
      throw new TargetException("Total (up + down) interval is zero");
    }
    if (up + down > 0xFFFF_FFFFL) {
      throw new TargetException("Interval overflow");
    }
    FlakeyTarget.Features f = parseFeatures(as);
    DmDev dev = ctx.getDevice(devName, "Device lookup failed");
    return new FlakeyTarget(ctx.clock(), ctx.random(), dev, begin, length, start, up, down, f);
  }

  private static FlakeyTarget.Features parseFeatures(ArgSet as) {
    FlakeyTarget.Features f = new FlakeyTarget.Features();
    int argc = as.hasNext() ? as.readArgGroup(0, 11, "Invalid number of feature args") : 0;
    while (argc != 0) { // the kernel's count is unsigned: it wraps below zero and goes on
      String name = as.next();
      argc--;
      if (name == null) {
        throw new TargetException("Insufficient feature arguments");
      }
      switch (ArgSet.toLowerAscii(name)) {
        case "error_reads":
          if (f.errorReads) {
            throw new TargetException("Feature error_reads duplicated");
          }
          f.errorReads = true;
          break;
        case "drop_writes":
          if (f.dropWrites) {
            throw new TargetException("Feature drop_writes duplicated");
          }
          f.dropWrites = true;
          if (f.errorWrites) {
            throw new TargetException("Feature drop_writes conflicts with feature error_writes");
          }
          break;
        case "error_writes":
          if (f.errorWrites) {
            throw new TargetException("Feature error_writes duplicated");
          }
          f.errorWrites = true;
          if (f.dropWrites) {
            throw new TargetException("Feature error_writes conflicts with feature drop_writes");
          }
          break;
        case "corrupt_bio_byte":
          if (argc == 0) {
            throw new TargetException("Feature corrupt_bio_byte requires parameters");
          }
          f.corruptByte = ArgSet.parseLong(as.next(), 1, 0xFFFF_FFFFL, "Invalid corrupt bio byte");
          argc--;
          String dir = as.next();
          if (dir != null && ArgSet.equalsIgnoreCase(dir, "w")) {
            f.corruptWrites = true;
          } else if (dir != null && ArgSet.equalsIgnoreCase(dir, "r")) {
            f.corruptWrites = false;
          } else {
            throw new TargetException("Invalid corrupt bio direction (r or w)");
          }
          argc--;
          f.corruptValue =
              as.readArg(0, 255, "Invalid corrupt value to write into bio byte (0-255)");
          argc--;
          f.corruptFlags = ArgSet.parseUint(as.next(), "Invalid corrupt bio flags mask");
          argc--;
          break;
        case "random_read_corrupt":
          if (argc == 0) {
            throw new TargetException("Feature random_read_corrupt requires a parameter");
          }
          f.randomReadCorrupt =
              ArgSet.parseLong(as.next(), 0, PROBABILITY_BASE, "Invalid random corrupt argument");
          argc--;
          break;
        case "random_write_corrupt":
          if (argc == 0) {
            throw new TargetException("Feature random_write_corrupt requires a parameter");
          }
          f.randomWriteCorrupt =
              ArgSet.parseLong(as.next(), 0, PROBABILITY_BASE, "Invalid random corrupt argument");
          argc--;
          break;
        default:
          throw new TargetException("Unrecognised flakey feature requested");
      }
    }
    if (f.dropWrites && f.corruptByte > 0 && f.corruptWrites) {
      throw new TargetException(
          "drop_writes is incompatible with corrupt_bio_byte with the WRITE flag set");
    }
    if (f.errorWrites && f.corruptByte > 0 && f.corruptWrites) {
      throw new TargetException(
          "error_writes is incompatible with corrupt_bio_byte with the WRITE flag set");
    }
    if (f.corruptByte == 0
        && !f.errorReads
        && !f.dropWrites
        && !f.errorWrites
        && f.randomReadCorrupt == 0
        && f.randomWriteCorrupt == 0) {
      f.errorReads = true;
      f.errorWrites = true;
    }
    return f;
  }
}
