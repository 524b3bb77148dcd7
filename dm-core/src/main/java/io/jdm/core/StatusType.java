package io.jdm.core;

/** Which status text a target reports, as the kernel's {@code status_type_t}. */
public enum StatusType {
  /** Run-time state: {@code dmsetup status}. */
  INFO,
  /** The constructor arguments in canonical form: {@code dmsetup table}. */
  TABLE
}
