package io.jdm.targets.verity;

import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.BaseTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.DeviceCapabilities.Data;
import io.jdm.testkit.DeviceCapabilities.Discard;
import io.jdm.testkit.TargetFixture;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Nested;

/**
 * {@code verity} through the conformance suite, as a read-only device over a zero-filled data
 * device with a real hash tree (every read is verified up to the root), in two shapes: 4 KiB blocks
 * in format 1 with a salt, and 512-byte data blocks with 1 KiB hash blocks in format 0 (so trees
 * are several levels deep), plus the bad-argument corpus with the kernel's texts.
 */
class VerityTargetTest {

  /** Capabilities of a verity device over zeros: reads verified zeros, everything else fails. */
  static DeviceCapabilities readOnlyZeros() {
    return new DeviceCapabilities(Data.ZEROS, true, Discard.FAILS, true, true);
  }

  abstract static class Base extends BaseTargetTestCase {
    abstract VerityFormat format();

    abstract int dataBlockSize();

    String options() {
      return "";
    }

    @Override
    protected String targetType() {
      return "verity";
    }

    @Override
    protected boolean readOnlyTable() {
      return true;
    }

    @Override
    protected long targetLength(long sectors) {
      int per = dataBlockSize() / 512;
      return Math.max(per, sectors / per * per);
    }

    @Override
    protected String targetArgs(TargetFixture f, long length) throws IOException {
      VerityFormat fmt = format();
      long blocks = length * 512 / dataBlockSize();
      MemoryBlockDevice data = MemoryBlockDevice.create("data", length);
      MemoryBlockDevice hash =
          MemoryBlockDevice.create("hash", (fmt.hashDeviceBytes(blocks) + 511) / 512);
      VerityFormat.Result r = fmt.format(data, hash);
      return r.tableArgs(f.register(data), f.register(hash), null) + options();
    }

    @Override
    protected DeviceCapabilities capabilities() {
      return readOnlyZeros();
    }
  }

  @Nested
  class Format1With4KBlocks extends Base {
    @Override
    VerityFormat format() {
      return VerityFormat.builder().salt(new byte[] {1, 2, 3, 4}).build();
    }

    @Override
    int dataBlockSize() {
      return 4096;
    }

    @Override
    protected List<BadArguments> badArguments(TargetFixture f) throws IOException {
      return VerityTargetTest.badArguments(f);
    }
  }

  @Nested
  class Format0With512ByteBlocksAndOptions extends Base {
    @Override
    VerityFormat format() {
      return VerityFormat.builder()
          .hashType(0)
          .dataBlockSize(512)
          .hashBlockSize(1024)
          .algorithm("sha1")
          .salt(new byte[] {(byte) 0xab})
          .superblock(false)
          .hashOffset(4096)
          .build();
    }

    @Override
    int dataBlockSize() {
      return 512;
    }

    @Override
    String options() {
      return " 2 check_at_most_once ignore_zero_blocks";
    }
  }

  @Nested
  class VerifiedOnTheCompletingThread extends Base {
    @Override
    VerityFormat format() {
      return VerityFormat.builder().algorithm("sha512").build();
    }

    @Override
    int dataBlockSize() {
      return 4096;
    }

    @Override
    String options() {
      return " 2 try_verify_in_tasklet restart_on_corruption";
    }
  }

  /** The kernel's {@code ti->error} texts, in the kernel's order of checks. */
  static List<BaseTargetTestCase.BadArguments> badArguments(TargetFixture f) throws IOException {
    VerityFormat fmt = VerityFormat.builder().salt(new byte[] {9}).build();
    MemoryBlockDevice data = MemoryBlockDevice.create("data", 64);
    MemoryBlockDevice hash = MemoryBlockDevice.create("hash", fmt.hashDeviceBytes(8) / 512);
    VerityFormat.Result r = fmt.format(data, hash);
    String d = f.register(data);
    String h = f.register(hash);
    String root = r.rootHashHex();
    String good = "1 " + d + " " + h + " 4096 4096 8 1 sha256 " + root + " 09";
    String fecDev = f.memory(64);
    List<BaseTargetTestCase.BadArguments> l = new ArrayList<>();
    l.add(bad(64, "", "Not enough arguments"));
    l.add(bad(64, "1 " + d + " " + h + " 4096 4096 8 1 sha256 " + root, "Not enough arguments"));
    l.add(bad(64, good + " 16", "Invalid number of feature args"));
    l.add(bad(64, good + " 2 check_at_most_once", "Invalid number of feature args"));
    l.add(bad(64, good.replaceFirst("^1 ", "2 "), "Invalid version"));
    l.add(bad(64, good.replaceFirst("^1 ", "x "), "Invalid version"));
    l.add(bad(64, good.replace(" " + d + " ", " /no/such "), "Data device lookup failed"));
    l.add(bad(64, good.replace(" " + h + " ", " /no/such "), "Hash device lookup failed"));
    l.add(bad(64, good.replace("4096 4096", "3000 4096"), "Invalid data device block size"));
    l.add(bad(64, good.replace("4096 4096", "8192 4096"), "Invalid data device block size"));
    l.add(bad(64, good.replace("4096 4096", "256 4096"), "Invalid data device block size"));
    l.add(bad(64, good.replace("4096 4096", "0 4096"), "Invalid data device block size"));
    l.add(bad(64, good.replace("4096 4096", "4096 100"), "Invalid hash device block size"));
    l.add(bad(64, good.replace("4096 4096", "4096 256"), "Invalid hash device block size"));
    l.add(bad(64, good.replace(" 8 1 ", " x 1 "), "Invalid data blocks"));
    l.add(bad(64, good.replace(" 8 1 ", " 2305843009213693952 1 "), "Invalid data blocks"));
    l.add(bad(72, good, "Data device is too small"));
    l.add(bad(64, good.replace(" 8 1 ", " 8 -1 "), "Invalid hash start"));
    l.add(bad(64, good.replace("sha256", "nosuchhash"), "Cannot initialize hash function"));
    l.add(bad(64, good.replace(root, root.substring(2)), "Invalid root digest"));
    l.add(bad(64, good.replace(root, "zz" + root.substring(2)), "Invalid root digest"));
    l.add(bad(64, good.replace(root + " 09", root + " 0"), "Invalid salt"));
    l.add(bad(64, good.replace(root + " 09", root + " xy"), "Invalid salt"));
    l.add(bad(64, good + " 1 bogus", "Unrecognized verity feature request"));
    l.add(
        bad(
            64,
            good + " 2 ignore_corruption restart_on_corruption",
            "Conflicting error handling parameters"));
    l.add(
        bad(
            64,
            good + " 2 restart_on_error panic_on_error",
            "Conflicting error handling parameters"));
    l.add(bad(64, good + " 1 use_fec_from_device", "FEC feature arguments require a value"));
    l.add(bad(64, good + " 2 use_fec_from_device /no/such", "FEC device lookup failed"));
    l.add(
        bad(
            64,
            good + " 4 use_fec_from_device " + fecDev + " use_fec_from_device " + fecDev,
            "FEC device already specified"));
    l.add(bad(64, good + " 2 fec_roots 1", "Invalid fec_roots"));
    l.add(bad(64, good + " 2 fec_roots 25", "Invalid fec_roots"));
    l.add(bad(64, good + " 2 fec_blocks x", "Invalid fec_blocks"));
    l.add(bad(64, good + " 2 fec_start x", "Invalid fec_start"));
    l.add(bad(64, good + " 2 use_fec_from_device " + fecDev, "Missing fec_roots"));
    l.add(
        bad(64, good + " 4 use_fec_from_device " + fecDev + " fec_roots 2", "Missing fec_blocks"));
    l.add(
        bad(
            64,
            good + " 6 use_fec_from_device " + fecDev + " fec_roots 2 fec_blocks 8",
            "Invalid fec_blocks"));
    l.add(
        bad(
            64,
            good + " 6 use_fec_from_device " + fecDev + " fec_roots 2 fec_blocks 100",
            "Hash device is too small for fec_blocks"));
    l.add(
        bad(
            64,
            good + " 8 use_fec_from_device " + fecDev + " fec_roots 2 fec_blocks 9 fec_start 7",
            "FEC device is too small"));
    l.add(bad(64, good.replace(" 8 1 ", " 8 2 "), "Hash device is too small"));
    l.add(
        bad(
            64,
            good + " 2 root_hash_sig_key_desc mykey",
            "DM Verity Sig Verification Invalid key specified"));
    l.add(
        bad(
            64,
            good + " 1 root_hash_sig_key_desc",
            "DM Verity Sig Verification Signature key not specified"));
    return l;
  }

  private static BaseTargetTestCase.BadArguments bad(long len, String args, String error) {
    return new BaseTargetTestCase.BadArguments(len, args, error);
  }
}
