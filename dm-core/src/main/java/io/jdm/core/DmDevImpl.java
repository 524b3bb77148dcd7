package io.jdm.core;

/** A table's reference to one opened device. */
final class DmDevImpl implements DmDev {
  private final DeviceMapper dm;
  private final DeviceMapper.OpenDevice od;
  private final String path;
  private final boolean writable;
  private boolean released;

  DmDevImpl(DeviceMapper dm, DeviceMapper.OpenDevice od, String path, boolean writable) {
    this.dm = dm;
    this.od = od;
    this.path = path;
    this.writable = writable;
  }

  @Override
  public BlockDevice bdev() {
    return od.bdev;
  }

  @Override
  public DeviceNumber number() {
    return od.number;
  }

  @Override
  public String path() {
    return path;
  }

  @Override
  public boolean writable() {
    return writable;
  }

  /** The mapped device this refers to, or {@code null} for other devices. */
  MappedDevice mapped() {
    return od.mapped;
  }

  synchronized void release() {
    if (!released) {
      released = true;
      dm.release(od);
    }
  }

  @Override
  public String toString() {
    return number() + " (" + path + ")";
  }
}
