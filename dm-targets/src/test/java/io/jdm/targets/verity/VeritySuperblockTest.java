package io.jdm.targets.verity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.testkit.ExternalTools;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The veritysetup superblock: round trip, and each kind of damage refused with cryptsetup's
 * message, the same message {@code veritysetup dump} prints for that damage.
 */
class VeritySuperblockTest {
  @TempDir Path dir;

  private static final VeritySuperblock SB =
      new VeritySuperblock(
          1,
          UUID.fromString("12345678-1234-1234-1234-123456789abc"),
          "sha256",
          4096,
          4096,
          200,
          new byte[] {1, 2, 3});

  @Test
  void roundTrip() {
    byte[] b = SB.encode();
    assertThat(b).hasSize(512);
    assertThat(VeritySuperblock.decode(b, "x")).isEqualTo(SB);
    assertThat(b[0]).isEqualTo((byte) 'v');
    assertThat(ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(72)).isEqualTo(200);
  }

  private byte[] damaged(Consumer<ByteBuffer> damage) {
    ByteBuffer b = ByteBuffer.wrap(SB.encode()).order(ByteOrder.LITTLE_ENDIAN);
    damage.accept(b);
    return b.array();
  }

  private java.util.Map<String, byte[]> cases() {
    java.util.Map<String, byte[]> m = new java.util.LinkedHashMap<>();
    m.put("Device hash.img is not a valid VERITY device.", damaged(b -> b.put(0, (byte) 'V')));
    m.put("Unsupported VERITY version 2.", damaged(b -> b.putInt(8, 2)));
    m.put("Unsupported VERITY hash type 2.", damaged(b -> b.putInt(12, 2)));
    m.put("Unsupported VERITY block size.", damaged(b -> b.putInt(64, 1000)));
    m.put("Hash algorithm xha256 not supported.", damaged(b -> b.put(32, (byte) 'x')));
    m.put("VERITY header corrupted.", damaged(b -> b.putShort(80, (short) 257)));
    return m;
  }

  @Test
  void damageIsRefusedWithCryptsetupsWords() {
    cases()
        .forEach(
            (message, sb) ->
                assertThatThrownBy(() -> VeritySuperblock.decode(sb, "hash.img"))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(message));
    assertThatThrownBy(() -> VeritySuperblock.decode(damaged(b -> b.putInt(68, 256)), "h"))
        .hasMessage("Unsupported VERITY block size.");
  }

  @Test
  void veritysetupDumpSaysTheSame() throws Exception {
    ExternalTools.require("veritysetup", "cryptsetup-bin");
    Path img = dir.resolve("hash.img");
    for (var e : cases().entrySet()) {
      byte[] image = new byte[8192];
      System.arraycopy(e.getValue(), 0, image, 0, 512);
      Files.write(img, image);
      ExternalTools.Result r = ExternalTools.run("veritysetup", "dump", img.toString());
      assertThat(r.exit()).isNotZero();
      assertThat(r.output()).contains(e.getKey().replace("hash.img", img.toString()));
    }
  }
}
