package io.jdm.core.dirtylog;

import io.jdm.core.AbstractBlockDevice;
import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * A memory device that writes every bio it is given, in submission order, to a journal it may share
 * with other devices (so a test sees the order of a log flush and a data write across devices), and
 * fails reads, writes or flushes on demand with {@link BlockStatus#IOERR}. Bios complete on the
 * submitting thread, so submission order is completion order.
 */
public final class InstrumentedDevice extends AbstractBlockDevice {

  /** One bio, or a marker a test added ({@link Journal#note}). */
  public record Event(String device, String what, long sector, byte[] data, BlockStatus status) {
    /** A write's payload byte at {@code offset}. */
    public int byteAt(int offset) {
      return data[offset] & 0xFF;
    }

    @Override
    public String toString() {
      return what + " " + device + (what.equals("flush") ? "" : " " + sector) + " " + status;
    }
  }

  /** Events of several devices, in order. Thread-safe. */
  public static final class Journal {
    private final List<Event> events = new ArrayList<>();

    public Journal() {}

    public synchronized void add(Event e) {
      events.add(e);
    }

    /** Adds a marker, such as {@code "callback"}. */
    public void note(String what) {
      add(new Event("-", what, 0, null, BlockStatus.OK));
    }

    public synchronized List<Event> events() {
      return List.copyOf(events);
    }

    public synchronized void clear() {
      events.clear();
    }

    /** {@code "write log"}, {@code "flush log"}, {@code "callback"}, ... one per event. */
    public synchronized List<String> summary() {
      List<String> l = new ArrayList<>();
      for (Event e : events) {
        l.add(e.device().equals("-") ? e.what() : e.what() + " " + e.device());
      }
      return l;
    }
  }

  private final MemoryBlockDevice inner;
  private final Journal journal;
  public volatile boolean failReads;
  public volatile boolean failWrites;
  public volatile boolean failFlushes;

  /** Runs before each bio is journalled (may block, to hold an I/O in flight). */
  public volatile Consumer<Bio> beforeSubmit;

  public InstrumentedDevice(String name, long sectors, int logicalBlockSize, Journal journal) {
    this(
        MemoryBlockDevice.builder(name, sectors)
            .logicalBlockSize(logicalBlockSize)
            .writeCache(true)
            .build(),
        journal);
  }

  private InstrumentedDevice(MemoryBlockDevice inner, Journal journal) {
    super(inner.name(), inner.sectors(), inner.limits(), false);
    this.inner = inner;
    this.journal = journal;
  }

  public Journal journal() {
    return journal;
  }

  @Override
  protected void doSubmit(Bio bio) {
    Consumer<Bio> hook = beforeSubmit;
    if (hook != null) {
      hook.accept(bio);
    }
    boolean fail;
    switch (bio.op()) {
      case READ:
        fail = failReads;
        break;
      case FLUSH:
        fail = failFlushes;
        break;
      default:
        fail = failWrites;
        break;
    }
    byte[] data = null;
    if (bio.op() == Bio.Op.WRITE) {
      data = new byte[bio.bytes()];
      bio.data().get(bio.dataOffset(), data);
    }
    BlockStatus status = fail ? BlockStatus.IOERR : BlockStatus.OK;
    String what = bio.op().name().toLowerCase(java.util.Locale.ROOT);
    journal.add(new Event(name(), what, bio.sector(), data, status));
    if (fail) {
      bio.complete(status);
    } else {
      inner.submit(bio);
    }
  }

  /** Any {@code length} bytes at {@code position}, read past the journal and the fault switches. */
  public byte[] contents(long position, int length) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(length);
    inner.asFileChannel().read(b, position);
    return b.array();
  }

  /** Writes {@code bytes} at any {@code position}, past the journal and the fault switches. */
  public void poke(long position, byte[] bytes) throws IOException {
    inner.asFileChannel().write(ByteBuffer.wrap(bytes), position);
  }

  @Override
  protected void doClose() throws IOException {
    inner.close();
  }
}
