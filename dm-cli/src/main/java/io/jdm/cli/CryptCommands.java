package io.jdm.cli;

import io.jdm.core.BlockDevice;
import io.jdm.core.Errno;
import io.jdm.core.FileBlockDevice;
import io.jdm.crypto.luks.Luks;
import io.jdm.crypto.luks.LuksDump;
import io.jdm.crypto.luks.LuksException;
import io.jdm.crypto.luks.LuksFormatOptions;
import io.jdm.crypto.luks.LuksPassphraseException;
import io.jdm.crypto.luks.LuksVolume;
import io.jdm.crypto.luks.Pbkdf;
import io.jdm.crypto.luks.PbkdfBenchmark;
import io.jdm.crypto.luks.PlainMode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * cryptsetup's verbs ({@code src/cryptsetup.c} of cryptsetup 2.6.1) with its options, messages and
 * exit codes, under {@code jdmsetup crypt VERB} and, except {@code status} (dmsetup's there), as
 * top-level commands.
 *
 * <ul>
 *   <li>The header verbs ({@code luksFormat}, {@code luksDump}, {@code luksAddKey}, {@code
 *       luksRemoveKey}, {@code luksChangeKey}, {@code luksKillSlot}, {@code isLuks}, {@code
 *       luksUUID}, {@code luksHeaderBackup}, {@code luksHeaderRestore}, {@code open
 *       --test-passphrase}) run here, on image files or block devices, through {@link Luks}: their
 *       passphrases never leave this process.
 *   <li>{@code open} asks the daemon to unlock and map ({@code luks_open}: the passphrase travels
 *       in hex over the owner-only control socket, and the daemon wipes what it decoded); {@code
 *       close} removes the mapping; {@code status} prints the daemon's {@code crypt_status}.
 * </ul>
 *
 * <p>Passphrases as cryptsetup reads them from a pipe: {@code --key-file FILE}'s whole content,
 * {@code --key-file -} all of stdin, else one line of stdin (two for the verbs that take an old and
 * a new one); every array holding one is wiped. There is no terminal prompt: questions cryptsetup
 * asks on a terminal are answered yes, as cryptsetup answers them when stdin is not a terminal.
 *
 * <p>Exit codes as cryptsetup's {@code translate_errno}: 0 success, 1 wrong parameters (or another
 * error), 2 no permission or bad passphrase, 3 out of memory, 4 wrong device, 5 device busy or
 * already there. {@code -v} prints {@code Command successful.} or {@code Command failed with code
 * -N (...).} on stdout.
 */
@Command(
    name = "crypt",
    description = {
      "cryptsetup's verbs: luksFormat, open, close, status, luksDump, luksAddKey, luksRemoveKey,"
          + " luksChangeKey, luksKillSlot, isLuks, luksUUID, luksHeaderBackup, luksHeaderRestore.",
      "Header verbs run here on files or block devices; open, close and status talk to the"
          + " daemon. All but status are also top-level commands."
    })
final class CryptCommands {
  static final int EXIT_PARAMS = 1;
  static final int EXIT_PERM = 2;
  static final int EXIT_DEVICE = 4;
  static final int EXIT_BUSY = 5;

  private final Jdmsetup app;

  CryptCommands(Jdmsetup app) {
    this.app = app;
  }

  /** The options every verb takes. */
  static final class Common {
    @Option(
        names = {"-v", "--verbose"},
        description = "Say what was done: \"Key slot 0 unlocked.\", \"Command successful.\".")
    boolean verbose;

    @Option(
        names = {"-q", "--batch-mode"},
        description = "Do not ask for confirmation.")
    boolean batch;
  }

  /** A refusal: cryptsetup's message (may be empty) and exit code. */
  static final class Failed extends Exception {
    private static final long serialVersionUID = 1L;
    final int exit;

    Failed(int exit, String message) {
      super(message, null, false, false);
      this.exit = exit;
    }
  }

  /** The body of one verb. */
  private interface Body {
    void run() throws IOException, Failed;
  }

  /** Runs {@code body}, maps what it throws to cryptsetup's messages and exit codes. */
  private int run(Common c, Body body) {
    int exit;
    try {
      body.run();
      exit = 0;
    } catch (Failed f) {
      if (!f.getMessage().isEmpty()) {
        app.err.println(f.getMessage());
      }
      exit = f.exit;
    } catch (LuksPassphraseException e) {
      app.err.println(e.getMessage());
      exit = EXIT_PERM;
    } catch (LuksException | IllegalArgumentException e) {
      app.err.println(e.getMessage());
      exit = EXIT_PARAMS;
    } catch (OutOfMemoryError e) {
      app.err.println("Not enough memory.");
      exit = 3;
    } catch (IOException e) {
      // not cryptsetup's: jdmsetup's own words (a daemon it will not talk to, an I/O error)
      app.err.println("jdmsetup: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
      exit = EXIT_PARAMS;
    }
    return finish(c, exit);
  }

  /** cryptsetup's {@code show_status}. */
  private int finish(Common c, int exit) {
    if (c.verbose) {
      if (exit == 0) {
        app.out.println("Command successful.");
      } else {
        String why =
            switch (exit) {
              case 1 -> "wrong or missing parameters";
              case 2 -> "no permission or bad passphrase";
              case 3 -> "out of memory";
              case 4 -> "wrong device or file specified";
              case 5 -> "device already exists or device is busy";
              default -> "unknown error";
            };
        app.out.println("Command failed with code -" + exit + " (" + why + ").");
      }
    }
    app.out.flush();
    return exit;
  }

  private void verbose(Common c, String line) {
    if (c.verbose) {
      app.out.println(line);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Devices and passphrases

  /** Opens a header device here ({@code crypt_init}), cryptsetup's text if it cannot. */
  private static FileBlockDevice device(String path, boolean write) throws Failed {
    Path p = Path.of(path);
    if (!Files.exists(p) || !Files.isReadable(p) || (write && !Files.isWritable(p))) {
      throw new Failed(EXIT_DEVICE, "Device " + path + " does not exist or access denied.");
    }
    try {
      return FileBlockDevice.builder(p).readOnly(!write).open();
    } catch (IOException | RuntimeException e) {
      throw new Failed(EXIT_DEVICE, "Device " + path + " does not exist or access denied.");
    }
  }

  /** {@code crypt_load}: the LUKS version, or cryptsetup's refusal. */
  private static int requireLuks(BlockDevice dev, String path, String type) throws Failed {
    int v;
    try {
      v = Luks.version(dev);
    } catch (IOException e) {
      v = 0;
    }
    int want = luksVersion(type);
    if (v == 0 || (want != 0 && v != want)) {
      throw new Failed(EXIT_PARAMS, "Device " + path + " is not a valid LUKS device.");
    }
    return v;
  }

  /** {@code --type}: 0 for luks (either), 1, 2; -1 for anything else. */
  private static int luksVersion(String type) {
    if (type == null || type.equals("luks")) {
      return 0;
    }
    return type.equals("luks1") ? 1 : type.equals("luks2") ? 2 : -1;
  }

  /**
   * A passphrase as {@code tools_get_key} reads it without a terminal: a key file's whole content
   * ({@code -}: all of stdin), else one line of stdin without its newline; {@code null} if stdin
   * ended before any byte (cryptsetup's {@code Nothing to read on input.}).
   */
  private byte[] readKeyOrNull(String keyFile) throws IOException, Failed {
    if (keyFile != null && !keyFile.equals("-")) {
      try {
        return Files.readAllBytes(Path.of(keyFile));
      } catch (IOException e) {
        throw new Failed(EXIT_PARAMS, "Failed to open key file.");
      }
    }
    if (keyFile != null) {
      byte[] all = app.stdin.readAllBytes();
      return all.length == 0 ? null : all;
    }
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    int c = app.stdin.read();
    if (c == -1) {
      return null;
    }
    for (; c != -1 && c != '\n'; c = app.stdin.read()) {
      line.write(c);
    }
    byte[] b = line.toByteArray();
    line.reset(); // the stream's own array is not reachable to wipe; keep it short-lived
    return b;
  }

  /** {@link #readKeyOrNull}, or cryptsetup's refusal when nothing came. */
  private byte[] readKey(String keyFile) throws IOException, Failed {
    byte[] b = readKeyOrNull(keyFile);
    if (b == null) {
      throw new Failed(EXIT_PARAMS, "Nothing to read on input.");
    }
    return b;
  }

  private static void wipe(byte[] b) {
    if (b != null) {
      Arrays.fill(b, (byte) 0);
    }
  }

  /** The PBKDF options of luksFormat, luksAddKey and luksChangeKey. */
  static final class KdfOptions {
    @Option(names = "--pbkdf", description = "argon2id, argon2i or pbkdf2.")
    String pbkdf;

    @Option(
        names = {"-i", "--pbkdf-force-iterations"},
        description = "PBKDF2 iterations, or the Argon2 time cost.")
    Long iterations;

    @Option(names = "--pbkdf-memory", description = "Argon2 memory in KiB.")
    Long memoryKiB;

    @Option(names = "--pbkdf-parallel", description = "Argon2 threads.")
    Integer parallel;

    boolean given() {
      return pbkdf != null || iterations != null || memoryKiB != null || parallel != null;
    }

    /**
     * The key derivation for a new keyslot: what is given, the rest from {@code base} (the keyslot
     * the passphrase opened); {@code null} when nothing is given (jdm then copies {@code base}; a
     * difference: cryptsetup benchmarks its default).
     */
    Pbkdf resolve(Pbkdf base, int version) {
      if (!given()) {
        return null;
      }
      String kind = pbkdf != null ? pbkdf : base != null ? base.type() : "pbkdf2";
      if (version == 1 && !kind.equals("pbkdf2")) {
        throw new IllegalArgumentException("LUKS1 keyslots use pbkdf2, not " + kind);
      }
      boolean sameKind = base != null && base.type().equals(kind);
      switch (kind) {
        case "pbkdf2":
          {
            String hash = base != null && base.hash() != null ? base.hash() : "sha256";
            long it = iterations != null ? iterations : sameKind ? base.iterations() : 1_000_000;
            return Pbkdf.pbkdf2(hash, it);
          }
        case "argon2id":
        case "argon2i":
          {
            long t =
                iterations != null
                    ? iterations
                    : sameKind ? base.iterations() : Pbkdf.ARGON2_MIN_TIME;
            long m = memoryKiB != null ? memoryKiB : sameKind ? base.memoryKiB() : 256 * 1024;
            int p = parallel != null ? parallel : sameKind ? base.parallel() : 4;
            return kind.equals("argon2id") ? Pbkdf.argon2id(t, m, p) : Pbkdf.argon2i(t, m, p);
          }
        default:
          throw new IllegalArgumentException(
              "unknown --pbkdf " + kind + " (argon2id, argon2i or pbkdf2)");
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // luksFormat

  @Command(
      name = "luksFormat",
      description = {
        "Formats DEVICE (a file or block device) as a LUKS container, as cryptsetup luksFormat.",
        "Runs here, not in the daemon. The passphrase is --key-file's whole content, else the"
            + " first line of stdin."
      })
  int luksFormat(
      @Option(
              names = {"-q", "--batch-mode"},
              description = "Confirm that DEVICE is overwritten (required).")
          boolean batch,
      @Option(names = "--type", defaultValue = "luks2", description = "luks1 or luks2.")
          String type,
      @Option(
              names = {"-c", "--cipher"},
              defaultValue = "aes-xts-plain64")
          String cipher,
      @Option(
              names = {"-s", "--key-size"},
              defaultValue = "512",
              description = "Volume key size in bits.")
          int keySize,
      @Option(names = "--hash", defaultValue = "sha256") String hash,
      @Option(names = "--pbkdf", description = "argon2id, argon2i or pbkdf2.") String pbkdf,
      @Option(
              names = {"-i", "--pbkdf-force-iterations"},
              description = "PBKDF2 iterations, or the Argon2 time cost.")
          Long iterations,
      @Option(names = "--pbkdf-memory", description = "Argon2 memory in KiB.") Long memoryKiB,
      @Option(names = "--pbkdf-parallel", description = "Argon2 threads.") Integer parallel,
      @Option(
              names = "--iter-time",
              paramLabel = "MS",
              description =
                  "Benchmark the PBKDF here and choose costs taking MS milliseconds, as"
                      + " cryptsetup does (--pbkdf-memory is then the memory bound). Without it"
                      + " and without explicit costs, jdm's fixed defaults.")
          Long iterTime,
      @Option(names = "--sector-size", defaultValue = "512") int sectorSize,
      @Option(names = "--uuid") String uuid,
      @Option(names = "--label") String label,
      @Option(
              names = {"-d", "--key-file"},
              paramLabel = "FILE")
          String keyFile,
      @Parameters(paramLabel = "DEVICE") Path device)
      throws IOException {
    if (!batch) {
      app.err.println(
          "jdmsetup: luksFormat overwrites "
              + device
              + " irrevocably; give --batch-mode (-q) to confirm.");
      return 1;
    }
    int version;
    if (type.equals("luks2")) {
      version = 2;
    } else if (type.equals("luks1")) {
      version = 1;
    } else {
      app.err.println("jdmsetup: unknown --type " + type + " (luks1 or luks2)");
      return 1;
    }
    LuksFormatOptions.Builder b =
        LuksFormatOptions.builder()
            .version(version)
            .cipher(cipher)
            .keySizeBits(keySize)
            .hash(hash)
            .sectorSize(sectorSize);
    if (iterTime != null && iterations == null) {
      String kind = pbkdf == null ? (version == 1 ? "pbkdf2" : "argon2id") : pbkdf;
      PbkdfBenchmark.Runner runner = PbkdfBenchmark.system();
      if (kind.equals("pbkdf2")) {
        b.pbkdf(PbkdfBenchmark.pbkdf2(hash, iterTime, runner));
      } else if (kind.equals("argon2id") || kind.equals("argon2i")) {
        int lanes =
            parallel != null
                ? parallel
                : Math.min(Pbkdf.ARGON2_MAX_PARALLEL, Runtime.getRuntime().availableProcessors());
        long max = memoryKiB != null ? memoryKiB : PbkdfBenchmark.DEFAULT_MAX_MEMORY_KIB;
        b.pbkdf(PbkdfBenchmark.argon2(kind.equals("argon2id"), iterTime, max, lanes, runner));
      } else {
        throw new IllegalArgumentException(
            "unknown --pbkdf " + kind + " (argon2id, argon2i or pbkdf2)");
      }
    } else if (pbkdf != null || iterations != null || memoryKiB != null || parallel != null) {
      b.pbkdf(
          pbkdf(
              pbkdf == null ? (version == 1 ? "pbkdf2" : "argon2id") : pbkdf,
              hash,
              iterations,
              memoryKiB,
              parallel));
    }
    if (uuid != null) {
      b.uuid(uuid);
    }
    if (label != null) {
      b.label(label);
    }
    LuksFormatOptions options = b.build();
    byte[] pass = passphrase(keyFile);
    try (FileBlockDevice dev = FileBlockDevice.open(device)) {
      Luks.format(dev, pass, options).close();
    } finally {
      Arrays.fill(pass, (byte) 0);
    }
    return 0;
  }

  private static Pbkdf pbkdf(
      String kind, String hash, Long iterations, Long memoryKiB, Integer parallel) {
    switch (kind) {
      case "pbkdf2":
        return Pbkdf.pbkdf2(hash, iterations == null ? 1_000_000 : iterations);
      case "argon2id":
      case "argon2i":
        long t = iterations == null ? Pbkdf.ARGON2_MIN_TIME : iterations;
        long m = memoryKiB == null ? 256 * 1024 : memoryKiB;
        int p = parallel == null ? 4 : parallel;
        return kind.equals("argon2id") ? Pbkdf.argon2id(t, m, p) : Pbkdf.argon2i(t, m, p);
      default:
        throw new IllegalArgumentException(
            "unknown --pbkdf " + kind + " (argon2id, argon2i or pbkdf2)");
    }
  }

  /** luksFormat's passphrase: the key file's whole content ({@code -}: stdin's), else a line. */
  private byte[] passphrase(String keyFile) throws IOException {
    if (keyFile != null) {
      return keyFile.equals("-") ? app.stdin.readAllBytes() : Files.readAllBytes(Path.of(keyFile));
    }
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    for (int c = app.stdin.read(); c != -1 && c != '\n'; c = app.stdin.read()) {
      line.write(c);
    }
    return line.toByteArray();
  }

  // ---------------------------------------------------------------------------------------------
  // open, close, status

  @Command(
      name = "open",
      aliases = "luksOpen",
      description = {
        "Unlocks DEVICE and creates NAME over it, as cryptsetup open: --type luks (luks1, luks2)"
            + " or plain. With --test-passphrase (LUKS), only checks the passphrase, here.",
        "The passphrase is --key-file's whole content (any bytes), else the first line of stdin;"
            + " it travels to the daemon, in hex, over the control socket."
      })
  int open(
      @Mixin Common c,
      @Option(
              names = {"-M", "--type"},
              defaultValue = "luks",
              description = "luks, luks1, luks2 or plain.")
          String type,
      @Option(
              names = {"-d", "--key-file"},
              paramLabel = "FILE")
          String keyFile,
      @Option(
              names = {"-S", "--key-slot"},
              paramLabel = "N",
              description = "LUKS: try only this keyslot.")
          Integer keySlot,
      @Option(
              names = {"-r", "--readonly"},
              description = "Map read-only.")
          boolean readOnly,
      @Option(names = "--allow-discards", description = "Pass discards down.")
          boolean allowDiscards,
      @Option(names = "--test-passphrase", description = "LUKS: check the passphrase, map nothing.")
          boolean testPassphrase,
      @Option(
              names = {"-c", "--cipher"},
              description = "plain: the cipher (default " + PlainMode.DEFAULT_CIPHER + ").")
          String cipher,
      @Option(
              names = {"-s", "--key-size"},
              paramLabel = "BITS",
              description = "plain: the key size (default 256).")
          Integer keySize,
      @Option(
              names = "--hash",
              description = "plain: the passphrase hash (default ripemd160; none with a key file).")
          String hash,
      @Option(
              names = {"-o", "--offset"},
              paramLabel = "SECTORS",
              description = "plain: where the data starts.")
          Long offset,
      @Option(
              names = {"-p", "--skip"},
              paramLabel = "SECTORS",
              description = "plain: the IV offset.")
          Long skip,
      @Option(
              names = {"-b", "--size"},
              paramLabel = "SECTORS",
              description = "plain: how much to map.")
          Long size,
      @Option(names = "--sector-size", paramLabel = "BYTES", description = "plain: 512 to 4096.")
          Integer sectorSize,
      @Parameters(index = "0", paramLabel = "DEVICE") String device,
      @Parameters(index = "1", arity = "0..1", paramLabel = "NAME") String name) {
    return run(
        c,
        () -> {
          boolean plain = type.equals("plain");
          int version = luksVersion(type);
          if (!plain && version < 0) {
            throw new Failed(
                EXIT_PARAMS,
                (type.equals("loopaes")
                        || type.equals("tcrypt")
                        || type.equals("bitlk")
                        || type.equals("fvault2"))
                    ? "jdmsetup: open --type "
                        + type
                        + " is not supported (luks, luks1, luks2, plain)"
                    : "Unrecognized metadata device type " + type + ".");
          }
          if (!plain && (offset != null || skip != null)) {
            throw new Failed(
                EXIT_PARAMS,
                offset != null
                    ? "jdmsetup: Option --offset with open action is only supported for plain and loopaes"
                        + " devices."
                    : "jdmsetup: Option --skip is supported only for open of plain and loopaes devices.");
          }
          if (!plain && sectorSize != null) {
            throw new Failed(
                EXIT_PARAMS,
                "jdmsetup: Sector size option with open action is supported only for plain devices.");
          }
          if (plain && testPassphrase) {
            throw new Failed(
                EXIT_PARAMS,
                "jdmsetup: Option --test-passphrase is allowed only for open of LUKS, TCRYPT, BITLK and"
                    + " FVAULT2 devices.");
          }
          if (keySlot != null && keySlot < 0) {
            throw new Failed(EXIT_PARAMS, "Key slot is invalid.");
          }
          if (name == null && !testPassphrase) {
            throw new Failed(EXIT_PARAMS, "Command requires device and mapped name as arguments.");
          }
          if (testPassphrase) {
            testPassphrase(c, device, type, keyFile, keySlot == null ? -1 : keySlot);
            return;
          }
          // the daemon resolves paths from its own folder: send an absolute one
          String path =
              device.startsWith("/") || !Files.exists(Path.of(device))
                  ? device
                  : Path.of(device).toAbsolutePath().toString();
          Protocol.Request.Builder b =
              Protocol.Request.of("luks_open")
                  .arg("name", name)
                  .arg("device", path)
                  .flag("readonly", readOnly)
                  .flag("allow_discards", allowDiscards);
          if (plain) {
            boolean fromFile = keyFile != null && !keyFile.equals("-");
            if (fromFile && hash != null && !c.batch) {
              app.out.println(
                  "WARNING: The --hash parameter is being ignored in plain mode with keyfile"
                      + " specified.");
            }
            b.arg("type", "plain")
                .arg("cipher", cipher == null ? PlainMode.DEFAULT_CIPHER : cipher)
                .arg(
                    "key_size",
                    Integer.toString(keySize == null ? PlainMode.DEFAULT_KEY_BITS : keySize))
                .arg("hash", fromFile ? "plain" : hash == null ? PlainMode.DEFAULT_HASH : hash)
                .arg("offset", offset == null ? null : Long.toString(offset))
                .arg("skip", skip == null ? null : Long.toString(skip))
                .arg("size", size == null ? null : Long.toString(size))
                .arg("sector_size", sectorSize == null ? null : Integer.toString(sectorSize));
          } else {
            b.arg("type", type).arg("key_slot", keySlot == null ? null : keySlot.toString());
          }
          byte[] pass = readKey(keyFile);
          Protocol.Request r;
          try {
            r = b.arg("passphrase", HexFormat.of().formatHex(pass)).build();
          } finally {
            wipe(pass);
          }
          Protocol.Response resp = app.send(r);
          if (resp == null) {
            throw new Failed(EXIT_PARAMS, "");
          }
          if (!resp.ok()) {
            throw openFailure(resp, name, device);
          }
        });
  }

  /** cryptsetup's answer to a refused activation. */
  private static Failed openFailure(Protocol.Response resp, String name, String device) {
    String errno = resp.errno();
    if (errno.equals(Errno.EPERM.name())) {
      return new Failed(EXIT_PERM, resp.message()); // No key available with this passphrase.
    }
    if (errno.equals(Errno.EBUSY.name())) {
      return new Failed(EXIT_BUSY, "Device " + name + " already exists.");
    }
    if (errno.equals(Errno.ENOENT.name())) {
      return new Failed(EXIT_DEVICE, "Device " + device + " does not exist or access denied.");
    }
    if (resp.message().contains("is not a LUKS device")
        || resp.message().endsWith("is not a valid LUKS device.")) {
      return new Failed(EXIT_PARAMS, "Device " + device + " is not a valid LUKS device.");
    }
    return new Failed(EXIT_PARAMS, resp.message());
  }

  /** {@code open --test-passphrase}: unlocks here, maps nothing. */
  private void testPassphrase(Common c, String device, String type, String keyFile, int keySlot)
      throws IOException, Failed {
    try (FileBlockDevice dev = device(device, false)) {
      int v = requireLuks(dev, device, type);
      if (v == 2) {
        verbose(c, "No usable token is available."); // cryptsetup tries tokens first
      }
      byte[] pass = readKey(keyFile);
      try (LuksVolume vol = Luks.open(dev, pass, keySlot)) {
        verbose(c, "Key slot " + vol.keyslot() + " unlocked.");
      } finally {
        wipe(pass);
      }
    }
  }

  @Command(
      name = "close",
      aliases = "luksClose",
      description = "Removes a mapping made by open, as cryptsetup close.")
  int close(@Mixin Common c, @Parameters(paramLabel = "NAME") String name) {
    return run(
        c,
        () -> {
          Protocol.Response resp =
              app.send(Protocol.Request.of("remove").arg("name", name).build());
          if (resp == null) {
            throw new Failed(EXIT_PARAMS, "");
          }
          if (resp.ok()) {
            return;
          }
          if (resp.errno().equals(Errno.ENXIO.name())) {
            throw new Failed(EXIT_DEVICE, "Device " + name + " is not active.");
          }
          if (resp.errno().equals(Errno.EBUSY.name())) {
            throw new Failed(EXIT_BUSY, "Device " + name + " is still in use.");
          }
          throw new Failed(EXIT_PARAMS, resp.message());
        });
  }

  @Command(
      name = "status",
      description = "Prints cryptsetup's status of the mapping NAME (from the daemon).")
  int status(@Mixin Common c, @Parameters(paramLabel = "NAME") String name) {
    return run(
        c,
        () -> {
          Protocol.Response resp =
              app.send(Protocol.Request.of("crypt_status").arg("name", name).build());
          if (resp == null) {
            throw new Failed(EXIT_PARAMS, "");
          }
          if (!resp.ok()) {
            if (resp.errno().equals(Errno.ENODEV.name())) {
              app.out.println(resp.message()); // "/dev/mapper/NAME is inactive." on stdout
              throw new Failed(EXIT_DEVICE, "");
            }
            throw new Failed(EXIT_PARAMS, resp.message());
          }
          app.out.print(resp.body());
        });
  }

  // ---------------------------------------------------------------------------------------------
  // Header verbs, here

  @Command(name = "luksDump", description = "Prints the LUKS header as cryptsetup luksDump.")
  int luksDump(
      @Mixin Common c,
      @Option(names = "--type", description = "luks, luks1 or luks2.") String type,
      @Option(
              names = "--dump-volume-key",
              description = "Print the volume key (needs the passphrase).")
          boolean dumpVolumeKey,
      @Option(
              names = {"-d", "--key-file"},
              paramLabel = "FILE")
          String keyFile,
      @Parameters(paramLabel = "DEVICE") String device) {
    return run(
        c,
        () -> {
          try (FileBlockDevice dev = device(device, false)) {
            requireLuks(dev, device, type);
            if (!dumpVolumeKey) {
              app.out.print(LuksDump.dump(dev, device));
              return;
            }
            byte[] pass = readKey(keyFile);
            try (LuksVolume v = Luks.open(dev, pass)) {
              verbose(c, "Key slot " + v.keyslot() + " unlocked.");
              String cipher = v.cipher();
              int dash = cipher.indexOf('-');
              StringBuilder sb = new StringBuilder();
              sb.append("LUKS header information for ").append(device).append('\n');
              sb.append("Cipher name:   \t")
                  .append(dash < 0 ? cipher : cipher.substring(0, dash))
                  .append('\n');
              sb.append("Cipher mode:   \t")
                  .append(dash < 0 ? "" : cipher.substring(dash + 1))
                  .append('\n');
              sb.append("Payload offset:\t").append(v.offsetSectors()).append('\n');
              sb.append("UUID:          \t").append(v.uuid()).append('\n');
              sb.append("MK bits:       \t").append(v.keySize() * 8).append('\n');
              sb.append("MK dump:\t");
              byte[] vk = v.volumeKey();
              try {
                for (int i = 0; i < vk.length; i++) {
                  if (i > 0 && i % 16 == 0) {
                    sb.append("\n\t\t");
                  }
                  sb.append(String.format(Locale.ROOT, "%02x ", vk[i] & 0xFF));
                }
              } finally {
                wipe(vk);
              }
              app.out.print(sb.append('\n'));
            } finally {
              wipe(pass);
            }
          }
        });
  }

  @Command(
      name = "luksAddKey",
      description = {
        "Adds a keyslot, as cryptsetup luksAddKey: the existing passphrase from --key-file or"
            + " stdin's first line, the new one from NEW_KEY_FILE or the next line.",
        "Without PBKDF options the new keyslot gets the key derivation of the one that opened"
            + " (cryptsetup benchmarks its default instead)."
      })
  int luksAddKey(
      @Mixin Common c,
      @Mixin KdfOptions kdf,
      @Option(
              names = {"-d", "--key-file"},
              paramLabel = "FILE")
          String keyFile,
      @Option(
              names = {"-S", "--key-slot"},
              paramLabel = "N",
              description = "The new keyslot (without --new-key-slot), else the one to open.")
          Integer keySlot,
      @Option(names = "--new-key-slot", paramLabel = "N") Integer newKeySlot,
      @Option(names = "--new-keyfile", paramLabel = "FILE") String newKeyFileOption,
      @Parameters(index = "0", paramLabel = "DEVICE") String device,
      @Parameters(index = "1", arity = "0..1", paramLabel = "NEW_KEY_FILE") String newKeyFile) {
    return run(
        c,
        () -> {
          int oldSlot = -1;
          int newSlot = newKeySlot == null ? -1 : newKeySlot;
          if (keySlot != null && newKeySlot == null) {
            if (!c.batch) {
              app.out.println("WARNING: The --key-slot parameter is used for new keyslot number.");
            }
            newSlot = keySlot;
          } else if (keySlot != null) {
            oldSlot = keySlot;
          }
          String newFile = newKeyFile != null ? newKeyFile : newKeyFileOption;
          try (FileBlockDevice dev = device(device, true)) {
            int v = requireLuks(dev, device, null);
            byte[] pass = readKey(keyFile);
            byte[] newPass = null;
            try {
              int opened;
              try (LuksVolume vol = Luks.open(dev, pass, oldSlot)) {
                opened = vol.keyslot();
              }
              verbose(c, "Key slot " + opened + " unlocked.");
              newPass =
                  newFile != null && newFile.equals(keyFile) ? pass.clone() : readKey(newFile);
              Pbkdf p = kdf.resolve(Luks.keyslotPbkdf(dev, opened), v);
              int created = Luks.addKeyslot(dev, pass, opened, newPass, newSlot, p);
              verbose(c, "Key slot " + created + " created.");
            } finally {
              wipe(pass);
              wipe(newPass);
            }
          }
        });
  }

  @Command(
      name = "luksRemoveKey",
      description =
          "Removes the keyslot the passphrase (KEY_FILE, --key-file or stdin's first line) opens.")
  int luksRemoveKey(
      @Mixin Common c,
      @Option(
              names = {"-d", "--key-file"},
              paramLabel = "FILE")
          String keyFileOption,
      @Parameters(index = "0", paramLabel = "DEVICE") String device,
      @Parameters(index = "1", arity = "0..1", paramLabel = "KEY_FILE") String keyFile) {
    return run(
        c,
        () -> {
          try (FileBlockDevice dev = device(device, true)) {
            requireLuks(dev, device, null);
            byte[] pass = readKey(keyFile != null ? keyFile : keyFileOption);
            int slot;
            try (LuksVolume vol = Luks.open(dev, pass)) {
              slot = vol.keyslot();
            } finally {
              wipe(pass);
            }
            verbose(c, "Key slot " + slot + " unlocked.");
            verbose(c, "Keyslot " + slot + " is selected for deletion.");
            Luks.removeKeyslot(dev, slot);
            verbose(c, "Key slot " + slot + " removed.");
          }
        });
  }

  @Command(
      name = "luksChangeKey",
      description =
          "Changes a passphrase: the old one from --key-file or stdin's first line, the new one"
              + " from NEW_KEY_FILE or the next line; --key-slot limits which keyslot.")
  int luksChangeKey(
      @Mixin Common c,
      @Mixin KdfOptions kdf,
      @Option(
              names = {"-d", "--key-file"},
              paramLabel = "FILE")
          String keyFile,
      @Option(
              names = {"-S", "--key-slot"},
              paramLabel = "N")
          Integer keySlot,
      @Parameters(index = "0", paramLabel = "DEVICE") String device,
      @Parameters(index = "1", arity = "0..1", paramLabel = "NEW_KEY_FILE") String newKeyFile) {
    return run(
        c,
        () -> {
          int slot = keySlot == null ? -1 : keySlot;
          try (FileBlockDevice dev = device(device, true)) {
            int v = requireLuks(dev, device, null);
            byte[] pass = readKey(keyFile);
            byte[] newPass = null;
            try {
              int opened;
              try (LuksVolume vol = Luks.open(dev, pass, slot)) {
                opened = vol.keyslot();
              }
              verbose(c, "Key slot " + opened + " unlocked.");
              newPass = readKey(newKeyFile);
              Pbkdf p = kdf.resolve(Luks.keyslotPbkdf(dev, opened), v);
              int changed = Luks.changePassphrase(dev, pass, slot, newPass, p);
              verbose(c, "Key slot " + changed + " created.");
            } finally {
              wipe(pass);
              wipe(newPass);
            }
          }
        });
  }

  @Command(
      name = "luksKillSlot",
      description = {
        "Wipes keyslot SLOT, as cryptsetup luksKillSlot.",
        "A passphrase of another keyslot (of SLOT if it is the last) from --key-file or stdin's"
            + " first line must open; with nothing on stdin, none is asked for."
      })
  int luksKillSlot(
      @Mixin Common c,
      @Option(
              names = {"-d", "--key-file"},
              paramLabel = "FILE")
          String keyFile,
      @Parameters(index = "0", paramLabel = "DEVICE") String device,
      @Parameters(index = "1", paramLabel = "SLOT") int slot) {
    return run(
        c,
        () -> {
          try (FileBlockDevice dev = device(device, true)) {
            requireLuks(dev, device, null);
            Luks.KeyslotState state = Luks.keyslotState(dev, slot);
            switch (state) {
              case INVALID -> throw new Failed(EXIT_PARAMS, "");
              case INACTIVE -> throw new Failed(EXIT_PARAMS, "Keyslot " + slot + " is not active.");
              default -> verbose(c, "Keyslot " + slot + " is selected for deletion.");
            }
            // stdin is never a terminal here, so cryptsetup would verify whatever --batch-mode says
            byte[] pass = readKeyOrNull(keyFile);
            if (pass == null && (keyFile == null || keyFile.equals("-"))) {
              // cryptsetup complains, then ignores it ("Failed read from input, ignoring ...")
              app.err.println("Nothing to read on input.");
            } else if (pass == null) {
              pass = new byte[0]; // an empty key file
            }
            if (pass != null) {
              try {
                int unlocked = verifyOther(dev, pass, slot, state);
                verbose(c, "Key slot " + unlocked + " unlocked.");
              } finally {
                wipe(pass);
              }
            }
            Luks.removeKeyslot(dev, slot);
            verbose(c, "Key slot " + slot + " removed.");
          }
        });
  }

  /** cryptsetup's {@code verify_keyslot}: the last keyslot itself, else any other one. */
  private static int verifyOther(BlockDevice dev, byte[] pass, int slot, Luks.KeyslotState state)
      throws IOException, Failed {
    if (state == Luks.KeyslotState.ACTIVE_LAST) {
      try (LuksVolume v = Luks.open(dev, pass, slot)) {
        return v.keyslot();
      }
    }
    int max = Luks.keyslotMax(dev);
    for (int i = 0; i < max; i++) {
      Luks.KeyslotState s = i == slot ? Luks.KeyslotState.INACTIVE : Luks.keyslotState(dev, i);
      if (s != Luks.KeyslotState.ACTIVE && s != Luks.KeyslotState.ACTIVE_LAST) {
        continue;
      }
      try (LuksVolume v = Luks.open(dev, pass, i)) {
        return v.keyslot();
      } catch (LuksPassphraseException wrong) {
        // the next one
      }
    }
    throw new Failed(EXIT_PERM, LuksPassphraseException.MESSAGE);
  }

  @Command(
      name = "isLuks",
      description = "Exits 0 if DEVICE holds a LUKS header (of --type luks1/luks2), else 1.")
  int isLuks(
      @Mixin Common c,
      @Option(names = "--type", description = "luks, luks1 or luks2.") String type,
      @Parameters(paramLabel = "DEVICE") String device) {
    return run(
        c,
        () -> {
          try (FileBlockDevice dev = device(device, false)) {
            try {
              requireLuks(dev, device, type);
            } catch (Failed f) {
              throw new Failed(f.exit, ""); // quiet, as cryptsetup's isLuks
            }
          }
        });
  }

  @Command(name = "luksUUID", description = "Prints the container's UUID, or sets it with --uuid.")
  int luksUuid(
      @Mixin Common c,
      @Option(names = "--uuid", paramLabel = "UUID") String uuid,
      @Parameters(paramLabel = "DEVICE") String device) {
    return run(
        c,
        () -> {
          try (FileBlockDevice dev = device(device, uuid != null)) {
            try {
              requireLuks(dev, device, null);
            } catch (Failed f) {
              throw new Failed(f.exit, ""); // crypt_load's failure is silent here
            }
            if (uuid == null) {
              app.out.println(Luks.uuid(dev));
            } else {
              Luks.setUuid(dev, uuid);
            }
          }
        });
  }

  @Command(
      name = "luksHeaderBackup",
      description = "Copies the LUKS header and keyslot areas into a new file.")
  int luksHeaderBackup(
      @Mixin Common c,
      @Option(names = "--header-backup-file", paramLabel = "FILE") Path backup,
      @Parameters(paramLabel = "DEVICE") String device) {
    return run(
        c,
        () -> {
          if (backup == null) {
            throw new Failed(EXIT_PARAMS, "Option --header-backup-file is required.");
          }
          try (FileBlockDevice dev = device(device, false)) {
            requireLuks(dev, device, null);
            Luks.backupHeader(dev, backup);
          }
        });
  }

  @Command(
      name = "luksHeaderRestore",
      description = "Writes a header backup over DEVICE, after cryptsetup's checks.")
  int luksHeaderRestore(
      @Mixin Common c,
      @Option(names = "--header-backup-file", paramLabel = "FILE") Path backup,
      @Parameters(paramLabel = "DEVICE") String device) {
    return run(
        c,
        () -> {
          if (backup == null) {
            throw new Failed(EXIT_PARAMS, "Option --header-backup-file is required.");
          }
          try (FileBlockDevice dev = device(device, true)) {
            // no terminal: cryptsetup's question is answered yes, as cryptsetup does then
            if (!Luks.restoreHeader(dev, device, backup, question -> true)) {
              throw new Failed(EXIT_PARAMS, "");
            }
          }
        });
  }
}
