package io.jdm.targets.verity;

import io.jdm.core.ArgSet;
import io.jdm.core.Bio;
import io.jdm.core.DmDev;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.TargetFeature;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;
import java.util.HexFormat;
import java.util.Set;

/**
 * {@code verity} v1.10.0: a read-only device whose every data block is checked against a hash tree
 * before it is returned ({@code drivers/md/dm-verity-target.c}, {@code dm-verity-fec.c}, {@code
 * Documentation/admin-guide/device-mapper/verity.rst}).
 *
 * <pre>
 * verity &lt;version&gt; &lt;data_dev&gt; &lt;hash_dev&gt; &lt;data_block_size&gt; &lt;hash_block_size&gt;
 *        &lt;num_data_blocks&gt; &lt;hash_start_block&gt; &lt;algorithm&gt; &lt;digest&gt; &lt;salt|-&gt;
 *        [&lt;#opt_params&gt; &lt;opt_params&gt;]
 * </pre>
 *
 * <p>Options: {@code ignore_corruption}, {@code restart_on_corruption}, {@code panic_on_corruption}
 * (at most one), {@code restart_on_error}, {@code panic_on_error} (at most one), {@code
 * ignore_zero_blocks}, {@code check_at_most_once}, {@code try_verify_in_tasklet} (verify on the
 * completing thread while the hash blocks needed are cached), {@code use_fec_from_device <dev>},
 * {@code fec_roots <2..24>}, {@code fec_blocks <n>}, {@code fec_start <block>}. {@code
 * root_hash_sig_key_desc <key>} is refused: jdm has no kernel keyring to take a PKCS#7 signature of
 * the root hash from, so it fails as the kernel does when the key cannot be found, and says so.
 *
 * <p>Arguments are checked in the kernel's order with the kernel's {@code ti->error} texts; the
 * table must be read-only ({@code "Device must be readonly"}). Numbers are strictly decimal (see
 * {@link ArgSet}). The kernel takes the page size (4096 here) as the largest data block size.
 */
public final class VerityTargetType implements TargetType {
  static final String NAME = "verity";
  static final int PAGE_SIZE = 4096;

  /** {@code 5 + DM_VERITY_OPTS_FEC + DM_VERITY_ROOT_HASH_VERIFICATION_OPTS}. */
  static final int OPTS_MAX = 5 + 8 + 2;

  static final String SIG_ERR = "DM Verity Sig Verification ";

  /** For the service loader. */
  public VerityTargetType() {}

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public TargetVersion version() {
    return TargetVersion.of(1, 10, 0);
  }

  /** {@code DM_TARGET_SINGLETON | DM_TARGET_IMMUTABLE}, as the kernel's. */
  @Override
  public Set<TargetFeature> features() {
    return Set.of(TargetFeature.SINGLETON, TargetFeature.IMMUTABLE);
  }

  /** The error-handling modes, {@code enum verity_mode}. */
  public enum Mode {
    EIO,
    LOGGING,
    RESTART,
    PANIC
  }

  /** What the optional arguments asked for. */
  static final class Options {
    Mode mode = Mode.EIO;
    Mode errorMode = Mode.EIO;
    boolean ignoreZeroBlocks;
    boolean checkAtMostOnce;
    boolean tasklet;
    DmDev fecDev;
    long fecBlocks;
    long fecStart;
    int fecRoots;
  }

  @Override
  public Target create(TargetContext ctx, long begin, long length, String[] args) {
    if (!ctx.readOnly()) {
      throw new TargetException("Device must be readonly");
    }
    if (args.length < 10) {
      throw new TargetException("Not enough arguments");
    }
    Options opts = new Options();
    if (args.length > 10) {
      parseOptions(ctx, new ArgSet(tail(args)), opts, true, 0, 0);
    }
    long version = ArgSet.parseDecimal(args[0]);
    if (version < 0 || version > 1) {
      throw new TargetException("Invalid version");
    }
    DmDev dataDev = ctx.getDevice(args[1], "Data device lookup failed");
    DmDev hashDev = ctx.getDevice(args[2], "Hash device lookup failed");
    long dbs = ArgSet.parseDecimal(args[3]);
    if (dbs <= 0
        || dbs > 0xFFFF_FFFFL
        || (dbs & (dbs - 1)) != 0
        || dbs < dataDev.bdev().limits().logicalBlockSize()
        || dbs > PAGE_SIZE) {
      throw new TargetException("Invalid data device block size");
    }
    int dataBits = Long.numberOfTrailingZeros(dbs);
    long hbs = ArgSet.parseDecimal(args[4]);
    if (hbs <= 0
        || hbs > 0xFFFF_FFFFL
        || (hbs & (hbs - 1)) != 0
        || hbs < hashDev.bdev().limits().logicalBlockSize()
        || hbs > Integer.MAX_VALUE) {
      throw new TargetException("Invalid hash device block size");
    }
    int hashBits = Long.numberOfTrailingZeros(hbs);
    long dataBlocks = parseBlocks(args[5], dataBits, "Invalid data blocks");
    if (length > dataBlocks << (dataBits - Bio.SECTOR_SHIFT)) {
      throw new TargetException("Data device is too small");
    }
    long hashStart = parseBlocks(args[6], hashBits, "Invalid hash start");
    String jdk = VerityHash.jdkName(args[7]);
    if (jdk == null) {
      throw new TargetException("Cannot initialize hash function");
    }
    int digestSize = digestSize(jdk);
    if (hbs < 2L * digestSize) {
      throw new TargetException("Digest size too big");
    }
    byte[] root = parseHex(args[8]);
    if (root == null || root.length != digestSize) {
      throw new TargetException("Invalid root digest");
    }
    byte[] salt = new byte[0];
    if (!args[9].equals("-")) {
      salt = parseHex(args[9]);
      if (salt == null) {
        throw new TargetException("Invalid salt");
      }
    }
    VerityHash hash = VerityHash.of(args[7], (int) version, salt);
    if (args.length > 10) {
      parseOptions(ctx, new ArgSet(tail(args)), opts, false, dataBits, dataBlocks);
    }
    VerityGeometry geo;
    try {
      geo = new VerityGeometry((int) version, (int) hbs, hash.digestSize(), dataBlocks, hashStart);
    } catch (IllegalArgumentException e) {
      throw new TargetException(e.getMessage());
    }
    return new VerityTarget(
        ctx, begin, length, dataDev, hashDev, (int) dbs, hash, root, geo, opts, args[7]);
  }

  private static String[] tail(String[] args) {
    String[] t = new String[args.length - 10];
    System.arraycopy(args, 10, t, 0, t.length);
    return t;
  }

  /** {@code %llu} that must survive a shift into sectors ({@code (n << s) >> s == n}). */
  private static long parseBlocks(String s, int bits, String error) {
    long n = ArgSet.parseDecimal(s);
    int shift = bits - Bio.SECTOR_SHIFT;
    if (n < 0 || (n << shift) >>> shift != n || (n << shift) < 0) {
      throw new TargetException(error);
    }
    return n;
  }

  private static int digestSize(String jdk) {
    try {
      return java.security.MessageDigest.getInstance(jdk).getDigestLength();
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Hex as the kernel's {@code hex2bin}: an even number of hex digits of either case. */
  static byte[] parseHex(String s) {
    if ((s.length() & 1) != 0) {
      return null;
    }
    for (int i = 0; i < s.length(); i++) {
      if (Character.digit(s.charAt(i), 16) < 0 || s.charAt(i) > 0x7f) {
        return null;
      }
    }
    return HexFormat.of().parseHex(s);
  }

  private static boolean isMode(String a) {
    return ArgSet.equalsIgnoreCase(a, "ignore_corruption")
        || ArgSet.equalsIgnoreCase(a, "restart_on_corruption")
        || ArgSet.equalsIgnoreCase(a, "panic_on_corruption");
  }

  private static boolean isErrorMode(String a) {
    return ArgSet.equalsIgnoreCase(a, "restart_on_error")
        || ArgSet.equalsIgnoreCase(a, "panic_on_error");
  }

  private static boolean isFecOption(String a) {
    return ArgSet.equalsIgnoreCase(a, "use_fec_from_device")
        || ArgSet.equalsIgnoreCase(a, "fec_blocks")
        || ArgSet.equalsIgnoreCase(a, "fec_start")
        || ArgSet.equalsIgnoreCase(a, "fec_roots");
  }

  /** {@code verity_parse_opt_args}; the first pass only looks for modifiers. */
  private static void parseOptions(
      TargetContext ctx,
      ArgSet as,
      Options o,
      boolean onlyModifiers,
      int dataBits,
      long dataBlocks) {
    int argc = as.readArgGroup(0, OPTS_MAX, "Invalid number of feature args");
    while (argc > 0) {
      String a = as.next();
      argc--;
      if (isMode(a)) {
        if (onlyModifiers) {
          continue;
        }
        if (o.mode != Mode.EIO) {
          throw new TargetException("Conflicting error handling parameters");
        }
        o.mode =
            ArgSet.equalsIgnoreCase(a, "ignore_corruption")
                ? Mode.LOGGING
                : ArgSet.equalsIgnoreCase(a, "restart_on_corruption") ? Mode.RESTART : Mode.PANIC;
      } else if (isErrorMode(a)) {
        if (onlyModifiers) {
          continue;
        }
        if (o.errorMode != Mode.EIO) {
          throw new TargetException("Conflicting error handling parameters");
        }
        o.errorMode = ArgSet.equalsIgnoreCase(a, "restart_on_error") ? Mode.RESTART : Mode.PANIC;
      } else if (ArgSet.equalsIgnoreCase(a, "ignore_zero_blocks")) {
        if (!onlyModifiers) {
          o.ignoreZeroBlocks = true;
        }
      } else if (ArgSet.equalsIgnoreCase(a, "check_at_most_once")) {
        if (!onlyModifiers) {
          if (dataBlocks > Integer.MAX_VALUE) {
            throw new TargetException("device too large to use check_at_most_once");
          }
          o.checkAtMostOnce = true;
        }
      } else if (ArgSet.equalsIgnoreCase(a, "try_verify_in_tasklet")) {
        o.tasklet = true;
      } else if (isFecOption(a)) {
        if (onlyModifiers) {
          continue;
        }
        argc = parseFecOption(ctx, as, o, argc, a, dataBits);
      } else if (ArgSet.equalsIgnoreCase(a, "root_hash_sig_key_desc")) {
        if (onlyModifiers) {
          continue;
        }
        if (argc == 0) {
          throw new TargetException(SIG_ERR + "Signature key not specified");
        }
        String key = as.next();
        throw new TargetException(
            SIG_ERR
                + "Invalid key specified ("
                + key
                + ": jdm has no kernel keyring, so root hash signatures cannot be checked)");
      } else if (!onlyModifiers) {
        ctx.logger().log(System.Logger.Level.ERROR, "Unrecognized verity feature request: {0}", a);
        throw new TargetException("Unrecognized verity feature request");
      }
    }
  }

  /** {@code verity_fec_parse_opt_args}; returns the arguments left. */
  private static int parseFecOption(
      TargetContext ctx, ArgSet as, Options o, int argc, String name, int dataBits) {
    if (argc == 0) {
      throw new TargetException("FEC feature arguments require a value");
    }
    String value = as.next();
    argc--;
    if (ArgSet.equalsIgnoreCase(name, "use_fec_from_device")) {
      if (o.fecDev != null) {
        throw new TargetException("FEC device already specified");
      }
      o.fecDev = ctx.getDevice(value, "FEC device lookup failed");
    } else if (ArgSet.equalsIgnoreCase(name, "fec_blocks")) {
      o.fecBlocks = parseBlocks(value, dataBits, "Invalid fec_blocks");
    } else if (ArgSet.equalsIgnoreCase(name, "fec_start")) {
      o.fecStart = parseBlocks(value, dataBits, "Invalid fec_start");
    } else {
      long r = ArgSet.parseDecimal(value);
      if (r < 255 - VerityFec.MAX_RSN || r > 255 - VerityFec.MIN_RSN) {
        throw new TargetException("Invalid fec_roots");
      }
      o.fecRoots = (int) r;
    }
    return argc;
  }
}
