package io.jdm.targets.crash;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.nbd.NbdServer;
import io.jdm.testkit.ExternalTools;
import io.jdm.testkit.KernelAttach;
import io.jdm.testkit.crash.CrashCheck;
import io.jdm.testkit.crash.CrashRecorder;
import io.jdm.testkit.crash.CrashRecording;
import io.jdm.testkit.crash.CrashReport;
import io.jdm.testkit.crash.CrashState;
import io.jdm.testkit.crash.CrashTester;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash states of a kernel file system, the way xfstests' log-writes tests find file-system crash
 * bugs (generic/455, 457, 482): the file system is mounted on a jdm {@code log-writes} device
 * (attached to the kernel with {@link KernelAttach}: NBD, nbdfuse, loop), runs a seeded workload of
 * creates, writes, appends, renames, deletes and mkdirs, each step made durable with {@code fsync}
 * of the file and its directory and followed by a mark; then the crash harness replays the log to
 * each flush/FUA point (and subsets of the writes in flight after it). Each state is recovered as
 * xfstests does, by the kernel: mounted (which replays the journal) and unmounted; then the file
 * system's checker ({@code e2fsck -fn}, {@code xfs_repair -n}) must find it clean, and every file
 * the last logged mark promised must be there with its contents (and every file a promised step
 * removed, gone). Steps after that mark may or may not have happened, so the paths the next step
 * touches are not checked.
 *
 * <p>Subclasses give the file system: its tools, size, {@code mkfs} and checker, and how many
 * states the default profile checks; {@code -Djdm.fullTests=true} ({@code -Pfull-tests}) checks
 * every state the harness makes.
 */
abstract class KernelFsCrashTestCase {
  static final long SEED = 20261217L;
  static final boolean FULL = Boolean.getBoolean("jdm.fullTests");
  private static final int STEPS = 24;

  /** The type {@code mount -t} takes. */
  abstract String fs();

  /** The device size in sectors. */
  abstract long sectors();

  /** Skips (fails under CI) without the file system's tools. */
  abstract void requireTools();

  /** Makes the file system on {@code img}, 4 KiB blocks and sectors, nothing left to initialise. */
  abstract void mkfs(Path img) throws Exception;

  /** Runs the read-only checker on {@code img}; throws if it is not clean. */
  abstract void fsck(Path img) throws Exception;

  /** Mount options while recording. */
  abstract String[] recordMountOptions();

  /** Bounds the default profile's states (not called with {@code -Pfull-tests}). */
  abstract void bound(CrashTester tester);

  /** At least this many states must have been checked. */
  abstract int minStates();

  @TempDir Path tmp;

  /** The durable view after a step: path to contents (directories map to null). */
  private record Step(String name, Map<String, byte[]> model, Set<String> touched) {}

  private static void writeSynced(Path file, byte[] data, boolean append) throws IOException {
    try (FileChannel ch =
        FileChannel.open(
            file,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer b = ByteBuffer.wrap(data);
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
  }

  private static void fsyncDir(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }

  private static byte[] data(Random rnd) {
    byte[] b = new byte[1 + rnd.nextInt(48 * 1024)];
    rnd.nextBytes(b);
    return b;
  }

  private static String pick(Random rnd, Map<String, byte[]> model, boolean files) {
    List<String> c = new ArrayList<>();
    for (Map.Entry<String, byte[]> e : model.entrySet()) {
      if ((e.getValue() != null) == files) {
        c.add(e.getKey());
      }
    }
    c.sort(null);
    return c.isEmpty() ? null : c.get(rnd.nextInt(c.size()));
  }

  private static Path parent(Path mnt, String rel) {
    Path p = mnt.resolve(rel).getParent();
    return p == null ? mnt : p;
  }

  /** Runs the workload on the mounted file system; returns the steps, in order. */
  private static List<Step> workload(Path mnt, CrashRecorder rec) throws IOException {
    Random rnd = new Random(SEED);
    Map<String, byte[]> model = new HashMap<>();
    model.put("", null);
    List<Step> steps = new ArrayList<>();
    int names = 0;
    Files.createDirectories(mnt.resolve("scratch"));
    for (int i = 0; i < STEPS; i++) {
      Set<String> touched = new HashSet<>();
      String file = pick(rnd, model, true);
      int op = file == null ? 0 : rnd.nextInt(8);
      String dir = pick(rnd, model, false);
      switch (op) {
        case 0, 1 -> { // create a file
          String rel = (dir.isEmpty() ? "" : dir + "/") + "f" + names++;
          byte[] d = data(rnd);
          writeSynced(mnt.resolve(rel), d, false);
          fsyncDir(parent(mnt, rel));
          model.put(rel, d);
          touched.add(rel);
        }
        case 2 -> { // overwrite in place
          byte[] d = data(rnd);
          writeSynced(mnt.resolve(file), d, false);
          model.put(file, d);
          touched.add(file);
        }
        case 3 -> { // append
          byte[] d = data(rnd);
          writeSynced(mnt.resolve(file), d, true);
          byte[] old = model.get(file);
          byte[] all = Arrays.copyOf(old, old.length + d.length);
          System.arraycopy(d, 0, all, old.length, d.length);
          model.put(file, all);
          touched.add(file);
        }
        case 4 -> { // rename to a new name, maybe into another directory
          String to = (dir.isEmpty() ? "" : dir + "/") + "r" + names++;
          Files.move(mnt.resolve(file), mnt.resolve(to), StandardCopyOption.ATOMIC_MOVE);
          fsyncDir(parent(mnt, file));
          fsyncDir(parent(mnt, to));
          model.put(to, model.remove(file));
          touched.add(file);
          touched.add(to);
        }
        case 5 -> { // atomic replace: write a temporary file, fsync, rename over the file
          String t = file + ".tmp";
          byte[] d = data(rnd);
          writeSynced(mnt.resolve(t), d, false);
          Files.move(mnt.resolve(t), mnt.resolve(file), StandardCopyOption.ATOMIC_MOVE);
          fsyncDir(parent(mnt, file));
          model.put(file, d);
          touched.add(file);
          touched.add(t);
        }
        case 6 -> { // delete
          Files.delete(mnt.resolve(file));
          fsyncDir(parent(mnt, file));
          model.remove(file);
          touched.add(file);
        }
        default -> { // mkdir
          String rel = (dir.isEmpty() ? "" : dir + "/") + "d" + names++;
          Files.createDirectory(mnt.resolve(rel));
          fsyncDir(mnt.resolve(rel));
          fsyncDir(parent(mnt, rel));
          model.put(rel, null);
          touched.add(rel);
        }
      }
      // noise the check ignores: a write nobody syncs (flushed by the next fsync's commit, or not)
      Files.write(mnt.resolve("scratch/s" + (i % 3)), data(rnd));
      String mark = "step" + i;
      rec.mark(mark);
      steps.add(new Step(mark, Map.copyOf(withoutNulls(model)), touched));
    }
    return steps;
  }

  /** Directories in a step's model (Map.copyOf refuses null values). */
  private static final byte[] DIR = new byte[0];

  private static Map<String, byte[]> withoutNulls(Map<String, byte[]> m) {
    Map<String, byte[]> r = new HashMap<>();
    m.forEach((k, v) -> r.put(k, v == null ? DIR : v));
    return r;
  }

  private CrashRecording record(List<Step> steps) throws Exception {
    Path img = tmp.resolve("fresh.img");
    try (FileChannel ch =
        FileChannel.open(img, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.allocate(1), sectors() * 512 - 1);
    }
    mkfs(img);
    MemoryBlockDevice fresh =
        MemoryBlockDevice.builder("fresh", sectors()).logicalBlockSize(4096).build();
    try (FileChannel ch = FileChannel.open(img, StandardOpenOption.READ)) {
      ByteBuffer buf = ByteBuffer.allocate(1 << 20);
      for (long pos = 0; pos < ch.size(); pos += buf.capacity()) {
        buf.clear();
        while (buf.hasRemaining() && ch.read(buf, pos + buf.position()) > 0) {
          // a short read: go on
        }
        buf.flip();
        if (!isZero(buf)) { // sparse: zeros stay unallocated holes
          fresh.write(buf, pos);
        }
      }
    }
    try (DeviceMapper dm = DeviceMapper.create();
        CrashRecorder rec = CrashRecorder.builder(dm).initialImage(fresh).blockSize(4096).start()) {
      fresh.close();
      // the server's connections hold the recorded device open: closed before the recording stops
      try (NbdServer server = NbdServer.create(dm)) {
        Path sock = tmp.resolve("nbd.sock");
        server.listen(UnixDomainSocketAddress.of(sock));
        String uri = "nbd+unix:///" + rec.device().name() + "?socket=" + sock;
        try (KernelAttach k = KernelAttach.attach(uri, tmp.resolve("rec"))) {
          Path mnt = k.mount(fs(), recordMountOptions());
          steps.addAll(workload(mnt, rec));
          k.unmount();
        }
      }
      return rec.stop();
    }
  }

  private CrashCheck check(List<Step> steps) {
    Set<String> everPath = new HashSet<>();
    steps.forEach(s -> everPath.addAll(s.model().keySet()));
    everPath.remove("");
    Path img = tmp.resolve("state.img");
    Path mnt = tmp.resolve("state-mnt");
    return (CrashState state) -> {
      int k = state.lastMark().map(m -> Integer.parseInt(m.substring(4))).orElse(-1);
      Map<String, byte[]> promised = k < 0 ? Map.of() : steps.get(k).model();
      Set<String> next = k + 1 < steps.size() ? steps.get(k + 1).touched() : Set.of();
      state.materialise(img);
      Files.createDirectories(mnt);
      try {
        // recovery as xfstests does it: the kernel mounts (replaying the journal) and unmounts
        ExternalTools.ok("mount", "-t", fs(), "-o", "loop", img.toString(), mnt.toString());
        try {
          for (String p : everPath) {
            if (next.contains(p)) {
              continue; // the step after the last mark may or may not have happened
            }
            Path f = mnt.resolve(p);
            byte[] want = promised.get(p);
            if (want == null) {
              assertThat(Files.exists(f))
                  .as("%s was never made or was removed before %s (seed %d)", p, k, SEED)
                  .isFalse();
            } else if (want == DIR) {
              assertThat(Files.isDirectory(f)).as("directory %s after step %d", p, k).isTrue();
            } else {
              assertThat(Files.isRegularFile(f)).as("file %s after step %d", p, k).isTrue();
              assertThat(Files.readAllBytes(f))
                  .as("contents of %s after step %d (seed %d)", p, k, SEED)
                  .isEqualTo(want);
            }
          }
        } finally {
          ExternalTools.ok("umount", mnt.toString());
        }
        fsck(img);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException(e);
      } catch (IOException | RuntimeException | Error e) {
        throw e;
      } catch (Exception e) {
        throw new IOException(e);
      }
    };
  }

  private static boolean isZero(ByteBuffer b) {
    for (int i = b.position(); i < b.limit(); i++) {
      if (b.get(i) != 0) {
        return false;
      }
    }
    return true;
  }

  @Test
  void everyCrashStateIsCleanAndKeepsWhatWasFsynced() throws Exception {
    KernelAttach.require();
    requireTools();
    List<Step> steps = new ArrayList<>();
    long t0 = System.nanoTime();
    CrashRecording recording = record(steps);
    long t1 = System.nanoTime();
    CrashTester tester = CrashTester.of(recording).seed(SEED);
    if (!FULL) {
      bound(tester);
    }
    CrashReport report = tester.run(check(steps));
    long t2 = System.nanoTime();
    System.out.printf(
        java.util.Locale.ROOT,
        "%s crash states: %s; %d log entries; recorded in %.1f s, checked in %.1f s%n",
        fs(),
        report,
        recording.log().entries().size(),
        (t1 - t0) / 1e9,
        (t2 - t1) / 1e9);
    report.assertPassed();
    assertThat(report.statesChecked()).isGreaterThanOrEqualTo(minStates());
  }
}
