package io.jdm.core;

import java.util.List;

/**
 * One line of a table, constructed by its {@link TargetType}: the kernel's {@code struct dm_target}
 * with its type's methods.
 *
 * <p>Implementations must:
 *
 * <ul>
 *   <li>in {@link #map}, never block: remap and return {@link MapResult#REMAPPED}, complete or keep
 *       the bio and return {@link MapResult#SUBMITTED}, or return {@link MapResult#KILL} / {@link
 *       MapResult#REQUEUE}. Blocking work goes to a {@link Workqueue} from {@link
 *       TargetContext#workqueue}. Sectors arriving in {@code map} are the mapped device's: the
 *       target subtracts its own start ({@code dm_target_offset});
 *   <li>expect bios split by the core: none crosses the target's end or a multiple of {@link
 *       #maxIoSectors()} counted from the target's start;
 *   <li>return the kernel's exact text from {@link #status};
 *   <li>be safe for concurrent {@code map} and {@code endIo} calls from many threads.
 * </ul>
 *
 * <p>The core calls the lifecycle hooks with the device's control lock held, never concurrently
 * with each other: {@link #presuspend()}, {@link #postsuspend()} while suspending, {@link
 * #preresume()} (may refuse), {@link #resume()} while resuming, {@link #close()} once when the
 * table is destroyed, after all its I/O has finished. Devices obtained from the context are
 * released by the core after {@code close()}.
 *
 * <p>A target that needs to see its bios complete implements {@link EndIoTarget} (the kernel's
 * {@code end_io}); the core decides once per table, by type, whether to call it.
 *
 * <p>The defaults mirror the kernel's: a target gets no flush, discard or write-zeroes bios until
 * it says how many it wants, and has no messages.
 */
public interface Target {

  /** Maps one bio (sector range inside this target). */
  MapResult map(Bio bio);

  /** Status text, without the {@code start length type} prefix. */
  default String status(StatusType type) {
    return "";
  }

  /**
   * Handles {@code dmsetup message}. Returns the reply ("" for none).
   *
   * @throws TargetException with the kernel's error text; the default says the target has no
   *     messages
   */
  default String message(String... argv) {
    throw new TargetException("Target type does not support messages");
  }

  /** The device areas this target maps onto, for validation, limits and dependencies. */
  default List<DeviceArea> devices() {
    return List.of();
  }

  /** Adjusts the limits stacked from {@link #devices()} ({@code io_hints}). */
  default void ioHints(IoLimits.Builder limits) {}

  /** Bios are split so that none crosses a multiple of this, from the target start (0: none). */
  default long maxIoSectors() {
    return 0;
  }

  /** Empty flush copies to send this target ({@code num_flush_bios}); 0 = flushes skip it. */
  default int numFlushBios() {
    return 0;
  }

  /** Discard copies ({@code num_discard_bios}); 0 = discard unsupported. */
  default int numDiscardBios() {
    return 0;
  }

  /** Write-zeroes copies ({@code num_write_zeroes_bios}); 0 = unsupported. */
  default int numWriteZeroesBios() {
    return 0;
  }

  /** Supports discard even when its devices do not ({@code discards_supported}). */
  default boolean discardsSupported() {
    return false;
  }

  /** Needs flushes even when its devices have no cache ({@code flush_supported}). */
  default boolean flushSupported() {
    return false;
  }

  /**
   * Empty flushes may skip {@link #map} and go straight to every device in the table ({@code
   * flush_bypasses_map}); only for targets whose flush mapping is trivial (linear, striped).
   */
  default boolean flushBypassesMap() {
    return false;
  }

  default void presuspend() {}

  /** Undoes {@link #presuspend()} when a suspend is abandoned. */
  default void presuspendUndo() {}

  default void postsuspend() {}

  /**
   * Last check before the table goes live or resumes; throwing keeps the device suspended (the
   * kernel's crypt refuses to resume without a key).
   */
  default void preresume() {}

  default void resume() {}

  /** Releases what the constructor acquired (not the devices: the core releases those). */
  default void close() {}
}
