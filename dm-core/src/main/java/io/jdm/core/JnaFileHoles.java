package io.jdm.core;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@link FileHoles} through JNA's libc binding; loaded by {@link FileHoles.Loader} only when JNA is
 * on the class path. The constants are Linux's and the same on every architecture it runs on
 * ({@code O_RDONLY}, {@code O_RDWR}, {@code FALLOC_FL_*}, {@code SEEK_DATA/HOLE}); 64-bit only,
 * where {@code off_t} is a Java {@code long}.
 */
final class JnaFileHoles implements FileHoles {
  private static final int O_RDONLY = 0;
  private static final int O_RDWR = 2;
  private static final int FALLOC_FL_KEEP_SIZE = 1;
  private static final int FALLOC_FL_PUNCH_HOLE = 2;
  private static final int SEEK_DATA = 3;
  private static final int SEEK_HOLE = 4;
  private static final int EINTR = 4;
  private static final int ENXIO = 6;

  /** The libc functions used; no {@code O_CLOEXEC} needed: the JDK closes them in children. */
  interface LibC extends Library {
    int open(String path, int flags);

    int close(int fd);

    int fallocate(int fd, int mode, long offset, long length);

    long lseek(int fd, long offset, int whence);
  }

  private static LibC libc;

  /** The opener, or {@code null} on a system this does not support. */
  static FileHoles.Opener opener() {
    if (!Platform.isLinux() || !Platform.is64Bit()) {
      return null;
    }
    libc = Native.load("c", LibC.class);
    return JnaFileHoles::open;
  }

  private final int fd;
  private final Path path;
  private final AtomicBoolean closed = new AtomicBoolean();

  private JnaFileHoles(int fd, Path path) {
    this.fd = fd;
    this.path = path;
  }

  private static FileHoles open(Path path, boolean writable) throws IOException {
    int fd = libc.open(path.toString(), writable ? O_RDWR : O_RDONLY);
    if (fd < 0) {
      throw error("open", path, Native.getLastError());
    }
    JnaFileHoles h = new JnaFileHoles(fd, path);
    if (writable) {
      // past the end of the file: frees nothing, fails where the file system cannot punch
      long end = libc.lseek(fd, 0, 2 /* SEEK_END */);
      if (end < 0
          || libc.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, end, 4096) != 0) {
        h.close();
        return null;
      }
    }
    return h;
  }

  @Override
  public void punch(long offset, long length) throws IOException {
    while (libc.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length) != 0) {
      int e = Native.getLastError();
      if (e != EINTR) {
        throw error("fallocate(PUNCH_HOLE) of " + length + " bytes at " + offset, path, e);
      }
    }
  }

  @Override
  public long nextData(long offset) throws IOException {
    return seek(offset, SEEK_DATA);
  }

  @Override
  public long nextHole(long offset) throws IOException {
    return seek(offset, SEEK_HOLE);
  }

  private long seek(long offset, int whence) throws IOException {
    long r = libc.lseek(fd, offset, whence);
    if (r < 0) {
      int e = Native.getLastError();
      if (e == ENXIO) {
        return -1; // no data (or hole) at or after offset: beyond the end
      }
      throw error(whence == SEEK_DATA ? "lseek(SEEK_DATA)" : "lseek(SEEK_HOLE)", path, e);
    }
    return r;
  }

  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      libc.close(fd);
    }
  }

  private static IOException error(String call, Path path, int errno) {
    return new IOException(path + ": " + call + " failed: errno " + errno);
  }
}
