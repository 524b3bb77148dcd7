package io.jdm.core.pathselector;

import io.jdm.core.StatusType;

/**
 * The path selector of one priority group of a multipath device, the kernel's {@code struct
 * path_selector} with its type's methods ({@code drivers/md/dm-path-selector.h}): it is told about
 * the group's paths, their failures and reinstatements, and chooses the path for each I/O.
 *
 * <p>Implementations must:
 *
 * <ul>
 *   <li>be safe for concurrent {@link #selectPath}, {@link #startIo} and {@link #endIo} calls from
 *       many threads; {@link #selectPath} is on the I/O path of every bio, so it must not block,
 *       and should neither allocate nor take a lock;
 *   <li>return from {@link #selectPath} only paths added to this selector and not failed since (a
 *       path failed concurrently with the choice may still be returned, as in the kernel, where the
 *       bio then fails on it and is retried);
 *   <li>throw {@link io.jdm.core.TargetException} with the kernel's text from {@link #addPath} for
 *       bad per-path arguments;
 *   <li>return the kernel's exact status text, every token followed by a space.
 * </ul>
 *
 * <p>{@link #addPath}, {@link #failPath}, {@link #reinstatePath} and {@link #status} are called by
 * the owner under its own lock, never concurrently with each other; {@link #close()} once, after
 * all I/O has finished.
 */
public interface PathSelector {

  /**
   * Adds a path with its per-path arguments ({@code add_path}); the path starts valid. The selector
   * may keep its per-path state in {@link DmPath#setSelectorContext}.
   *
   * @throws io.jdm.core.TargetException with the kernel's text for bad arguments
   */
  void addPath(DmPath path, String... args);

  /**
   * Chooses the path for an I/O of {@code nrBytes} bytes ({@code select_path}), or {@code null} if
   * no path is valid.
   */
  DmPath selectPath(long nrBytes);

  /** Takes a path out of use ({@code fail_path}). Called only for a valid path. */
  void failPath(DmPath path);

  /**
   * Puts a failed path back into use ({@code reinstate_path}).
   *
   * @throws io.jdm.core.DmException if the selector refuses; the path then stays failed
   */
  void reinstatePath(DmPath path);

  /**
   * Accounts for an I/O of {@code nrBytes} sent down {@code path} ({@code start_io}), right after
   * {@link #selectPath} chose it.
   */
  default void startIo(DmPath path, long nrBytes) {}

  /**
   * Accounts for the end of an I/O started with {@link #startIo} ({@code end_io}).
   *
   * @param startNanos the owner's {@link io.jdm.core.Clock} reading when the I/O started if the
   *     type {@linkplain PathSelectorType#usesStartTime() asks for it}, else 0
   */
  default void endIo(DmPath path, long nrBytes, long startNanos) {}

  /**
   * Status text ({@code status}): with {@code path == null} the group's selector arguments (INFO
   * and TABLE alike, {@code "0 "} for none), else the path's {@link PathSelectorType#infoArgs()} or
   * {@link PathSelectorType#tableArgs()} values. Every token is followed by a space.
   */
  String status(DmPath path, StatusType type);

  /** Releases what the selector holds ({@code destroy}). */
  default void close() {}
}
