package io.jdm.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.DmException;
import io.jdm.core.MappedDevice;
import io.jdm.core.MemoryBlockDevice;
import io.jdm.core.TargetException;
import io.jdm.core.TargetRegistry;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The crypt target's text, its on-disk format against OpenSSL, and its key messages. */
class CryptTargetBehaviourTest {
  private static final HexFormat HEX = HexFormat.of();
  private static final String KEY64 = seqHex(64);

  private DeviceMapper dm;
  private MemoryBlockDevice disk;

  private static String seqHex(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) i;
    }
    return HEX.formatHex(b);
  }

  @BeforeEach
  void setUp() {
    dm = DeviceMapper.create();
    disk = MemoryBlockDevice.create("disk", 8192);
    dm.registerDevice("disk", disk);
  }

  @AfterEach
  void tearDown() throws IOException {
    dm.close();
    disk.close();
  }

  private byte[] raw(long sector, int bytes) throws IOException {
    ByteBuffer b = ByteBuffer.allocate((bytes + 511) / 512 * 512);
    disk.read(b, sector * 512);
    return java.util.Arrays.copyOf(b.array(), bytes);
  }

  @Test
  void tableTextIsTheKernels() {
    MappedDevice md =
        dm.create(
            "c",
            "0 4096 crypt aes-xts-plain64 "
                + KEY64.toUpperCase(java.util.Locale.ROOT)
                + " 8 disk 16 5 no_write_workqueue iv_large_sectors allow_discards"
                + " sector_size:4096 same_cpu_crypt");
    assertThat(md.table())
        .isEqualTo(
            "0 4096 crypt aes-xts-plain64 "
                + KEY64
                + " 8 240:0 16 5 allow_discards same_cpu_crypt no_write_workqueue"
                + " sector_size:4096 iv_large_sectors\n");
    assertThat(md.status()).isEqualTo("0 4096 crypt \n");
    assertThat(md.limits().logicalBlockSize()).isEqualTo(4096);
    assertThat(md.limits().maxDiscardSectors()).isPositive();
    MappedDevice plain = dm.create("p", "0 64 crypt capi:xts(aes)-plain64 " + KEY64 + " 0 disk 0");
    assertThat(plain.table())
        .isEqualTo("0 64 crypt capi:xts(aes)-plain64 " + KEY64 + " 0 240:0 0\n");
    assertThat(plain.limits().maxDiscardSectors()).as("no allow_discards").isZero();
  }

  /** kernel-dm.md §19 vector 5: the ciphertext of zeros at sectors 0 and 5. */
  @Test
  void writesTheKernelsCiphertext() throws Exception {
    MappedDevice md = dm.create("c", "0 64 crypt aes-xts-plain64 " + KEY64 + " 5 disk 100");
    md.write(ByteBuffer.allocate(512), 0); // iv sector 0 + 5
    assertThat(HEX.formatHex(raw(100, 16))).isEqualTo("41047df5c636cd4fcb4cae528f91daa1");
    assertThat(HEX.formatHex(MessageDigest.getInstance("SHA-256").digest(raw(100, 512))))
        .isEqualTo("ecc3800c0dbbc477716080274d5d20ab7a259a856132fea1bcc060ee7bcde7bd");
  }

  /**
   * What the target writes, decrypted by OpenSSL sector by sector with the IV the kernel would use:
   * iv_offset, a second table line (begin > 0), 4 KiB sectors with and without iv_large_sectors.
   */
  @Test
  void openSslDecryptsWhatTheTargetWrote() throws Exception {
    record Case(String opts, int sectorSize, boolean large) {}
    for (Case c :
        new Case[] {
          new Case("", 512, false),
          new Case(" 1 sector_size:4096", 4096, false),
          new Case(" 2 sector_size:4096 iv_large_sectors", 4096, true)
        }) {
      MappedDevice md =
          dm.create(
              "c",
              "0 64 linear disk 4000\n64 512 crypt aes-xts-plain64 "
                  + KEY64
                  + " 1000 disk 200"
                  + c.opts());
      byte[] plain = new byte[512 * 512];
      new Random(c.sectorSize()).nextBytes(plain);
      byte[] copy = plain.clone();
      md.write(ByteBuffer.wrap(plain), 64 * 512L);
      assertThat(plain).as("the caller's buffer is not changed").isEqualTo(copy);
      int unit = c.sectorSize() / 512;
      long firstIv = c.large() ? 1000 / unit : 1000;
      byte[] decrypted =
          OpenSslXts.run(
              false,
              HEX.parseHex(KEY64),
              c.sectorSize(),
              firstIv,
              c.large() ? 1 : unit,
              raw(200, 512 * 512));
      assertThat(decrypted).as("%s", c).isEqualTo(copy);
      ByteBuffer back = ByteBuffer.allocate(512 * 512);
      md.read(back, 64 * 512L);
      assertThat(back.array()).isEqualTo(copy);
      // and the other way: what OpenSSL encrypts, the target reads
      byte[] fresh = new byte[512 * 512];
      new Random(7).nextBytes(fresh);
      byte[] enc =
          OpenSslXts.run(
              true, HEX.parseHex(KEY64), c.sectorSize(), firstIv, c.large() ? 1 : unit, fresh);
      disk.write(ByteBuffer.wrap(enc), 200 * 512L);
      md.read(back.clear(), 64 * 512L);
      assertThat(back.array()).isEqualTo(fresh);
      md.close();
    }
  }

  @Test
  void keyMessagesNeedASuspendedDevice() throws IOException {
    MappedDevice md = dm.create("c", "0 64 crypt aes-xts-plain64 " + KEY64 + " 0 disk 0");
    byte[] data = new byte[4096];
    new Random(1).nextBytes(data);
    md.write(ByteBuffer.wrap(data), 0);
    assertThatThrownBy(() -> md.message(0, "key", "wipe"))
        .isInstanceOf(TargetException.class)
        .hasMessage("not suspended during key manipulation.");
    assertThatThrownBy(() -> md.message(0, "key")).hasMessage("unrecognised message received.");
    md.suspend();
    assertThatThrownBy(() -> md.message(0, "key", "frob"))
        .hasMessage("unrecognised message received.");
    md.message(0, "key", "wipe");
    assertThat(md.table())
        .isEqualTo("0 64 crypt aes-xts-plain64 " + "0".repeat(128) + " 0 240:0 0\n");
    assertThatThrownBy(md::resume)
        .isInstanceOf(DmException.class)
        .hasMessageContaining("aborting resume - crypt key is not set.");
    assertThat(md.isSuspended()).isTrue();
    assertThatThrownBy(() -> md.message(0, "key", "set", seqHex(32)))
        .hasMessage("key set: the key must have 64 bytes, as the table's");
    md.message(0, "KEY", "SET", KEY64);
    md.resume();
    ByteBuffer back = ByteBuffer.allocate(4096);
    md.read(back, 0);
    assertThat(back.array()).isEqualTo(data);
    // another key reads the same sectors as noise
    md.suspend();
    md.message(0, "key", "set", KEY64.replace('0', '9'));
    md.resume();
    md.read(back.clear(), 0);
    assertThat(back.array()).isNotEqualTo(data);
  }

  @Test
  void ioHeldAcrossAWipeFailsUntilAKeyIsSet() {
    MappedDevice md = dm.create("c", "0 64 crypt aes-xts-plain64 " + KEY64 + " 0 disk 0");
    md.suspend();
    md.message(0, "key", "wipe");
    BlockStatus[] got = new BlockStatus[1];
    md.submit(Bio.read(0, ByteBuffer.allocate(512), b -> got[0] = b.status()));
    assertThat(got[0]).as("held while suspended").isNull();
    md.message(0, "key", "set", KEY64);
    md.resume();
    assertThat(got[0]).isEqualTo(BlockStatus.OK);
  }

  @Test
  void keyringKeysComeFromAKeyProvider() throws IOException {
    byte[] secret = HEX.parseHex(KEY64);
    KeyProvider provider =
        (type, desc) ->
            type.equals("logon") && desc.equals("cryptsetup:vol")
                ? Optional.of(secret.clone())
                : Optional.empty();
    TargetRegistry registry = TargetRegistry.loadDefault();
    registry.unregister("crypt");
    registry.register(new CryptTargetType(provider));
    try (DeviceMapper kdm = DeviceMapper.builder().registry(registry).build()) {
      kdm.registerDevice("disk", disk);
      MappedDevice md =
          kdm.create("c", "0 64 crypt aes-xts-plain64 :64:logon:cryptsetup:vol 5 disk 100");
      assertThat(md.table())
          .isEqualTo("0 64 crypt aes-xts-plain64 :64:logon:cryptsetup:vol 5 240:0 100\n");
      md.write(ByteBuffer.allocate(512), 0);
      assertThat(HEX.formatHex(raw(100, 16))).isEqualTo("41047df5c636cd4fcb4cae528f91daa1");
      assertThatThrownBy(
              () -> kdm.create("d", "0 64 crypt aes-xts-plain64 :64:logon:other 0 disk 0"))
          .hasMessageContaining("no logon key other");
      assertThatThrownBy(
              () -> kdm.create("d", "0 64 crypt aes-xts-plain64 :32:logon:cryptsetup:vol 0 disk 0"))
          .hasMessageContaining("has 64 bytes, not 32");
      md.close();
      kdm.unregisterDevice("disk");
    }
  }

  @Test
  void everyCipherAndIvModeRoundTrips() throws IOException {
    String[][] specs = {
      {"aes-cbc-essiv:sha256", seqHex(32)},
      {"aes-cbc-plain", seqHex(16)},
      {"aes-cbc-plain64be", seqHex(24)},
      {"aes-cbc-benbi", seqHex(32)},
      {"aes-cbc-null", seqHex(32)},
      {"aes-cbc-eboiv", seqHex(16)},
      {"aes-ecb", seqHex(32)},
      {"aes:4-cbc-plain64", seqHex(64)},
      {"aes:2-xts-plain64", seqHex(128)},
      {"aes-xts-essiv:sha256", seqHex(64)},
      {"serpent-xts-plain64", seqHex(64)},
      {"serpent-cbc-essiv:sha256", seqHex(32)},
      {"twofish-xts-plain64", seqHex(64)},
      {"twofish-cbc-plain", seqHex(16)},
      {"capi:cbc(aes)-essiv:sha256", seqHex(32)},
    };
    byte[] data = new byte[64 * 512];
    new Random(5).nextBytes(data);
    for (String[] s : specs) {
      for (String opts :
          new String[] {"", " 1 sector_size:4096", " 2 sector_size:2048 iv_large_sectors"}) {
        MappedDevice md = dm.create("c", "0 128 crypt " + s[0] + " " + s[1] + " 24 disk 8" + opts);
        md.write(ByteBuffer.wrap(data), 16 * 512L);
        assertThat(raw(8 + 16, 512))
            .as("%s%s is encrypted", s[0], opts)
            .isNotEqualTo(java.util.Arrays.copyOf(data, 512));
        ByteBuffer back = ByteBuffer.allocateDirect(64 * 512);
        md.read(back, 16 * 512L);
        byte[] got = new byte[64 * 512];
        back.flip().get(got);
        assertThat(got).as("%s%s", s[0], opts).isEqualTo(data);
        md.close();
      }
    }
  }
}
