package io.jdm.core;

/** What a target's {@link EndIoTarget#endIo} decided, as the kernel's {@code DM_ENDIO_*}. */
public enum EndIoResult {
  /** The bio is finished at this layer; completion continues upwards. */
  DONE,
  /** The target keeps the bio (for instance to retry it on another path) and completes it later. */
  INCOMPLETE,
  /** Push the bio back, as {@link MapResult#REQUEUE}. */
  REQUEUE
}
