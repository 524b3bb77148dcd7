package io.jdm.crypto;

import io.jdm.testkit.TargetFixture;
import java.util.List;

/** aes-xts-plain64, 512-bit key, 512-byte sectors, over memory devices (heap and direct). */
class CryptTargetTest extends CryptSuite {
  @Override
  protected String targetArgs(TargetFixture f, long length) {
    return "aes-xts-plain64 " + key(64, 1) + " 0 " + f.memory(length + 16) + " 16";
  }

  @Override
  protected List<BadArguments> badArguments(TargetFixture f) {
    String d = f.memory(4096);
    String k64 = key(64, 2);
    String ok = "aes-xts-plain64 " + k64 + " 0 " + d + " 0";
    return List.of(
        new BadArguments(64, "", "Not enough arguments"),
        new BadArguments(64, "aes-xts-plain64 " + k64 + " 0 " + d, "Not enough arguments"),
        new BadArguments(64, "aes-xts-plain64 :x:logon:k 0 " + d + " 0", "Cannot parse key size"),
        new BadArguments(64, "aes-xts-plain64 :64logon:k 0 " + d + " 0", "Cannot parse key size"),
        new BadArguments(64, ok + " 10", "Invalid number of feature args"),
        new BadArguments(64, ok + " 2 allow_discards", "Invalid number of feature args"),
        new BadArguments(64, ok + " 1 bogus", "Invalid feature arguments"),
        new BadArguments(64, ok + " 1 sector_size:x", "Invalid feature arguments"),
        new BadArguments(64, ok + " 1 sector_size:1000", "Invalid feature value for sector_size"),
        new BadArguments(64, ok + " 1 sector_size:8192", "Invalid feature value for sector_size"),
        new BadArguments(64, ok + " 1 sector_size:256", "Invalid feature value for sector_size"),
        new BadArguments(
            60, ok + " 1 sector_size:4096", "Device size is not multiple of sector_size feature"),
        new BadArguments(64, ok + " 1 integrity:0:aead", "Invalid integrity arguments"),
        new BadArguments(64, ok + " 1 integrity:481:aead", "Invalid integrity arguments"),
        new BadArguments(64, ok + " 1 integrity:16:foo", "Unknown integrity profile"),
        new BadArguments(64, ok + " 1 integrity:16:aead", "Integrity profile not supported."),
        new BadArguments(64, ok + " 1 integrity_key_size:0", "Invalid integrity_key_size argument"),
        new BadArguments(64, "xts(aes)-plain64 " + k64 + " 0 " + d + " 0", "Bad cipher spec"),
        new BadArguments(64, "aes:3-xts-plain64 " + k64 + " 0 " + d + " 0", "Bad cipher key count"),
        new BadArguments(64, "aes-cbc " + k64 + " 0 " + d + " 0", "IV mechanism required"),
        new BadArguments(
            64, "aes-cbc-essiv " + key(32, 1) + " 0 " + d + " 0", "Digest algorithm missing"),
        new BadArguments(
            64, "des-cbc-plain " + key(8, 1) + " 0 " + d + " 0", "Error allocating crypto tfm"),
        new BadArguments(
            64, "capi:gcm(aes)-random " + k64 + " 0 " + d + " 0", "Error allocating crypto tfm"),
        new BadArguments(64, "aes-cbc-bogus " + k64 + " 0 " + d + " 0", "Invalid IV mode"),
        new BadArguments(
            64, "aes-xts-plain64 " + key(24, 1) + " 0 " + d + " 0", "Error decoding and setting"),
        new BadArguments(
            64, "aes-xts-plain64 " + k64 + "0 0 " + d + " 0", "odd number of hex digits"),
        new BadArguments(
            64, "aes-xts-plain64 " + k64.replace('a', 'g') + "zz 0 " + d + " 0", "not hex"),
        new BadArguments(64, "aes-xts-plain64 - 0 " + d + " 0", "Error decoding and setting key"),
        new BadArguments(64, "aes-xts-plain64 a 0 " + d + " 0", "Error decoding and setting key"),
        new BadArguments(
            64,
            "aes-xts-plain64 :64:logon:disk 0 " + d + " 0",
            "no KeyProvider is registered for keyring keys"),
        new BadArguments(
            64, "aes-xts-plain64 :64:bogus:disk 0 " + d + " 0", "Error decoding and setting key"),
        new BadArguments(64, "aes-xts-plain64 " + k64 + " x " + d + " 0", "Invalid iv_offset"),
        new BadArguments( // above 2^64 - 1 (jdm also refuses 2^63 and up: see the README)
            64,
            "aes-xts-plain64 " + k64 + " 18446744073709551616 " + d + " 0",
            "Invalid iv_offset"),
        new BadArguments(
            64, "aes-xts-plain64 " + k64 + " 9223372036854775808 " + d + " 0", "Invalid iv_offset"),
        new BadArguments(
            64, ok.replace(" 0 " + d, " 3 " + d) + " 1 sector_size:4096", "Invalid iv_offset"),
        new BadArguments(64, "aes-xts-plain64 " + k64 + " 0 /no/such 0", "Device lookup failed"),
        new BadArguments(64, "aes-xts-plain64 " + k64 + " 0 " + d + " -1", "Invalid device sector"),
        new BadArguments(64, "aes-xts-plain64 " + k64 + " 0 " + d + " 4090", "too small"));
  }
}
