package io.jdm.targets.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.ExternalTools;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An ext4 file system on the origin: a snapshot is taken, then a writer changes the file system
 * through the origin (the block changes {@code debugfs} made to a copy of the image: a file
 * removed, another added) while the snapshot is copied out. The copy passes {@code e2fsck -fn} and
 * holds the removed file; the origin passes it too with the new file; after a merge the origin is
 * the snapshot again, byte for byte.
 */
class Ext4SnapshotTest {
  private static final int MIB = 16;
  private static final int SECTORS = MIB * 2048;

  @TempDir Path tmp;

  private static void debugfs(Path img, String request) throws Exception {
    ExternalTools.ok("debugfs", "-w", "-R", request, img.toString());
  }

  private static void fsck(Path img) throws Exception {
    ExternalTools.ok("e2fsck", "-fn", img.toString());
  }

  private Path copyOut(MappedDevice d, String name) throws Exception {
    byte[] b = new byte[SECTORS * 512];
    d.read(ByteBuffer.wrap(b), 0);
    return Files.write(tmp.resolve(name), b);
  }

  private byte[] dump(Path img, String file) throws Exception {
    Path out = tmp.resolve("dump-" + file);
    Files.deleteIfExists(out);
    ExternalTools.ok("debugfs", "-R", "dump /" + file + " " + out, img.toString());
    return Files.readAllBytes(out);
  }

  @Test
  void aSnapshotOfALiveExt4IsConsistentAndMergesBack() throws Exception {
    ExternalTools.require("mkfs.ext4", "e2fsprogs");
    ExternalTools.require("debugfs", "e2fsprogs");
    ExternalTools.require("e2fsck", "e2fsprogs");
    Random rnd = new Random(12);
    Path a = tmp.resolve("a.img");
    Files.write(a, new byte[SECTORS * 512]);
    ExternalTools.ok("mkfs.ext4", "-q", "-F", "-b", "4096", a.toString());
    byte[] one = new byte[300_000];
    rnd.nextBytes(one);
    Files.write(tmp.resolve("one"), one);
    debugfs(a, "write " + tmp.resolve("one") + " one");
    Path b = Files.copy(a, tmp.resolve("b.img"));
    byte[] two = new byte[500_000];
    rnd.nextBytes(two);
    Files.write(tmp.resolve("two"), two);
    debugfs(b, "rm one");
    debugfs(b, "write " + tmp.resolve("two") + " two");
    byte[] imageA = Files.readAllBytes(a);
    byte[] imageB = Files.readAllBytes(b);
    Path origin = Files.copy(a, tmp.resolve("origin.img"));

    MemoryBlockDevice cow = MemoryBlockDevice.create("cow", SECTORS + 4096);
    try (DeviceMapper dm = DeviceMapper.create()) {
      dm.registerDevice("cow", cow);
      dm.create("lv-real", "0 " + SECTORS + " linear " + origin + " 0");
      MappedDevice lv = dm.create("lv", "0 " + SECTORS + " snapshot-origin lv-real");
      lv.suspend();
      MappedDevice snap = dm.create("snap", "0 " + SECTORS + " snapshot lv-real cow P 16");
      lv.resume();

      // the writer: every 4 KiB block that differs between the two images, through the origin
      CompletableFuture<Void> writer =
          CompletableFuture.runAsync(
              () -> {
                try {
                  for (int off = 0; off < imageB.length; off += 4096) {
                    if (!Arrays.equals(imageA, off, off + 4096, imageB, off, off + 4096)) {
                      lv.write(ByteBuffer.wrap(imageB, off, 4096), off);
                    }
                  }
                  lv.flush();
                } catch (Exception e) {
                  throw new IllegalStateException(e);
                }
              });
      Path snapOut = copyOut(snap, "snap.img");
      writer.get(60, TimeUnit.SECONDS);
      fsck(snapOut);
      assertThat(dump(snapOut, "one")).isEqualTo(one);
      Path lvOut = copyOut(lv, "lv.img");
      assertThat(Files.readAllBytes(lvOut)).isEqualTo(imageB);
      fsck(lvOut);
      assertThat(dump(lvOut, "two")).isEqualTo(two);

      lv.suspend();
      snap.suspend();
      lv.load("0 " + SECTORS + " snapshot-merge lv-real cow P 16");
      lv.resume();
      dm.remove("snap");
      SnapshotMergeTest.awaitMerged(lv);
      lv.load("0 " + SECTORS + " linear lv-real 0");
      lv.resume();
      dm.remove("lv");
      dm.remove("lv-real");
    } finally {
      cow.close();
    }
    assertThat(Files.readAllBytes(origin)).isEqualTo(imageA);
    fsck(origin);
  }
}
