package io.jdm.core;

import java.util.Optional;

/**
 * What {@code dmsetup info} reports about a mapped device. {@link #toString()} is {@code dmsetup
 * info}'s long format, {@link #toColumns()} its {@code -c} format.
 *
 * @param readAhead read-ahead in sectors (jdm reports the kernel's default for dm devices, 256)
 */
public record DeviceInfo(
    String name,
    boolean suspended,
    boolean readOnly,
    boolean deferredRemove,
    int readAhead,
    boolean liveTable,
    boolean inactiveTable,
    int openCount,
    int eventNr,
    DeviceNumber number,
    int targetCount,
    Optional<String> uuid) {

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    sb.append("Name:              ").append(name).append('\n');
    sb.append("State:             ")
        .append(suspended ? "SUSPENDED" : "ACTIVE")
        .append(readOnly ? " (READ-ONLY)" : "")
        .append(deferredRemove ? " (DEFERRED REMOVE)" : "")
        .append('\n');
    sb.append("Read Ahead:        ").append(readAhead).append('\n');
    if (!liveTable && !inactiveTable) {
      sb.append("Tables present:    None\n");
    } else {
      sb.append("Tables present:    ")
          .append(liveTable ? "LIVE" : "")
          .append(liveTable && inactiveTable ? " & " : "")
          .append(inactiveTable ? "INACTIVE" : "")
          .append('\n');
    }
    sb.append("Open count:        ").append(openCount).append('\n');
    sb.append("Event number:      ").append(eventNr).append('\n');
    sb.append("Major, minor:      ")
        .append(number.major())
        .append(", ")
        .append(number.minor())
        .append('\n');
    sb.append("Number of targets: ").append(targetCount).append('\n');
    uuid.filter(u -> !u.isEmpty()).ifPresent(u -> sb.append("UUID: ").append(u).append('\n'));
    return sb.append('\n').toString();
  }

  /**
   * One row of {@code dmsetup info -c}: {@code Name Maj Min Stat Open Targ Event UUID}, with {@code
   * Stat} made of {@code L|-}, {@code I|-}, {@code s|-}, {@code r|w}.
   */
  public String toColumns() {
    String stat =
        (liveTable ? "L" : "-")
            + (inactiveTable ? "I" : "-")
            + (suspended ? "s" : "-")
            + (readOnly ? "r" : "w");
    return String.join(
        " ",
        name,
        Integer.toString(number.major()),
        Integer.toString(number.minor()),
        stat,
        Integer.toString(openCount),
        Integer.toString(targetCount),
        Integer.toString(eventNr),
        uuid.orElse(""));
  }
}
