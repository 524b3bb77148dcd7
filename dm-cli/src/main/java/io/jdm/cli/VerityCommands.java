package io.jdm.cli;

import io.jdm.core.Errno;
import io.jdm.core.FileBlockDevice;
import io.jdm.targets.verity.VerityFormat;
import io.jdm.targets.verity.VerityGeometry;
import io.jdm.targets.verity.VeritySuperblock;
import io.jdm.targets.verity.VerityVerify;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code jdmsetup verity ...}: cryptsetup's {@code veritysetup} verbs with its options, messages
 * and exit codes ({@code src/veritysetup.c}, {@code lib/verity/verity.c} of cryptsetup 2.6).
 *
 * <ul>
 *   <li>{@code format}, {@code verify} and {@code dump} run here, on image files or block devices,
 *       through {@link VerityFormat} and {@link VerityVerify};
 *   <li>{@code open} reads the superblock here, builds the table veritysetup would load and asks
 *       the daemon to create the read-only device ({@code create}); {@code close} removes it.
 * </ul>
 *
 * <p>Exit codes as veritysetup's: 0 success, 1 wrong parameters or I/O error, 2 verification
 * failed, 4 a device that does not exist, 5 a name in use. {@code -v} prints {@code Command
 * successful.} or {@code Command failed with code -N (...).} on stdout.
 */
@Command(
    name = "verity",
    description = {
      "veritysetup's verbs: format, verify, open, close, dump (dm-verity hash trees).",
      "format, verify and dump run here; open and close talk to the daemon."
    })
final class VerityCommands {
  private static final HexFormat HEX = HexFormat.of();
  private static final Set<PosixFilePermission> OWNER_RW =
      PosixFilePermissions.fromString("rw-------"); // veritysetup's S_IRUSR | S_IWUSR

  private final Jdmsetup app;

  VerityCommands(Jdmsetup app) {
    this.app = app;
  }

  /** veritysetup's options; each verb reads those it uses, as veritysetup does. */
  static final class Options {
    @Option(names = "--hash", paramLabel = "NAME", defaultValue = "sha256")
    String hash;

    @Option(names = "--data-block-size", paramLabel = "BYTES", defaultValue = "4096")
    int dataBlockSize;

    @Option(names = "--hash-block-size", paramLabel = "BYTES", defaultValue = "4096")
    int hashBlockSize;

    @Option(
        names = "--data-blocks",
        paramLabel = "BLOCKS",
        description = "Data blocks covered (default: the whole data device).")
    long dataBlocks;

    @Option(
        names = "--hash-offset",
        paramLabel = "BYTES",
        description = "Where the superblock (or the tree) starts on the hash device.")
    long hashOffset;

    @Option(
        names = {"-s", "--salt"},
        paramLabel = "HEX",
        description = "Salt in hex, '-' for none (default: 32 random bytes).")
    String salt;

    @Option(names = "--format", paramLabel = "N", defaultValue = "1", description = "1, or 0.")
    int format;

    @Option(names = "--uuid", paramLabel = "UUID")
    String uuid;

    @Option(names = "--no-superblock", description = "No superblock; parameters from options.")
    boolean noSuperblock;

    @Option(names = "--fec-device", paramLabel = "PATH")
    String fecDevice;

    @Option(names = "--fec-offset", paramLabel = "BYTES")
    long fecOffset;

    @Option(names = "--fec-roots", paramLabel = "N", defaultValue = "2")
    int fecRoots;

    @Option(names = "--root-hash-file", paramLabel = "FILE")
    String rootHashFile;

    @Option(
        names = {"-v", "--verbose"},
        description = "Print \"Command successful.\" or why it failed.")
    boolean verbose;
  }

  /** The options only {@code open} takes. */
  static final class OpenOptions {
    @Option(names = "--ignore-corruption")
    boolean ignoreCorruption;

    @Option(names = "--restart-on-corruption")
    boolean restartOnCorruption;

    @Option(names = "--panic-on-corruption")
    boolean panicOnCorruption;

    @Option(names = "--ignore-zero-blocks")
    boolean ignoreZeroBlocks;

    @Option(names = "--check-at-most-once")
    boolean checkAtMostOnce;

    @Option(names = "--use-tasklets", description = "try_verify_in_tasklet (accepted, no effect).")
    boolean useTasklets;

    @Option(
        names = "--root-hash-signature",
        paramLabel = "FILE",
        description = "Refused: jdm has no kernel keyring to check a signature against.")
    String rootHashSignature;
  }

  /** A failure with veritysetup's message (printed on stderr) and negative errno. */
  private static final class Failed extends Exception {
    private static final long serialVersionUID = 1L;
    final int errno;

    Failed(int errno, String... lines) {
      super(String.join("\n", lines), null, false, false);
      this.errno = errno;
    }
  }

  private static final int EPERM = -1;
  private static final int ENOENT = -2;
  private static final int EIO = -5;
  private static final int ENODEV = -19;
  private static final int EINVAL = -22;
  private static final int EEXIST = -17;

  /** cryptsetup's {@code translate_errno}. */
  private static int exitCode(int r) {
    switch (r) {
      case 0:
        return 0;
      case EEXIST:
      case -16: // EBUSY
        return 5;
      case ENODEV:
        return 4;
      case -12: // ENOMEM
        return 3;
      case EPERM:
        return 2;
      case EINVAL:
      case ENOENT:
      default:
        return 1;
    }
  }

  /** Prints what veritysetup prints at the end ({@code show_status}) and returns the exit code. */
  private int finish(Options o, int exit) {
    if (o.verbose) {
      if (exit == 0) {
        app.out.println("Command successful.");
      } else {
        String why;
        switch (exit) {
          case 1:
            why = "wrong or missing parameters";
            break;
          case 2:
            why = "no permission or bad passphrase";
            break;
          case 3:
            why = "out of memory";
            break;
          case 4:
            why = "wrong device or file specified";
            break;
          case 5:
            why = "device already exists or device is busy";
            break;
          default:
            why = "unknown error";
        }
        app.out.println("Command failed with code -" + exit + " (" + why + ").");
      }
    }
    app.out.flush();
    return exit;
  }

  private int failed(Options o, Failed f) {
    if (!f.getMessage().isEmpty()) {
      app.err.println(f.getMessage());
    }
    return finish(o, exitCode(f.errno));
  }

  // ---------------------------------------------------------------------------------------------

  @Command(
      name = "format",
      description = {
        "Builds the hash tree of DATA_DEVICE on HASH_DEVICE (created if missing), with a superblock"
            + " and, with --fec-device, Reed-Solomon parity, as veritysetup format; prints the"
            + " parameters and the root hash."
      })
  int format(
      @Mixin Options o,
      @Parameters(index = "0", paramLabel = "DATA_DEVICE") String dataPath,
      @Parameters(index = "1", paramLabel = "HASH_DEVICE") String hashPath) {
    try {
      return doFormat(o, dataPath, hashPath);
    } catch (Failed f) {
      return failed(o, f);
    }
  }

  private int doFormat(Options o, String dataPath, String hashPath) throws Failed {
    createIfMissing(hashPath, "Cannot create hash image " + hashPath + " for writing.");
    if (o.fecDevice != null) {
      createIfMissing(o.fecDevice, "Cannot create FEC image " + o.fecDevice + " for writing.");
    }
    UUID uuid = null;
    if (o.uuid != null) {
      try {
        uuid = UUID.fromString(o.uuid);
      } catch (IllegalArgumentException e) {
        throw new Failed(EINVAL, "Wrong VERITY UUID format provided on device " + hashPath + ".");
      }
    }
    if (o.fecDevice != null && (o.fecRoots < 2 || o.fecRoots > 24)) {
      // cryptsetup checks twice, and says so twice
      throw new Failed(
          EINVAL, "Invalid number of parity bytes.", "Invalid number of parity bytes.");
    }
    VerityFormat.Builder b = options(o, !o.noSuperblock);
    if (uuid != null) {
      b.uuid(uuid);
    }
    VerityFormat fmt = build(b);
    if (o.fecDevice != null && o.dataBlockSize != o.hashBlockSize) {
      throw new Failed(
          EINVAL, "Block sizes must match for FEC.", "Block sizes must match for FEC.");
    }
    boolean fecOnHash = o.fecDevice != null && sameFile(o.fecDevice, hashPath);
    try (FileBlockDevice data = openExisting(dataPath, true)) {
      long blocks = fmt.dataBlocks(data);
      if (blocks == 0 || (data.sectors() << 9) / o.dataBlockSize < blocks) {
        throw new Failed(
            blocks == 0 ? EINVAL : EIO,
            blocks == 0
                ? "Invalid size parameters for verity device."
                : "Input/output error while creating hash area.");
      }
      long hashBytes = fmt.hashDeviceBytes(blocks);
      if (fecOnHash) {
        long covered = blocks + Math.max(0, o.fecOffset / o.dataBlockSize - fmt.hashStart());
        hashBytes = Math.max(hashBytes, o.fecOffset + fmt.fecBytes(covered));
      }
      VerityFormat.Result r;
      try (FileBlockDevice hash =
          FileBlockDevice.builder(Path.of(hashPath)).create(hashBytes).open()) {
        if (o.fecDevice == null) {
          r = fmt.format(data, hash);
        } else if (fecOnHash) {
          r = fmt.format(data, hash, hash);
        } else {
          long fecBytes = fmt.fecBytes(fmt.fecBlocks(blocks, hash, false));
          try (FileBlockDevice fec =
              FileBlockDevice.builder(Path.of(o.fecDevice)).create(o.fecOffset + fecBytes).open()) {
            r = fmt.format(data, hash, fec);
          }
        }
      } catch (IllegalArgumentException e) {
        throw new Failed(EINVAL, e.getMessage());
      }
      app.out.print(
          dump(
              hashPath,
              fmt,
              r.superblock() == null ? "" : fmt.uuid().toString(),
              o.hash,
              blocks,
              r.rootHashHex(),
              o.fecDevice == null ? 0 : r.fecBlocks(),
              fecOnHash));
      if (o.rootHashFile != null) {
        try {
          Files.writeString(Path.of(o.rootHashFile), r.rootHashHex(), StandardCharsets.US_ASCII);
        } catch (IOException e) {
          throw new Failed(
              EINVAL, "Cannot create root hash file " + o.rootHashFile + " for writing.");
        }
      }
    } catch (IOException e) {
      throw new Failed(EIO, "Input/output error while creating hash area.");
    }
    return finish(o, 0);
  }

  /** veritysetup's {@code crypt_dump} of a verity device ({@code VERITY_dump}, 2.6.1's words). */
  static String dump(
      String hashPath,
      VerityFormat fmt,
      String uuid,
      String algorithm,
      long blocks,
      String rootHex,
      long fecBlocks,
      boolean fecOnHash) {
    VerityGeometry geo = fmt.geometry(blocks);
    long verityBlocks = fmt.hashStart() + geo.treeBlocks();
    int rsn = 255 - fmt.fecRoots();
    long rsBlocks = fecBlocks == 0 ? 0 : (fecBlocks + rsn - 1) / rsn * fmt.fecRoots();
    if (fecOnHash) {
      verityBlocks += rsBlocks;
    }
    byte[] salt = fmt.salt();
    StringBuilder sb = new StringBuilder();
    sb.append("VERITY header information for ").append(hashPath).append('\n');
    sb.append("UUID:            \t").append(uuid).append('\n');
    sb.append("Hash type:       \t").append(fmt.hashType()).append('\n');
    sb.append("Data blocks:     \t").append(blocks).append('\n');
    sb.append("Data block size: \t").append(fmt.dataBlockSize()).append('\n');
    sb.append("Hash blocks:     \t").append(geo.treeBlocks()).append('\n');
    sb.append("Hash block size: \t").append(fmt.hashBlockSize()).append('\n');
    sb.append("Hash algorithm:  \t").append(algorithm).append('\n');
    if (fecBlocks > 0) {
      sb.append("FEC RS roots:   \t").append(fmt.fecRoots()).append('\n');
      sb.append("FEC blocks:     \t").append(rsBlocks).append('\n');
    }
    sb.append("Salt:            \t").append(salt.length == 0 ? "-" : HEX.formatHex(salt));
    sb.append('\n');
    if (rootHex != null) {
      sb.append("Root hash:      \t").append(rootHex).append('\n');
    }
    if (fmt.hashOffset() == 0) {
      sb.append("Hash device size: \t")
          .append(verityBlocks * fmt.hashBlockSize())
          .append(" [bytes]\n");
    }
    if (fecBlocks > 0 && fmt.fecOffset() == 0 && !fecOnHash) {
      sb.append("FEC device size: \t").append(rsBlocks * fmt.dataBlockSize()).append(" [bytes]\n");
    }
    return sb.toString();
  }

  // ---------------------------------------------------------------------------------------------

  @Command(
      name = "dump",
      description = "Prints the superblock of HASH_DEVICE, as veritysetup dump.")
  int dump(@Mixin Options o, @Parameters(paramLabel = "HASH_DEVICE") String hashPath) {
    o.noSuperblock = false; // veritysetup dump always reads the superblock
    try {
      Loaded l = load(o, null, hashPath);
      try (l) {
        long fecBlocks = 0;
        boolean onHash = false;
        if (l.fec != null) {
          onHash = l.fec == l.hash;
          fecBlocks = l.fmt.fecBlocks(l.fmt.dataBlocks(), l.hash, onHash);
        }
        app.out.print(
            dump(
                hashPath,
                l.fmt,
                l.fmt.uuid().toString(),
                l.fmt.algorithm(),
                l.fmt.dataBlocks(),
                null,
                fecBlocks,
                onHash));
      }
      return finish(o, 0);
    } catch (Failed f) {
      return failed(o, f);
    }
  }

  // ---------------------------------------------------------------------------------------------

  @Command(
      name = "verify",
      description =
          "Verifies DATA_DEVICE against the tree on HASH_DEVICE and ROOT_HASH in userspace, as"
              + " veritysetup verify (exit 2 on a mismatch).")
  int verify(
      @Mixin Options o,
      @Parameters(index = "0", paramLabel = "DATA_DEVICE") String dataPath,
      @Parameters(index = "1", paramLabel = "HASH_DEVICE") String hashPath,
      @Parameters(index = "2", arity = "0..1", paramLabel = "ROOT_HASH") String root) {
    try {
      String rootHex = rootHashText(o, root);
      try (Loaded l = load(o, dataPath, hashPath)) {
        byte[] rootHash = rootHash(rootHex, l.fmt);
        VerityVerify.Outcome v = VerityVerify.verify(l.fmt, l.data, l.hash, rootHash, l.fec);
        for (String m : v.messages()) {
          app.err.println(m);
        }
        return finish(o, v.exitCode());
      }
    } catch (Failed f) {
      return failed(o, f);
    }
  }

  // ---------------------------------------------------------------------------------------------

  @Command(
      name = "open",
      description = {
        "Creates the read-only device NAME checking DATA_DEVICE against HASH_DEVICE and ROOT_HASH,"
            + " as veritysetup open: the table comes from the superblock (or the options with"
            + " --no-superblock); the daemon maps it.",
        "restart/panic on corruption halt the device and raise an event (jdm cannot reboot the"
            + " machine)."
      })
  int open(
      @Mixin Options o,
      @Mixin OpenOptions a,
      @Parameters(index = "0", paramLabel = "DATA_DEVICE") String dataPath,
      @Parameters(index = "1", paramLabel = "NAME") String name,
      @Parameters(index = "2", paramLabel = "HASH_DEVICE") String hashPath,
      @Parameters(index = "3", arity = "0..1", paramLabel = "ROOT_HASH") String root)
      throws IOException {
    if (a.ignoreCorruption && a.restartOnCorruption) {
      app.err.println(
          "jdmsetup: Option --ignore-corruption and --restart-on-corruption cannot be used"
              + " together.");
      return 1;
    }
    if (a.panicOnCorruption && a.restartOnCorruption) {
      app.err.println(
          "jdmsetup: Option --panic-on-corruption and --restart-on-corruption cannot be used"
              + " together.");
      return 1;
    }
    String table;
    String uuid;
    try {
      String rootHex = rootHashText(o, root);
      if (a.rootHashSignature != null) {
        throw new Failed(
            EINVAL,
            "Root hash signature verification is not supported: jdm has no kernel keyring"
                + " (root_hash_sig_key_desc).");
      }
      try (Loaded l = load(o, dataPath, hashPath)) {
        byte[] rootHash = rootHash(rootHex, l.fmt);
        table = table(o, a, l, dataPath, hashPath, HEX.formatHex(rootHash));
        uuid =
            "CRYPT-VERITY-"
                + (l.superblock ? l.fmt.uuid().toString().replace("-", "") : "")
                + "-"
                + name;
      }
    } catch (Failed f) {
      return failed(o, f);
    }
    Protocol.Response resp =
        app.send(
            Protocol.Request.of("create")
                .arg("name", name)
                .arg("uuid", uuid)
                .flag("readonly", true)
                .arg("table", table)
                .build());
    if (resp == null) {
      return finish(o, 1);
    }
    if (resp.ok()) {
      return finish(o, 0);
    }
    if (resp.errno().equals(Errno.EBUSY.name()) && resp.message().contains("already exists")) {
      app.err.println("Device " + name + " already exists.");
      return finish(o, 5);
    }
    app.failure("create", name, resp);
    return finish(o, 1);
  }

  /** The table line veritysetup's activation loads ({@code dm_verity_target_set}). */
  private static String table(
      Options o, OpenOptions a, Loaded l, String dataPath, String hashPath, String rootHex) {
    VerityFormat f = l.fmt;
    long blocks = f.dataBlocks(l.data);
    byte[] salt = f.salt();
    StringBuilder sb = new StringBuilder();
    sb.append("0 ")
        .append(blocks * f.dataBlockSize() / 512)
        .append(" verity ")
        .append(f.hashType())
        .append(' ')
        .append(absolute(dataPath))
        .append(' ')
        .append(absolute(hashPath))
        .append(' ')
        .append(f.dataBlockSize())
        .append(' ')
        .append(f.hashBlockSize())
        .append(' ')
        .append(blocks)
        .append(' ')
        .append(f.hashStart())
        .append(' ')
        .append(f.algorithm().toLowerCase(Locale.ROOT))
        .append(' ')
        .append(rootHex)
        .append(' ')
        .append(salt.length == 0 ? "-" : HEX.formatHex(salt));
    List<String> features = new ArrayList<>();
    if (a.ignoreCorruption) {
      features.add("ignore_corruption");
    }
    if (a.restartOnCorruption) {
      features.add("restart_on_corruption");
    }
    if (a.panicOnCorruption) {
      features.add("panic_on_corruption");
    }
    if (a.ignoreZeroBlocks) {
      features.add("ignore_zero_blocks");
    }
    if (a.checkAtMostOnce) {
      features.add("check_at_most_once");
    }
    if (a.useTasklets) {
      features.add("try_verify_in_tasklet");
    }
    if (l.fec != null) {
      boolean onHash = l.fec == l.hash;
      features.add("use_fec_from_device");
      features.add(absolute(o.fecDevice));
      features.add("fec_start");
      features.add(Long.toString(f.fecOffset() / f.dataBlockSize()));
      features.add("fec_blocks");
      features.add(Long.toString(f.fecBlocks(blocks, l.hash, onHash)));
      features.add("fec_roots");
      features.add(Integer.toString(f.fecRoots()));
    }
    if (!features.isEmpty()) {
      sb.append(' ').append(features.size()).append(' ').append(String.join(" ", features));
    }
    return sb.toString();
  }

  // ---------------------------------------------------------------------------------------------

  @Command(name = "close", description = "Removes a device made by verity open.")
  int close(
      @Option(
              names = {"-v", "--verbose"},
              description = "Print \"Command successful.\" or why it failed.")
          boolean verbose,
      @Option(names = "--deferred", description = "Remove it when its last user closes it.")
          boolean deferred,
      @Parameters(paramLabel = "NAME") String name)
      throws IOException {
    Options o = new Options();
    o.verbose = verbose;
    Protocol.Response resp =
        app.send(
            Protocol.Request.of("remove").arg("name", name).flag("deferred", deferred).build());
    if (resp == null) {
      return finish(o, 1);
    }
    if (resp.ok()) {
      return finish(o, 0);
    }
    if (resp.errno().equals(Errno.ENXIO.name()) && resp.message().endsWith(" does not exist")) {
      app.err.println("Device " + name + " is not active.");
      return finish(o, 4);
    }
    app.failure("remove", name, resp);
    return finish(o, 1);
  }

  // ---------------------------------------------------------------------------------------------
  // Shared steps

  /** The devices and parameters a verb works on: from the superblock, or the options. */
  private static final class Loaded implements AutoCloseable {
    VerityFormat fmt;
    boolean superblock;
    FileBlockDevice data;
    FileBlockDevice hash;
    FileBlockDevice fec; // == hash when the parity is on the hash device

    @Override
    public void close() throws Failed {
      try {
        for (FileBlockDevice d : new FileBlockDevice[] {data, hash, fec == hash ? null : fec}) {
          if (d != null) {
            d.close();
          }
        }
      } catch (IOException e) {
        throw new Failed(EIO, e.getMessage());
      }
    }
  }

  /**
   * veritysetup's {@code crypt_init_data_device} and {@code crypt_load}: opens the hash device
   * (then the data device, if given, then the FEC device) and reads the superblock, or takes the
   * parameters from the options with {@code --no-superblock}.
   */
  private static Loaded load(Options o, String dataPath, String hashPath) throws Failed {
    Loaded l = new Loaded();
    boolean done = false;
    try {
      l.hash = openExisting(hashPath, true);
      if (dataPath != null) {
        l.data = openExisting(dataPath, true);
      }
      if (o.fecDevice != null) {
        if (sameFile(o.fecDevice, hashPath)) {
          l.fec = l.hash;
        } else {
          try {
            l.fec = openExisting(o.fecDevice, true);
          } catch (Failed f) {
            if (o.noSuperblock) {
              throw f;
            }
            throw new Failed(f.errno, f.getMessage(), notVerity(hashPath));
          }
        }
      }
      if (o.noSuperblock) {
        l.fmt = build(options(o, false));
      } else {
        l.superblock = true;
        if (o.hashOffset % 512 != 0 || o.hashOffset < 0) {
          throw new Failed(EINVAL, "Unsupported VERITY hash offset.", notVerity(hashPath));
        }
        VeritySuperblock sb;
        try {
          sb = VerityFormat.readSuperblock(l.hash, o.hashOffset);
        } catch (IllegalArgumentException e) {
          String m = e.getMessage();
          throw m.equals(notVerity(hashPath))
              ? new Failed(EINVAL, m)
              : new Failed(EINVAL, m, notVerity(hashPath));
        } catch (IOException e) {
          throw new Failed(EIO, notVerity(hashPath));
        }
        l.fmt =
            build(
                VerityFormat.builder(sb, o.hashOffset).fecRoots(o.fecRoots).fecOffset(o.fecOffset));
      }
      done = true;
      return l;
    } finally {
      if (!done) {
        l.close();
      }
    }
  }

  private static String notVerity(String hashPath) {
    return "Device " + hashPath + " is not a valid VERITY device.";
  }

  /** The builder for the options ({@code _prepare_format}). */
  private static VerityFormat.Builder options(Options o, boolean superblock) throws Failed {
    VerityFormat.Builder b =
        VerityFormat.builder()
            .hashType(o.format)
            .algorithm(o.hash.toLowerCase(Locale.ROOT))
            .dataBlockSize(o.dataBlockSize)
            .hashBlockSize(o.hashBlockSize)
            .dataBlocks(o.dataBlocks)
            .hashOffset(o.hashOffset)
            .superblock(superblock);
    if (o.fecDevice != null) {
      b.fecRoots(o.fecRoots).fecOffset(o.fecOffset); // veritysetup ignores them without FEC
    }
    if (o.salt != null) {
      if (o.salt.equals("-")) {
        b.salt(new byte[0]);
      } else {
        try {
          if (o.salt.length() % 2 != 0) {
            throw new IllegalArgumentException("odd");
          }
          b.salt(HEX.parseHex(o.salt));
        } catch (IllegalArgumentException e) {
          throw new Failed(EINVAL, "Invalid salt string specified.");
        }
      }
    }
    return b;
  }

  private static VerityFormat build(VerityFormat.Builder b) throws Failed {
    try {
      return b.build();
    } catch (IllegalArgumentException e) {
      throw new Failed(EINVAL, e.getMessage());
    }
  }

  /** The root hash argument, else the first digits of {@code --root-hash-file}. */
  private static String rootHashText(Options o, String root) throws Failed {
    if (root != null) {
      return root;
    }
    if (o.rootHashFile == null) {
      throw new Failed(
          EINVAL, "Command requires <root_hash> or --root-hash-file option as argument.");
    }
    try {
      return Files.readString(Path.of(o.rootHashFile), StandardCharsets.US_ASCII).trim();
    } catch (IOException | UncheckedIOException e) {
      throw new Failed(EINVAL, "Cannot read root hash file " + o.rootHashFile + ".");
    }
  }

  private static byte[] rootHash(String hex, VerityFormat fmt) throws Failed {
    int size = fmt.geometry(1).digestSize();
    try {
      if (hex.length() != 2 * size) {
        throw new IllegalArgumentException("length");
      }
      return HEX.parseHex(hex);
    } catch (IllegalArgumentException e) {
      throw new Failed(EINVAL, "Invalid root hash string specified.");
    }
  }

  private static FileBlockDevice openExisting(String path, boolean readOnly) throws Failed {
    try {
      return FileBlockDevice.builder(Path.of(path)).readOnly(readOnly).open();
    } catch (IOException e) {
      throw new Failed(ENODEV, "Device " + path + " does not exist or access denied.");
    }
  }

  private static void createIfMissing(String path, String message) throws Failed {
    Path p = Path.of(path);
    if (Files.exists(p)) {
      return;
    }
    try {
      Files.createFile(p, PosixFilePermissions.asFileAttribute(OWNER_RW));
    } catch (IOException | UnsupportedOperationException e) {
      throw new Failed(EINVAL, message);
    }
  }

  private static boolean sameFile(String a, String b) {
    try {
      return Files.isSameFile(Path.of(a), Path.of(b));
    } catch (IOException e) {
      return false;
    }
  }

  /** The daemon resolves paths from its own folder: tables name absolute paths. */
  private static String absolute(String path) {
    return path.startsWith("/") ? path : Path.of(path).toAbsolutePath().toString();
  }
}
