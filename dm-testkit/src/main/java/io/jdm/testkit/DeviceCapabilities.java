package io.jdm.testkit;

import java.util.Objects;

/**
 * What a device under test does, so the conformance suites check the right behaviour and skip what
 * does not apply (through JUnit's {@code assumeTrue}).
 *
 * @param data what reads return and what writes do
 * @param readOnly writes, discards and write-zeroes fail with {@code IOERR}
 * @param discard what a discard does
 * @param writeZeroes write-zeroes is supported (reads return zeros after it); otherwise it fails
 *     with {@code NOTSUPP}
 * @param concurrent the device may be used from several threads at once
 * @param durableFlush a flush acknowledged by the device means what was written before it is on the
 *     backing disks (false for a target that, as its kernel original, forwards no flushes)
 */
public record DeviceCapabilities(
    Data data,
    boolean readOnly,
    Discard discard,
    boolean writeZeroes,
    boolean concurrent,
    boolean durableFlush) {

  /** What reads and writes do. */
  public enum Data {
    /** Reads return what was last written (a disk). */
    PERSISTENT,
    /** Reads return zeros, writes succeed and are dropped (the {@code zero} target). */
    ZEROS,
    /** Writes succeed and go nowhere, reads leave the buffer as it was (a null device). */
    DISCARDED,
    /** Every read and write fails with {@code IOERR} (the {@code error} target). */
    FAILS
  }

  /** What a discard does. */
  public enum Discard {
    /** Completes with {@code NOTSUPP}; data unchanged. */
    UNSUPPORTED,
    /** Succeeds; the range reads as zeros afterwards. */
    ZEROES,
    /** Succeeds; the range's contents are unspecified until written again. */
    UNSPECIFIED,
    /** Fails with {@code IOERR}. */
    FAILS
  }

  public DeviceCapabilities {
    Objects.requireNonNull(data, "data");
    Objects.requireNonNull(discard, "discard");
  }

  /** As the canonical constructor, with flushes that make writes durable. */
  public DeviceCapabilities(
      Data data, boolean readOnly, Discard discard, boolean writeZeroes, boolean concurrent) {
    this(data, readOnly, discard, writeZeroes, concurrent, true);
  }

  /** A disk: persistent, writable, discard reads back zeros, write-zeroes supported. */
  public static DeviceCapabilities disk() {
    return new DeviceCapabilities(Data.PERSISTENT, false, Discard.ZEROES, true, true);
  }

  public DeviceCapabilities withData(Data data) {
    return new DeviceCapabilities(data, readOnly, discard, writeZeroes, concurrent, durableFlush);
  }

  public DeviceCapabilities withReadOnly(boolean readOnly) {
    return new DeviceCapabilities(data, readOnly, discard, writeZeroes, concurrent, durableFlush);
  }

  public DeviceCapabilities withDiscard(Discard discard) {
    return new DeviceCapabilities(data, readOnly, discard, writeZeroes, concurrent, durableFlush);
  }

  public DeviceCapabilities withWriteZeroes(boolean writeZeroes) {
    return new DeviceCapabilities(data, readOnly, discard, writeZeroes, concurrent, durableFlush);
  }

  public DeviceCapabilities withConcurrent(boolean concurrent) {
    return new DeviceCapabilities(data, readOnly, discard, writeZeroes, concurrent, durableFlush);
  }

  public DeviceCapabilities withDurableFlush(boolean durableFlush) {
    return new DeviceCapabilities(data, readOnly, discard, writeZeroes, concurrent, durableFlush);
  }

  /** Writes succeed (the device is writable and does not fail them). */
  public boolean writesSucceed() {
    return !readOnly && data != Data.FAILS;
  }

  /** Reads return checkable content. */
  public boolean readsCheckable() {
    return data == Data.PERSISTENT || data == Data.ZEROS;
  }
}
