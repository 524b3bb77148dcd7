package io.jdm.crypto.luks;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.FileBlockDevice;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * jdm's Argon2 against cryptsetup's (libargon2) over seeded random costs, small memory: a LUKS2
 * keyslot cryptsetup makes with {@code --pbkdf argon2i|argon2id --pbkdf-memory M
 * --pbkdf-force-iterations T --pbkdf-parallel P} opens in jdm with the passphrase and gives the
 * volume key cryptsetup was given; a keyslot jdm makes with the same costs passes {@code cryptsetup
 * open --test-passphrase}. (cryptsetup lowers P to the number of online CPUs; jdm opens whatever it
 * wrote, and writes P as given.)
 */
class Argon2CryptsetupTest {
  private static final int CASES = 3;

  @TempDir Path dir;

  private record Costs(String type, int time, int memoryKiB, int parallel) {
    Pbkdf pbkdf() {
      return type.equals("argon2i")
          ? Pbkdf.argon2i(time, memoryKiB, parallel)
          : Pbkdf.argon2id(time, memoryKiB, parallel);
    }
  }

  private static Costs costs(Random r) {
    int p = 1 + r.nextInt(4);
    // 32 KiB (cryptsetup's minimum) to 4 MiB; not always a multiple of 4p blocks
    int m = Math.max(32, 8 * p) + r.nextInt(4096);
    return new Costs(r.nextBoolean() ? "argon2i" : "argon2id", 4 + r.nextInt(3), m, p);
  }

  private static byte[] passphrase(Random r) {
    byte[] p = new byte[1 + r.nextInt(40)];
    r.nextBytes(p);
    return p;
  }

  @Test
  void jdmOpensWhatCryptsetupFormats() throws Exception {
    long seed = Long.getLong("jdm.seed", new Random().nextLong());
    Random r = new Random(seed);
    for (int i = 0; i < CASES; i++) {
      Costs c = costs(r);
      byte[] pass = passphrase(r);
      byte[] vk = new byte[64];
      r.nextBytes(vk);
      Path vkFile = dir.resolve("vk" + i);
      Files.write(vkFile, vk);
      Path img = LuksImages.image(dir, 20 << 20);
      Cryptsetup.run(
              pass,
              "luksFormat",
              "--batch-mode",
              "--key-file=-",
              "--type",
              "luks2",
              "--volume-key-file=" + vkFile,
              "--pbkdf",
              c.type(),
              "--pbkdf-memory",
              "" + c.memoryKiB(),
              "--pbkdf-force-iterations",
              "" + c.time(),
              "--pbkdf-parallel",
              "" + c.parallel(),
              img.toString())
          .ok();
      try (FileBlockDevice dev = FileBlockDevice.builder(img).readOnly(true).open();
          LuksVolume v = Luks.open(dev, pass)) {
        assertThat(v.volumeKey()).as(c + " (seed " + seed + ")").isEqualTo(vk);
      }
    }
  }

  @Test
  void cryptsetupOpensWhatJdmFormats() throws Exception {
    long seed = Long.getLong("jdm.seed", new Random().nextLong());
    Random r = new Random(seed);
    for (int i = 0; i < CASES; i++) {
      Costs c = costs(r);
      byte[] pass = passphrase(r);
      Path img = LuksImages.image(dir, 3 << 20);
      LuksFormatOptions o =
          LuksFormatOptions.builder().version(2).pbkdf(c.pbkdf()).dataOffset(1 << 20).build();
      try (FileBlockDevice dev = FileBlockDevice.open(img)) {
        Luks.format(dev, pass, o).close();
      }
      String what = c + " (seed " + seed + ")";
      String dump = Cryptsetup.run(null, "luksDump", img.toString()).ok().out();
      assertThat(dump)
          .as(what)
          .contains("PBKDF:      " + c.type())
          .contains("Time cost:  " + c.time())
          .contains("Threads:    " + c.parallel());
      assertThat(Cryptsetup.testPassphrase(img, pass)).as(what).isTrue();
      assertThat(Cryptsetup.testPassphrase(img, "wrong".getBytes(StandardCharsets.UTF_8)))
          .as(what)
          .isFalse();
    }
  }
}
