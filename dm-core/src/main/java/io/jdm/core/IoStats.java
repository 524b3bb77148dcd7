package io.jdm.core;

import java.util.Locale;

/**
 * A device's I/O statistics: the fields of {@code /proc/diskstats} and {@code
 * /sys/block/<dev>/stat} ({@code Documentation/block/stat.rst}). Times are milliseconds.
 *
 * <p>jdm never merges requests, so the merge counts are 0. Counts and sectors are exact and count
 * each bio the device received once, when it completes. The per-operation times and {@code
 * timeInQueue} (their sum) are measured only when the device mapper was built with I/O timing on
 * (reading a clock twice per bio costs more than mapping it) and are 0 otherwise; {@code ioTicks}
 * (wall time with I/O in flight) is not measured and is always 0.
 */
public record IoStats(
    long readIos,
    long readMerges,
    long readSectors,
    long readTicks,
    long writeIos,
    long writeMerges,
    long writeSectors,
    long writeTicks,
    long inFlight,
    long ioTicks,
    long timeInQueue,
    long discardIos,
    long discardMerges,
    long discardSectors,
    long discardTicks,
    long flushIos,
    long flushTicks) {

  /** The 17 numbers as {@code /sys/block/<dev>/stat} prints them. */
  @Override
  public String toString() {
    return String.format(
        Locale.ROOT,
        "%8d %8d %8d %8d %8d %8d %8d %8d %8d %8d %8d %8d %8d %8d %8d %8d %8d",
        readIos,
        readMerges,
        readSectors,
        readTicks,
        writeIos,
        writeMerges,
        writeSectors,
        writeTicks,
        inFlight,
        ioTicks,
        timeInQueue,
        discardIos,
        discardMerges,
        discardSectors,
        discardTicks,
        flushIos,
        flushTicks);
  }

  /** A {@code /proc/diskstats} line for the device. */
  public String toDiskstatsLine(DeviceNumber number, String name) {
    return String.format(
        Locale.ROOT,
        "%4d %7d %s %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d",
        number.major(),
        number.minor(),
        name,
        readIos,
        readMerges,
        readSectors,
        readTicks,
        writeIos,
        writeMerges,
        writeSectors,
        writeTicks,
        inFlight,
        ioTicks,
        timeInQueue,
        discardIos,
        discardMerges,
        discardSectors,
        discardTicks,
        flushIos,
        flushTicks);
  }
}
