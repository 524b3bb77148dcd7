package io.jdm.core;

/**
 * A {@link Target} with an end-I/O hook (the kernel's {@code end_io}): the core calls {@link
 * #endIo} for every bio this target remapped, once it has completed below. Targets without one
 * implement {@link Target} alone and the core skips the hook entirely, so whether a target has it
 * is a matter of its type, declared where it is written (no reflection, nothing to forget).
 */
public interface EndIoTarget extends Target {

  /**
   * Called when a bio this target remapped has completed below, with the bio as the lower device
   * left it. May change the status through {@link Bio#setStatus}; returns {@link
   * EndIoResult#INCOMPLETE} if it keeps the bio (and completes it later), {@link
   * EndIoResult#REQUEUE} to have the core map it again.
   */
  EndIoResult endIo(Bio bio, BlockStatus status);
}
