package io.jdm.targets.multipath;

import io.jdm.core.pathselector.PathSelectorType;

/** A selector type's name and status argument counts ({@code struct path_selector_type}). */
abstract class SelectorTypeBase implements PathSelectorType {
  private final String name;
  private final int tableArgs;
  private final int infoArgs;

  SelectorTypeBase(String name, int tableArgs, int infoArgs) {
    this.name = name;
    this.tableArgs = tableArgs;
    this.infoArgs = infoArgs;
  }

  @Override
  public final String name() {
    return name;
  }

  @Override
  public final int tableArgs() {
    return tableArgs;
  }

  @Override
  public final int infoArgs() {
    return infoArgs;
  }
}
