package io.jdm.core;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;

/**
 * A base for leaf devices: {@link #submit} checks the bio against the {@link BlockDevice} contract
 * (open, in range, aligned, writable) and hands only valid bios to {@link #doSubmit}, so an
 * implementation writes just its fast path (the Netty {@code AbstractByteBuf} pattern). {@link
 * #close()} runs {@link #doClose()} once.
 */
public abstract class AbstractBlockDevice implements BlockDevice {
  private static final VarHandle CLOSED;

  static {
    try {
      CLOSED = MethodHandles.lookup().findVarHandle(AbstractBlockDevice.class, "closed", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final String name;
  private final long sectors;
  private final IoLimits limits;
  private final boolean readOnly;
  private final int lbsMask;

  @SuppressWarnings("unused") // through CLOSED
  private volatile int closed;

  protected AbstractBlockDevice(String name, long sectors, IoLimits limits, boolean readOnly) {
    this.name = Objects.requireNonNull(name, "name");
    if (sectors < 0) {
      throw new IllegalArgumentException("sectors " + sectors + " < 0");
    }
    this.limits = Objects.requireNonNull(limits, "limits");
    int lbs = limits.logicalBlockSectors();
    if (sectors % lbs != 0) {
      throw new IllegalArgumentException(
          "size of "
              + sectors
              + " sectors is not a multiple of the logical block size "
              + limits.logicalBlockSize());
    }
    this.sectors = sectors;
    this.readOnly = readOnly;
    this.lbsMask = lbs - 1;
  }

  @Override
  public final String name() {
    return name;
  }

  @Override
  public final long sectors() {
    return sectors;
  }

  @Override
  public final IoLimits limits() {
    return limits;
  }

  @Override
  public final boolean isReadOnly() {
    return readOnly;
  }

  @Override
  public final void submit(Bio bio) {
    ensureOpen();
    Bio.Op op = bio.op();
    if (op != Bio.Op.FLUSH) {
      long s = bio.sector();
      int n = bio.sectors();
      if (s < 0 || n > sectors - s) {
        bio.complete(BlockStatus.IOERR);
        return;
      }
      if (((s | n) & lbsMask) != 0) {
        bio.complete(BlockStatus.INVAL);
        return;
      }
    }
    if (readOnly && op.isWrite() && op != Bio.Op.FLUSH) {
      bio.complete(BlockStatus.IOERR);
      return;
    }
    doSubmit(bio);
  }

  /**
   * Serves a bio that is in range, aligned, and allowed by the read-only flag. Must complete it
   * exactly once and must not throw.
   */
  protected abstract void doSubmit(Bio bio);

  /** Throws {@link IllegalStateException} once the device is closed. */
  protected final void ensureOpen() {
    if (closed != 0) {
      throw new IllegalStateException(name + " is closed");
    }
  }

  public final boolean isClosed() {
    return closed != 0;
  }

  @Override
  public final void close() throws IOException {
    if (CLOSED.compareAndSet(this, 0, 1)) {
      doClose();
    }
  }

  /** Releases resources; called once. */
  protected void doClose() throws IOException {}

  @Override
  public String toString() {
    return getClass().getSimpleName() + "[" + name + ", " + sectors + " sectors]";
  }
}
