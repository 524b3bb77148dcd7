package io.jdm.core.bufio;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.core.IoLimits;
import io.jdm.core.MemoryBlockDevice;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A memory device that records every bio ({@code "submit WRITE 8+8"}: sector 8, 8 sectors; {@code
 * "done WRITE 8"}), can fail chosen sectors, and can hold bios of chosen operations until the test
 * lets them go, so tests see exactly which I/O a client issues and in which order.
 */
final class RecordingDevice implements BlockDevice {
  private final MemoryBlockDevice disk;
  private final List<String> log = Collections.synchronizedList(new ArrayList<>());
  private final Set<Long> failReads = ConcurrentHashMap.newKeySet();
  private final Set<Long> failWrites = ConcurrentHashMap.newKeySet();
  private final Set<Bio.Op> held = Collections.synchronizedSet(EnumSet.noneOf(Bio.Op.class));
  private final Deque<Bio> waiting = new ArrayDeque<>();

  RecordingDevice(String name, long sectors) {
    this(MemoryBlockDevice.create(name, sectors));
  }

  RecordingDevice(MemoryBlockDevice disk) {
    this.disk = disk;
  }

  MemoryBlockDevice disk() {
    return disk;
  }

  /** A copy of the log. */
  List<String> log() {
    synchronized (log) {
      return new ArrayList<>(log);
    }
  }

  void clearLog() {
    log.clear();
  }

  /** How many bios of {@code op} were submitted. */
  long submitted(Bio.Op op) {
    return log().stream().filter(e -> e.startsWith("submit " + op + " ")).count();
  }

  /** How many reads were submitted that start at {@code sector}. */
  long readsAt(long sector) {
    return log().stream().filter(e -> e.startsWith("submit READ " + sector + "+")).count();
  }

  void failReads(long sector, boolean fail) {
    if (fail) {
      failReads.add(sector);
    } else {
      failReads.remove(sector);
    }
  }

  void failWrites(long sector, boolean fail) {
    if (fail) {
      failWrites.add(sector);
    } else {
      failWrites.remove(sector);
    }
  }

  /** Bios of {@code op} wait until {@link #release} from now on. */
  void hold(Bio.Op op) {
    held.add(op);
  }

  /** How many bios are being held. */
  int waiting() {
    synchronized (waiting) {
      return waiting.size();
    }
  }

  /** Stops holding and completes everything held, in an order shuffled by {@code rnd}. */
  void releaseAll(Random rnd) {
    held.clear();
    List<Bio> bios;
    synchronized (waiting) {
      bios = new ArrayList<>(waiting);
      waiting.clear();
    }
    Collections.shuffle(bios, rnd);
    for (Bio b : bios) {
      serve(b);
    }
  }

  /**
   * Completes the held bios one at a time in an order shuffled by {@code rnd}, calling {@code
   * between} after each but the last.
   */
  void releaseOneByOne(Random rnd, Runnable between) {
    held.clear();
    List<Bio> bios;
    synchronized (waiting) {
      bios = new ArrayList<>(waiting);
      waiting.clear();
    }
    Collections.shuffle(bios, rnd);
    for (int i = 0; i < bios.size(); i++) {
      serve(bios.get(i));
      if (i < bios.size() - 1) {
        between.run();
      }
    }
  }

  @Override
  public String name() {
    return disk.name();
  }

  @Override
  public long sectors() {
    return disk.sectors();
  }

  @Override
  public IoLimits limits() {
    return disk.limits();
  }

  @Override
  public boolean isReadOnly() {
    return disk.isReadOnly();
  }

  @Override
  public void submit(Bio bio) {
    log.add("submit " + bio.op() + " " + bio.sector() + "+" + bio.sectors());
    if (held.contains(bio.op())) {
      synchronized (waiting) {
        waiting.add(bio);
      }
      return;
    }
    serve(bio);
  }

  private void serve(Bio bio) {
    Bio.Op op = bio.op();
    long sector = bio.sector();
    if (op == Bio.Op.READ && failReads.contains(sector)) {
      log.add("done " + op + " " + sector + " MEDIUM");
      bio.complete(BlockStatus.MEDIUM);
      return;
    }
    if (op == Bio.Op.WRITE && failWrites.contains(sector)) {
      log.add("done " + op + " " + sector + " IOERR");
      bio.complete(BlockStatus.IOERR);
      return;
    }
    Bio inner =
        Bio.of(
            op,
            bio.flags(),
            sector,
            bio.sectors(),
            op.hasData()
                ? bio.data()
                    .duplicate()
                    .position(bio.dataOffset())
                    .limit(bio.dataOffset() + bio.bytes())
                : null,
            done -> {
              log.add(
                  "done "
                      + op
                      + " "
                      + sector
                      + (done.status() == BlockStatus.OK ? "" : " " + done.status()));
              bio.complete(done.status());
            });
    disk.submit(inner);
  }

  @Override
  public void close() throws IOException {
    disk.close();
  }
}
