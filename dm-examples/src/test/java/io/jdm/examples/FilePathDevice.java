package io.jdm.examples;

import io.jdm.core.BlockDevice;
import io.jdm.core.DeviceFileChannel;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.h2.store.fs.FilePath;

/**
 * H2's file-system SPI over jdm devices: {@code jdmdev:NAME} is a {@link DeviceFileChannel} on the
 * device registered as {@code NAME}. H2 needs a {@code FilePath} for any storage that is not a file
 * of the operating system; this one is all the glue H2 needs, since the channel has a logical size
 * (a fresh device is an empty file) and {@code truncate} works.
 */
final class FilePathDevice extends FilePath {
  static final String SCHEME = "jdmdev";
  private static final Map<String, BlockDevice> DEVICES = new ConcurrentHashMap<>();

  static {
    FilePath.register(new FilePathDevice());
  }

  /** Makes {@code device} openable by H2 as {@code jdmdev:NAME}; returns that file name. */
  static String register(String name, BlockDevice device) {
    DEVICES.put(name, device);
    return SCHEME + ":" + name;
  }

  static void unregister(String name) {
    DEVICES.remove(name);
  }

  private BlockDevice device() {
    BlockDevice d = DEVICES.get(name.substring(SCHEME.length() + 1));
    if (d == null) {
      throw new IllegalStateException("no jdm device registered for " + name);
    }
    return d;
  }

  @Override
  public FilePath getPath(String path) {
    FilePathDevice p = new FilePathDevice();
    p.name = path;
    return p;
  }

  @Override
  public String getScheme() {
    return SCHEME;
  }

  @Override
  public FileChannel open(String mode) throws IOException {
    return DeviceFileChannel.open(device());
  }

  @Override
  public long size() {
    try (DeviceFileChannel f = DeviceFileChannel.open(device())) {
      return f.size();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public boolean exists() {
    return DEVICES.containsKey(name.substring(SCHEME.length() + 1));
  }

  @Override
  public boolean createFile() {
    return false; // the device is the file: it exists once registered
  }

  @Override
  public void delete() {
    throw new UnsupportedOperationException("delete " + name);
  }

  @Override
  public void moveTo(FilePath newName, boolean atomicReplace) {
    throw new UnsupportedOperationException("move " + name);
  }

  @Override
  public List<FilePath> newDirectoryStream() {
    return List.of();
  }

  @Override
  public FilePath toRealPath() {
    return this;
  }

  @Override
  public FilePath getParent() {
    return null;
  }

  @Override
  public boolean isDirectory() {
    return false;
  }

  @Override
  public boolean isRegularFile() {
    return exists();
  }

  @Override
  public boolean isAbsolute() {
    return true;
  }

  @Override
  public long lastModified() {
    return 0;
  }

  @Override
  public boolean canWrite() {
    return !device().isReadOnly();
  }

  @Override
  public void createDirectory() {
    throw new UnsupportedOperationException("createDirectory " + name);
  }

  @Override
  public boolean setReadOnly() {
    return false;
  }
}
