package io.jdm.core;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Holes in a regular file on Linux: {@code fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)}
 * to free a range, {@code lseek(SEEK_DATA / SEEK_HOLE)} to find where data is. Java 17 cannot call
 * either, so this goes through JNA when it is on the class path (an optional dependency of dm-core:
 * {@code net.java.dev.jna:jna}); without it, or on another system, {@link #open} returns {@code
 * null} and {@link FileBlockDevice} keeps discard unsupported and reports its file as all data.
 *
 * <p>A handle holds its own file descriptor for the file (the JDK does not hand out a {@code
 * FileChannel}'s), so it sees the same inode; thread-safe.
 */
interface FileHoles extends Closeable {

  /** Frees {@code [offset, offset + length)}: it reads as zeros, the file keeps its size. */
  void punch(long offset, long length) throws IOException;

  /** The first offset at or after {@code offset} holding data, or -1 if there is none. */
  long nextData(long offset) throws IOException;

  /** The first offset at or after {@code offset} in a hole (the end of the file counts as one). */
  long nextHole(long offset) throws IOException;

  @Override
  void close();

  /** Why {@link #open} returns {@code null} on this JVM, or {@code null} if it does not. */
  static String unavailableReason() {
    return Loader.REASON;
  }

  /**
   * A handle on {@code path} (writable for {@link #punch}), or {@code null} when the native calls
   * are not available here, or the file's file system cannot punch holes (checked by punching past
   * the end, which frees nothing).
   */
  static FileHoles open(Path path, boolean writable) throws IOException {
    if (Loader.OPENER == null) {
      return null;
    }
    return Loader.OPENER.open(path, writable);
  }

  /** Opens handles; implemented over JNA. */
  interface Opener {
    FileHoles open(Path path, boolean writable) throws IOException;
  }

  /** Finds the JNA implementation once, without linking to JNA when it is absent. */
  final class Loader {
    private Loader() {}

    static final Opener OPENER;
    static final String REASON;

    static {
      Opener o = null;
      String reason = null;
      String os = System.getProperty("os.name", "");
      if (!os.startsWith("Linux")) {
        reason = "not Linux (" + os + ")";
      } else {
        try {
          Class.forName("com.sun.jna.Native", false, FileHoles.class.getClassLoader());
          o =
              (Opener)
                  Class.forName("io.jdm.core.JnaFileHoles")
                      .getDeclaredMethod("opener")
                      .invoke(null);
          if (o == null) {
            reason = "JNA: not a 64-bit Linux";
          }
        } catch (ClassNotFoundException e) {
          reason = "JNA (net.java.dev.jna:jna) is not on the class path";
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
          Throwable c = e.getCause() != null ? e.getCause() : e;
          reason = "JNA cannot load libc: " + c;
        }
      }
      OPENER = o;
      REASON = reason;
    }
  }
}
