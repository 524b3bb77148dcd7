package io.jdm.testkit;

import io.jdm.core.BlockDevice;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MemoryBlockDevice;
import java.io.Closeable;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Backing devices for a target under test: memory devices registered with the test's {@link
 * DeviceMapper} under generated names, and sparse temporary files. Everything is closed and deleted
 * by {@link #close()}.
 *
 * <p>Memory devices have a volatile write cache ({@link MemoryBlockDevice.Builder#volatileCache}),
 * as disks do: flushes and FUA writes reach them through the target, and {@link #durableCopies()}
 * gives what a power cut would leave on them, for {@link #replace replacing} them after a crash.
 */
public final class TargetFixture implements Closeable {
  private final DeviceMapper dm;
  private final List<BlockDevice> devices = new ArrayList<>();
  private final Map<String, BlockDevice> byName = new LinkedHashMap<>();
  private Path dir;
  private int counter;

  public TargetFixture(DeviceMapper dm) {
    this.dm = dm;
  }

  public DeviceMapper dm() {
    return dm;
  }

  /** A zero-filled in-memory device of {@code sectors} sectors; returns its table name. */
  public String memory(long sectors) {
    return memory(sectors, 512);
  }

  /** As {@link #memory(long)} with a logical block size. */
  public String memory(long sectors, int logicalBlockSize) {
    MemoryBlockDevice dev =
        MemoryBlockDevice.builder("mem" + counter, sectors)
            .logicalBlockSize(logicalBlockSize)
            .direct(counter % 2 == 1)
            .volatileCache(true)
            .build();
    return register(dev);
  }

  /** Registers a device of the caller's making; the fixture closes it. Returns its table name. */
  public String register(BlockDevice dev) {
    String name = "dev" + counter++;
    devices.add(dev);
    dm.registerDevice(name, dev);
    byName.put(name, dev);
    return name;
  }

  /**
   * What a power cut now would leave on the registered devices that have a volatile cache: for
   * each, by table name, a new device holding only what was flushed (the devices themselves are not
   * changed). Empty when no registered device has a volatile cache.
   */
  public Map<String, MemoryBlockDevice> durableCopies() {
    Map<String, MemoryBlockDevice> copies = new LinkedHashMap<>();
    for (Map.Entry<String, BlockDevice> e : byName.entrySet()) {
      if (e.getValue() instanceof MemoryBlockDevice m && m.hasVolatileCache()) {
        copies.put(e.getKey(), m.durableCopy(m.name()));
      }
    }
    return copies;
  }

  /**
   * Registers each device under its name in place of the one registered there (which must no longer
   * be in use by a table), as a machine comes back after a crash with what was on its disks; the
   * fixture closes the new devices too.
   */
  public void replace(Map<String, ? extends BlockDevice> replacements) {
    for (Map.Entry<String, ? extends BlockDevice> e : replacements.entrySet()) {
      if (!byName.containsKey(e.getKey())) {
        throw new IllegalArgumentException("no device named " + e.getKey() + " in this fixture");
      }
      dm.unregisterDevice(e.getKey());
      devices.add(e.getValue());
      dm.registerDevice(e.getKey(), e.getValue());
      byName.put(e.getKey(), e.getValue());
    }
  }

  /** A sparse zero-filled temporary file of {@code sectors} sectors; returns its path. */
  public String file(long sectors) throws IOException {
    if (dir == null) {
      dir = Files.createTempDirectory("jdm-test");
    }
    Path p = dir.resolve("disk" + counter++ + ".img");
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(sectors * 512);
    }
    return p.toString();
  }

  /** The devices registered through this fixture. */
  public List<BlockDevice> devices() {
    return List.copyOf(devices);
  }

  @Override
  public void close() throws IOException {
    for (BlockDevice d : devices) {
      d.close();
    }
    devices.clear();
    if (dir != null) {
      try (Stream<Path> s = Files.walk(dir)) {
        for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
      dir = null;
    }
  }
}
