package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.DeviceMapper;
import io.jdm.core.FileBlockDevice;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.nbd.NbdServer;
import io.jdm.testkit.ExternalTools;
import io.jdm.testkit.KernelAttach;
import io.jdm.testkit.crash.WriteLog;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Real kernel file systems on jdm devices: each device is exported by an in-process {@link
 * NbdServer} and attached with {@link KernelAttach} (nbdfuse + loop), then {@code mkfs}, the
 * kernel's ext4 or xfs and {@code e2fsck} or {@code xfs_repair} run on it.
 */
class KernelFilesystemTest {
  private static final long SEED = 20261216L;
  private static final String KEY64 =
      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
          + "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
  private static final long LEG = 64 * 2048; // 64 MiB per leg, in sectors

  @TempDir Path tmp;
  private DeviceMapper dm;
  private NbdServer server;
  private Path socket;

  @BeforeEach
  void setUp() throws IOException {
    KernelAttach.require();
    ExternalTools.require("mkfs.ext4", "e2fsprogs");
    ExternalTools.require("e2fsck", "e2fsprogs");
    dm = DeviceMapper.create();
    server = NbdServer.create(dm);
    socket = tmp.resolve("nbd.sock");
    server.listen(UnixDomainSocketAddress.of(socket));
  }

  @AfterEach
  void tearDown() throws IOException {
    if (server != null) {
      server.close();
    }
    if (dm != null) {
      dm.close();
    }
  }

  private KernelAttach attach(String name) throws IOException {
    return KernelAttach.attach("nbd+unix:///" + name + "?socket=" + socket, tmp.resolve("k"));
  }

  private static void mkfs(KernelAttach k) throws Exception {
    ExternalTools.ok("mkfs.ext4", "-q", "-F", k.device().toString());
  }

  private static void fsck(KernelAttach k) throws Exception {
    ExternalTools.ok("e2fsck", "-fn", k.device().toString());
  }

  /** Writes {@code file} and fsyncs it. */
  private static void writeSynced(Path file, byte[] data) throws IOException {
    Files.createDirectories(file.getParent());
    try (FileChannel ch =
        FileChannel.open(
            file,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer b = ByteBuffer.wrap(data);
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
  }

  /** A tree of files under {@code root}, each fsynced; returns path to SHA-256. */
  private static Map<String, String> writeTree(Path root, Random rnd, int files)
      throws IOException {
    Map<String, String> sums = new TreeMap<>();
    for (int i = 0; i < files; i++) {
      String rel = "d" + (i % 4) + "/s" + (i % 3) + "/f" + i;
      byte[] data = new byte[rnd.nextInt(300_000)];
      rnd.nextBytes(data);
      writeSynced(root.resolve(rel), data);
      sums.put(rel, sha256(data));
    }
    return sums;
  }

  private static Map<String, String> checksums(Path root) throws IOException {
    Map<String, String> sums = new TreeMap<>();
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        String rel = root.relativize(p).toString();
        if (Files.isRegularFile(p) && !rel.startsWith("lost+found")) {
          sums.put(rel, sha256(Files.readAllBytes(p)));
        }
      }
    }
    return sums;
  }

  private static String sha256(byte[] data) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  /**
   * ext4 or xfs on crypt over striped: a tree of fsynced files, unmounted, checked clean ({@code
   * e2fsck -fn} / {@code xfs_repair -n}), the same checksums after a remount and after a fresh
   * attachment.
   */
  @ParameterizedTest
  @ValueSource(strings = {"ext4", "xfs"})
  void aFileSystemOnCryptOverStripedSurvivesUnmountCheckAndRemount(String fs) throws Exception {
    boolean xfs = fs.equals("xfs");
    if (xfs) {
      ExternalTools.require("mkfs.xfs", "xfsprogs");
      ExternalTools.require("xfs_repair", "xfsprogs");
    }
    long leg = xfs ? 160 * 2048 : LEG; // mkfs.xfs wants 300 MiB at least
    dm.registerDevice("leg0", MemoryBlockDevice.create("leg0", leg));
    dm.registerDevice("leg1", MemoryBlockDevice.create("leg1", leg));
    dm.create("stripes", "0 " + 2 * leg + " striped 2 128 leg0 0 leg1 0");
    dm.create("secret", "0 " + 2 * leg + " crypt aes-xts-plain64 " + KEY64 + " 0 stripes 0");
    Map<String, String> written;
    try (KernelAttach k = attach("secret")) {
      if (xfs) {
        ExternalTools.ok("mkfs.xfs", "-q", "-f", k.device().toString());
      } else {
        mkfs(k);
      }
      Path mnt = k.mount(fs);
      written = writeTree(mnt, new Random(SEED), 40);
      assertThat(checksums(mnt)).isEqualTo(written);
      k.unmount();
      check(k, xfs);
      mnt = k.mount(fs);
      assertThat(checksums(mnt)).isEqualTo(written);
    }
    // and once more through a fresh attachment: nothing lived only in the kernel's caches
    try (KernelAttach k = attach("secret")) {
      check(k, xfs);
      assertThat(checksums(k.mount(fs, "ro"))).isEqualTo(written);
    }
  }

  private static void check(KernelAttach k, boolean xfs) throws Exception {
    if (xfs) {
      ExternalTools.ok("xfs_repair", "-n", k.device().toString());
    } else {
      fsck(k);
    }
  }

  @Test
  void flushesFromAMountedFileSystemReachJdm() throws Exception {
    MemoryBlockDevice log = MemoryBlockDevice.create("log", 2 * LEG);
    dm.registerDevice("data", MemoryBlockDevice.create("data", LEG));
    dm.registerDevice("log", log);
    MappedDevice lw = dm.create("lw", "0 " + LEG + " log-writes data log");
    try (KernelAttach k = attach("lw")) {
      mkfs(k);
      Path mnt = k.mount("ext4");
      Files.write(mnt.resolve("unsynced"), new byte[8192]); // no fsync: no flush of its own
      lw.message(0, "mark", "before-fsync");
      writeSynced(mnt.resolve("synced"), new byte[64 * 1024]);
      lw.message(0, "mark", "after-fsync");
    }
    // nbdfuse has gone, but the server ends its side of the connection (and lets go of the
    // device) on its own thread: wait for that, as `dmsetup remove --retry` would (bounded)
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.MINUTES.toNanos(1);
    while (lw.openCount() != 0) {
      assertThat(System.nanoTime()).as("the NBD connection let go of lw").isLessThan(deadline);
      Thread.yield();
    }
    dm.remove("lw");
    WriteLog wl = WriteLog.read(log);
    List<WriteLog.Entry> entries = wl.entries();
    int before = wl.indexOfMark("before-fsync");
    int after = wl.indexOfMark("after-fsync");
    assertThat(before).isNotNegative().isLessThan(after);
    // the fsync's data writes and the flush (or FUA write) that made them durable were logged
    // between the two marks: log-writes logs a write only once a flush covers it
    List<WriteLog.Entry> between = entries.subList(before + 1, after);
    assertThat(between).anyMatch(e -> e.isFlush() || e.isFua());
    assertThat(between.stream().mapToLong(e -> e.changesData() ? e.sectors() : 0).sum())
        .as("sectors written by the fsync (64 KiB of data, and the journal)")
        .isGreaterThanOrEqualTo(128);
  }

  /** 512-byte blocks {@code file} occupies ({@code stat -c %b}). */
  private static long blocks(Path file) throws Exception {
    return Long.parseLong(ExternalTools.ok("stat", "-c", "%b", file.toString()).trim());
  }

  @Test
  void fstrimPunchesHolesInTheBackingFile() throws Exception {
    ExternalTools.require("fstrim", "util-linux");
    Path file = tmp.resolve("backing.img");
    try (FileBlockDevice probe = FileBlockDevice.builder(file).create(LEG * 512).open()) {
      if (!"true".equals(System.getenv("CI"))) {
        Assumptions.assumeTrue(
            probe.punchesHoles(),
            "no hole punching here: " + FileBlockDevice.holesUnavailableReason());
      }
      assertThat(probe.punchesHoles()).as("hole punching (JNA is on dm-cli's class path)").isTrue();
    }
    dm.create("vol", "0 " + LEG + " linear " + file + " 0");
    try (KernelAttach k = attach("vol")) {
      mkfs(k);
      Path mnt = k.mount("ext4");
      byte[] data = new byte[16 << 20];
      new Random(SEED).nextBytes(data);
      writeSynced(mnt.resolve("big"), data);
      long full = blocks(file);
      Files.delete(mnt.resolve("big"));
      ExternalTools.ok("sync", "-f", mnt.toString());
      ExternalTools.ok("fstrim", mnt.toString());
      long trimmed = blocks(file);
      assertThat(full - trimmed)
          .as("blocks freed in the backing file by fstrim (%s before, %s after)", full, trimmed)
          .isGreaterThanOrEqualTo((12 << 20) / 512);
    }
  }

  @Test
  void flakeyErrorWritesUnderAMountedFileSystemFailsItsFsync() throws Exception {
    dm.registerDevice("base", MemoryBlockDevice.create("base", LEG));
    MappedDevice vol = dm.create("vol", "0 " + LEG + " linear base 0");
    try (KernelAttach k = attach("vol")) {
      mkfs(k);
      Path mnt = k.mount("ext4");
      writeSynced(mnt.resolve("before"), new byte[4096]);
      vol.suspend();
      vol.load("0 " + LEG + " flakey base 0 0 3600 1 error_writes"); // down for an hour
      vol.resume();
      byte[] data = new byte[256 * 1024];
      new Random(SEED).nextBytes(data);
      assertThatThrownBy(() -> writeSynced(mnt.resolve("after"), data))
          .as("fsync on a device that fails every write")
          .isInstanceOf(IOException.class);
      assertThat(vol.status()).contains("flakey");
    }
  }

  @Test
  void aTableSwapUnderAMountedFileSystemBeingWrittenLosesNothing() throws Exception {
    dm.registerDevice("base", MemoryBlockDevice.create("base", 2 * LEG));
    String one = "0 " + 2 * LEG + " linear base 0";
    String two = "0 " + LEG + " linear base 0\n" + LEG + " " + LEG + " linear base " + LEG;
    MappedDevice vol = dm.create("vol", one);
    Map<String, String> written = new TreeMap<>();
    try (KernelAttach k = attach("vol")) {
      mkfs(k);
      Path mnt = k.mount("ext4");
      AtomicBoolean stop = new AtomicBoolean();
      Semaphore progress = new Semaphore(0);
      CompletableFuture<Void> writer =
          CompletableFuture.runAsync(
              () -> {
                Random rnd = new Random(SEED);
                try {
                  for (int i = 0; !stop.get() || i < 20; i++) {
                    byte[] data = new byte[4096 + rnd.nextInt(200_000)];
                    rnd.nextBytes(data);
                    String rel = "w/f" + i;
                    writeSynced(mnt.resolve(rel), data);
                    synchronized (written) {
                      written.put(rel, sha256(data));
                    }
                    progress.release();
                  }
                } catch (IOException e) {
                  throw new IllegalStateException(e);
                }
              });
      for (int swap = 0; swap < 6; swap++) {
        assertThat(progress.tryAcquire(3, 60, TimeUnit.SECONDS)).as("the writer goes on").isTrue();
        vol.suspend();
        vol.load(swap % 2 == 0 ? two : one);
        vol.resume();
      }
      stop.set(true);
      writer.get(120, TimeUnit.SECONDS);
      k.unmount();
      fsck(k);
      assertThat(checksums(k.mount("ext4"))).isEqualTo(written);
    }
  }
}
