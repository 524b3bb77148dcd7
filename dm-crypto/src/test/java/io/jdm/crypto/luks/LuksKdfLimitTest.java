package io.jdm.crypto.luks;

import static io.jdm.crypto.luks.LuksImages.PASS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdm.core.BlockDevice;
import io.jdm.core.DeviceMapper;
import io.jdm.core.FileBlockDevice;
import io.jdm.core.MemoryBlockDevice;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Headers whose key derivation would take years (checksums valid): a time limit ends {@link
 * Luks#open} and {@link Luks#activate} with a {@link LuksException} that names the keyslot, the KDF
 * and its costs, and interrupting the caller of any method that derives keys ends it with an {@link
 * InterruptedIOException} and nothing written. Real time: the assertions are how calls end, not how
 * fast; the timeouts are only safety nets.
 */
@Timeout(60)
class LuksKdfLimitTest {
  private static final byte[] OTHER = "other".getBytes(StandardCharsets.UTF_8);
  private static final Duration LIMIT = Duration.ofMillis(300);

  @TempDir Path dir;

  /** Makes keyslot {@code id} ask for Argon2id with 2^31-1 passes over 1 MiB in 4 lanes. */
  private static void hostileArgon2(BlockDevice dev, int id) throws Exception {
    LuksImages.editJson(
        dev,
        j -> {
          ObjectNode kdf = j.withObject("/keyslots/" + id).putObject("kdf");
          kdf.put("type", "argon2id");
          kdf.put("time", Integer.MAX_VALUE);
          kdf.put("memory", 1024);
          kdf.put("cpus", 4);
          kdf.put("salt", Base64.getEncoder().encodeToString(new byte[32]));
        });
  }

  private static byte[] all(MemoryBlockDevice dev) throws Exception {
    return LuksImages.read(dev, 0, (int) dev.size());
  }

  @Test
  void argon2TimeOfYearsStopsAtTheLimit() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    hostileArgon2(dev, 0);
    assertThatThrownBy(() -> Luks.open(dev, PASS, -1, LIMIT))
        .isInstanceOf(LuksException.class)
        .hasMessage(
            "LUKS2 keyslot 0: argon2id (time 2147483647, memory 1024 KiB, 4 threads)"
                + " did not finish within 300 ms");
    assertThat(KdfThreads.argon2Workers()).isEmpty();
  }

  /** The limit ends the search: keyslot 1 (another passphrase) would answer "no key available". */
  @Test
  void theLimitIsNotTakenForAnUnusableKeyslot() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    assertThat(Luks.addKeyslot(dev, PASS, OTHER)).isEqualTo(1);
    hostileArgon2(dev, 0);
    assertThatThrownBy(() -> Luks.open(dev, PASS, -1, LIMIT))
        .isInstanceOf(LuksException.class)
        .hasMessageStartingWith("LUKS2 keyslot 0: argon2id (time 2147483647");
    // without a limit on the hostile keyslot, keyslot 1 still opens
    try (LuksVolume v = Luks.open(dev, OTHER, 1, LIMIT)) {
      assertThat(v.keyslot()).isEqualTo(1);
    }
  }

  @Test
  void pbkdf2IterationsOfYearsStopAtTheLimit() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    LuksImages.editJson(dev, j -> j.withObject("/keyslots/0/kdf").put("iterations", 0xFFFF_FFFFL));
    assertThatThrownBy(() -> Luks.open(dev, PASS, 0, LIMIT))
        .isInstanceOf(LuksException.class)
        .hasMessage(
            "LUKS2 keyslot 0: pbkdf2-sha256 (iterations 4294967295) did not finish within 300 ms");
  }

  @Test
  void aDigestOfYearsStopsAtTheLimit() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    LuksImages.editJson(dev, j -> j.withObject("/digests/0").put("iterations", 0xFFFF_FFFFL));
    assertThatThrownBy(() -> Luks.open(dev, PASS, -1, LIMIT))
        .isInstanceOf(LuksException.class)
        .hasMessage(
            "LUKS2 digest 0: pbkdf2-sha256 (iterations 4294967295) did not finish within 300 ms");
  }

  @Test
  void luks1KeyslotAndDigestOfYearsStopAtTheLimit() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks1();
    LuksImages.write(dev, 164, ByteBuffer.allocate(4).putInt(-1).array()); // mk_digest_iter
    assertThatThrownBy(() -> Luks.open(dev, PASS, -1, LIMIT))
        .isInstanceOf(LuksException.class)
        .hasMessage(
            "LUKS1 volume key digest: pbkdf2-sha256 (iterations 4294967295)"
                + " did not finish within 300 ms");
    LuksImages.write(dev, 208 + 4, ByteBuffer.allocate(4).putInt(-1).array()); // slot 0
    assertThatThrownBy(() -> Luks.open(dev, PASS, -1, LIMIT))
        .isInstanceOf(LuksException.class)
        .hasMessage(
            "LUKS1 keyslot 0: pbkdf2-sha256 (iterations 4294967295) did not finish within 300 ms");
  }

  @Test
  void activateStopsAtTheLimitAndCreatesNothing() throws Exception {
    Path img = LuksImages.image(dir, 2 << 20);
    try (FileBlockDevice dev = FileBlockDevice.open(img)) {
      Luks.format(dev, PASS, LuksImages.small().build()).close();
      hostileArgon2(dev, 0);
    }
    try (DeviceMapper dm = DeviceMapper.create()) {
      assertThatThrownBy(() -> Luks.activate(dm, "hostile", img.toString(), PASS, LIMIT))
          .isInstanceOf(LuksException.class)
          .hasMessageEndingWith("did not finish within 300 ms");
      assertThat(dm.find("hostile")).isEmpty();
    }
  }

  @Test
  void negativeLimitIsACallerMistake() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    assertThatThrownBy(() -> Luks.open(dev, PASS, -1, Duration.ofMillis(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("KDF time limit PT-0.001S (expected: >= 0)");
  }

  private static void assertInterrupted(KdfThreads.Outcome o) {
    assertThat(o.thrown())
        .isInstanceOf(InterruptedIOException.class)
        .hasMessage("key derivation interrupted");
    assertThat(o.interruptFlag()).as("interrupt flag restored").isTrue();
    assertThat(KdfThreads.argon2Workers()).as("Argon2 threads alive").isEmpty();
  }

  @Test
  void interruptingOpenStopsIt() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    hostileArgon2(dev, 0);
    assertInterrupted(KdfThreads.interruptWhileDeriving(() -> Luks.open(dev, PASS).close()));
    MemoryBlockDevice one = LuksImages.luks1();
    LuksImages.write(one, 208 + 4, ByteBuffer.allocate(4).putInt(-1).array());
    assertInterrupted(KdfThreads.interruptWhileDeriving(() -> Luks.open(one, PASS).close()));
  }

  /** Format derives everything before its first write. */
  @Test
  void interruptedFormatLeavesTheDeviceAsItWas() throws Exception {
    MemoryBlockDevice dev = LuksImages.luks2();
    byte[] before = all(dev);
    LuksFormatOptions slow =
        LuksImages.small().pbkdf(Pbkdf.argon2id(Integer.MAX_VALUE, 32, 4)).build();
    assertInterrupted(
        KdfThreads.interruptWhileDeriving("makeKeyslot", () -> Luks.format(dev, OTHER, slow)));
    assertThat(all(dev)).isEqualTo(before);
    Luks.open(dev, PASS).close();

    MemoryBlockDevice one = LuksImages.luks1();
    byte[] before1 = all(one);
    LuksFormatOptions slow1 =
        LuksFormatOptions.builder().version(1).pbkdf(Pbkdf.pbkdf2("sha256", 0xFFFF_FFFFL)).build();
    assertInterrupted(
        KdfThreads.interruptWhileDeriving("makeKeyslot", () -> Luks.format(one, OTHER, slow1)));
    assertThat(all(one)).isEqualTo(before1);
    Luks.open(one, PASS).close();
  }

  @Test
  void interruptedKeyslotChangesLeaveTheDeviceAsItWas() throws Exception {
    Pbkdf slow = Pbkdf.argon2id(Integer.MAX_VALUE, 32, 4);
    for (MemoryBlockDevice dev : new MemoryBlockDevice[] {LuksImages.luks2(), LuksImages.luks1()}) {
      Pbkdf kdf = Luks.version(dev) == 2 ? slow : Pbkdf.pbkdf2("sha256", 0xFFFF_FFFFL);
      byte[] before = all(dev);
      assertInterrupted(
          KdfThreads.interruptWhileDeriving(
              "makeKeyslot", () -> Luks.addKeyslot(dev, PASS, OTHER, kdf)));
      assertThat(all(dev)).as("addKeyslot").isEqualTo(before);
      assertInterrupted(
          KdfThreads.interruptWhileDeriving(
              "makeKeyslot", () -> Luks.changePassphrase(dev, PASS, OTHER, kdf)));
      assertThat(all(dev)).as("changePassphrase").isEqualTo(before);
    }
    MemoryBlockDevice dev = LuksImages.luks2();
    Luks.addKeyslot(dev, PASS, OTHER);
    hostileArgon2(dev, 1);
    byte[] before = all(dev);
    assertInterrupted(KdfThreads.interruptWhileDeriving(() -> Luks.removeKeyslot(dev, OTHER)));
    assertThat(all(dev)).as("removeKeyslot").isEqualTo(before);
  }
}
