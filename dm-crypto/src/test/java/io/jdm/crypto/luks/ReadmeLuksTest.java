package io.jdm.crypto.luks;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.DeviceMapper;
import io.jdm.core.FileBlockDevice;
import io.jdm.core.MappedDevice;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's LUKS example, as written there (on a temporary 20 MiB image). */
class ReadmeLuksTest {
  @TempDir Path dir;

  @Test
  void theReadmeExampleWorks() throws Exception {
    Path image = dir.resolve("disk.img");
    try (FileChannel ch =
        FileChannel.open(image, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      ch.truncate(0);
      ch.write(ByteBuffer.allocate(1), (20L << 20) - 1);
    }
    String line;
    // --- as in README.md ---
    byte[] pass = Luks.passphrase("correct horse".toCharArray()); // UTF-8, as a terminal types it
    try (FileBlockDevice disk = FileBlockDevice.open(image)) {
      Luks.format(
              disk,
              pass,
              LuksFormatOptions.builder() // LUKS2, aes-xts-plain64, 512-bit key
                  .pbkdf(Pbkdf.argon2id(4, 32 * 1024, 2)) // costs are explicit: no benchmark
                  .build())
          .close();
      int slot = Luks.addKeyslot(disk, pass, "backup".getBytes(UTF_8)); // luksAddKey
      assertThat(slot).isEqualTo(1);
      try (LuksVolume v = Luks.open(disk, pass)) { // cryptsetup open
        line = v.table(image.toString());
      } // close() wipes the key
    }
    try (DeviceMapper dm = DeviceMapper.create()) {
      MappedDevice secret = Luks.activate(dm, "secret", image.toString(), pass);
      // --- end ---
      assertThat(line)
          .matches("0 8192 crypt aes-xts-plain64 [0-9a-f]{128} 0 " + image + " 32768\n?");
      assertThat(secret.uuid().orElseThrow()).startsWith("CRYPT-LUKS2-").endsWith("-secret");
      ByteBuffer data = ByteBuffer.allocate(512).put("hello".getBytes(UTF_8)).clear();
      secret.write(data, 0);
      ByteBuffer back = ByteBuffer.allocate(512);
      secret.read(back, 0);
      assertThat(new String(back.array(), 0, 5, UTF_8)).isEqualTo("hello");
    }
    // and the backup passphrase opens it too
    try (FileBlockDevice disk = FileBlockDevice.open(image);
        LuksVolume v = Luks.open(disk, "backup".getBytes(UTF_8))) {
      assertThat(v.keyslot()).isEqualTo(1);
      assertThat(Files.size(image)).isEqualTo(20L << 20);
    }
  }
}
