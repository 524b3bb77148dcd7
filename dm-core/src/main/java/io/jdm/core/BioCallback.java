package io.jdm.core;

/**
 * Called once when a {@link Bio} completes (the kernel's {@code bi_end_io}). The status is {@link
 * Bio#status()}.
 *
 * <p>Runs on whatever thread completed the I/O, often the submitting thread itself (inline
 * completion) and sometimes a device's worker: implementations must be quick and must not block.
 * After {@code done} returns the bio belongs to its owner again and may be reused.
 */
@FunctionalInterface
public interface BioCallback {
  void done(Bio bio);
}
