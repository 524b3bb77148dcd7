package io.jdm.crypto.luks;

import java.security.SecureRandom;
import java.util.Objects;
import java.util.UUID;

/**
 * How {@link Luks#format} lays out a new container. Immutable; built with {@link #builder()}.
 *
 * <p>Defaults follow cryptsetup 2.6 where it has a fixed default: LUKS2, {@code aes-xts-plain64}, a
 * 512-bit key, {@code sha256}, 512-byte sectors, a 16 KiB metadata area per header copy, data at 16
 * MiB. cryptsetup benchmarks the PBKDF; jdm does not, and uses fixed costs instead: Argon2id with
 * time 4, 256 MiB and 4 threads for LUKS2, PBKDF2-SHA256 with 1,000,000 iterations for LUKS1. Set
 * {@link Builder#pbkdf} for other costs (tests use tiny ones).
 *
 * <p>LUKS2 layout as {@code luksFormat}: with neither {@link Builder#dataOffset} nor {@link
 * Builder#keyslotsSize}, data at 16 MiB and the keyslots area filling the space between the two
 * header copies and the data; with only a data offset, the keyslots area fills that gap up to
 * cryptsetup's limit of 128 MiB; with only a keyslots size, data at the next 1 MiB boundary after
 * it. LUKS1: keyslots 4 KiB-aligned from sector 8, data at the next 1 MiB boundary unless a data
 * offset is given.
 */
public final class LuksFormatOptions {
  /** cryptsetup's default LUKS2 data offset: 16 MiB. */
  public static final long DEFAULT_DATA_OFFSET = 16L << 20;

  /** cryptsetup's default LUKS2 metadata (header copy) size: 16 KiB. */
  public static final int DEFAULT_METADATA_SIZE = 16 << 10;

  private final int version;
  private final String cipher;
  private final int keySizeBits;
  private final String hash;
  private final Pbkdf pbkdf;
  private final int sectorSize;
  private final String uuid;
  private final String label;
  private final String subsystem;
  private final int metadataSize;
  private final long keyslotsSize;
  private final long dataOffset;
  private final int digestIterations;
  private final byte[] volumeKey;
  private final SecureRandom random;

  private LuksFormatOptions(Builder b) {
    this.version = b.version;
    this.cipher = b.cipher;
    this.keySizeBits = b.volumeKey != null ? b.volumeKey.length * 8 : b.keySizeBits;
    this.hash = b.hash;
    this.pbkdf =
        b.pbkdf != null
            ? b.pbkdf
            : version == 2 ? Pbkdf.argon2id(4, 256 * 1024, 4) : Pbkdf.pbkdf2(b.hash, 1_000_000);
    this.sectorSize = b.sectorSize;
    this.uuid = b.uuid != null ? b.uuid : UUID.randomUUID().toString();
    this.label = b.label;
    this.subsystem = b.subsystem;
    this.metadataSize = b.metadataSize;
    this.keyslotsSize = b.keyslotsSize;
    this.dataOffset = b.dataOffset;
    this.digestIterations = b.digestIterations;
    this.volumeKey = b.volumeKey == null ? null : b.volumeKey.clone();
    this.random = b.random != null ? b.random : new SecureRandom();
    check();
  }

  private void check() {
    if (version != 1 && version != 2) {
      throw new IllegalArgumentException("LUKS version " + version + " (expected: 1 or 2)");
    }
    if (keySizeBits <= 0 || keySizeBits % 8 != 0 || keySizeBits > 4096) {
      throw new IllegalArgumentException(
          "key size " + keySizeBits + " bits (expected: a multiple of 8, 8 to 4096)");
    }
    Hashes.require(hash);
    pbkdf.checkForNewKeyslot();
    if (version == 1) {
      if (pbkdf.isArgon2()) {
        throw new IllegalArgumentException("LUKS1 keyslots use pbkdf2 only, not " + pbkdf.type());
      }
      if (!pbkdf.hash().equalsIgnoreCase(hash)) {
        throw new IllegalArgumentException(
            "LUKS1 has one hash for the keyslots and the digest: pbkdf hash "
                + pbkdf.hash()
                + " differs from "
                + hash);
      }
      if (sectorSize != 512) {
        throw new IllegalArgumentException(
            "sector size " + sectorSize + " (expected: 512, LUKS1 has no sector size)");
      }
      if (label != null || subsystem != null) {
        throw new IllegalArgumentException("LUKS1 has no label or subsystem");
      }
    }
    if (sectorSize < 512 || sectorSize > 4096 || Integer.bitCount(sectorSize) != 1) {
      throw new IllegalArgumentException(
          "sector size " + sectorSize + " (expected: 512, 1024, 2048 or 4096)");
    }
    if (!uuid.matches(
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")) {
      throw new IllegalArgumentException("uuid " + uuid + " (expected: 8-4-4-4-12 hex digits)");
    }
    checkLabel("label", label);
    checkLabel("subsystem", subsystem);
    if (!Luks2.validHdrSize(metadataSize)) {
      throw new IllegalArgumentException(
          "metadata size "
              + metadataSize
              + " (expected: 16, 32, 64, 128, 256, 512, 1024, 2048 or 4096 KiB)");
    }
    if (keyslotsSize != -1
        && (keyslotsSize <= 0
            || keyslotsSize % 4096 != 0
            || keyslotsSize > Luks2.MAX_KEYSLOTS_SIZE)) {
      throw new IllegalArgumentException(
          "keyslots size "
              + keyslotsSize
              + " (expected: a positive multiple of 4096, at most 128 MiB as cryptsetup)");
    }
    if (dataOffset != -1 && (dataOffset < 0 || dataOffset % 512 != 0)) {
      throw new IllegalArgumentException(
          "data offset " + dataOffset + " (expected: a non-negative multiple of 512)");
    }
    if (digestIterations < Pbkdf.PBKDF2_MIN_ITERATIONS) {
      throw new IllegalArgumentException(
          "digest iterations "
              + digestIterations
              + " (expected: >= "
              + Pbkdf.PBKDF2_MIN_ITERATIONS
              + ")");
    }
    if (volumeKey != null) {
      CipherCheck.check(cipher, volumeKey.length);
    } else {
      CipherCheck.check(cipher, keySizeBits / 8);
    }
  }

  private static void checkLabel(String what, String s) {
    if (s != null && s.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 47) {
      throw new IllegalArgumentException(what + " \"" + s + "\" is longer than 47 bytes");
    }
  }

  /** New options, all defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** 1 or 2. */
  public int version() {
    return version;
  }

  /** The data (and keyslot) cipher. */
  public String cipher() {
    return cipher;
  }

  /** The volume key size in bits. */
  public int keySizeBits() {
    return keySizeBits;
  }

  /** The AF and digest hash (LUKS1: also the PBKDF2 hash). */
  public String hash() {
    return hash;
  }

  /** The first keyslot's key derivation. */
  public Pbkdf pbkdf() {
    return pbkdf;
  }

  /** The encryption sector size (LUKS2). */
  public int sectorSize() {
    return sectorSize;
  }

  public String uuid() {
    return uuid;
  }

  /** The LUKS2 label, or {@code null}. */
  public String label() {
    return label;
  }

  /** The LUKS2 subsystem, or {@code null}. */
  public String subsystem() {
    return subsystem;
  }

  /** Bytes per LUKS2 header copy (binary header and JSON area). */
  public int metadataSize() {
    return metadataSize;
  }

  /** The LUKS2 keyslots area size in bytes, or -1 for the default. */
  public long keyslotsSize() {
    return keyslotsSize;
  }

  /** The data offset in bytes, or -1 for the default. */
  public long dataOffset() {
    return dataOffset;
  }

  /** PBKDF2 iterations of the volume key digest. */
  public int digestIterations() {
    return digestIterations;
  }

  /** A copy of the given volume key, or {@code null} for a random one. */
  byte[] volumeKey() {
    return volumeKey == null ? null : volumeKey.clone();
  }

  SecureRandom random() {
    return random;
  }

  /** Builds {@link LuksFormatOptions}. */
  public static final class Builder {
    private int version = 2;
    private String cipher = "aes-xts-plain64";
    private int keySizeBits = 512;
    private String hash = "sha256";
    private Pbkdf pbkdf;
    private int sectorSize = 512;
    private String uuid;
    private String label;
    private String subsystem;
    private int metadataSize = DEFAULT_METADATA_SIZE;
    private long keyslotsSize = -1;
    private long dataOffset = -1;
    private int digestIterations = Pbkdf.PBKDF2_MIN_ITERATIONS;
    private byte[] volumeKey;
    private SecureRandom random;

    private Builder() {}

    /** LUKS version, 1 or 2 (default 2). */
    public Builder version(int version) {
      this.version = version;
      return this;
    }

    /** Cipher specification (default {@code aes-xts-plain64}). */
    public Builder cipher(String cipher) {
      this.cipher = Objects.requireNonNull(cipher, "cipher");
      return this;
    }

    /** Volume key size in bits (default 512). */
    public Builder keySizeBits(int bits) {
      this.keySizeBits = bits;
      return this;
    }

    /** AF and digest hash (default {@code sha256}). */
    public Builder hash(String hash) {
      this.hash = Objects.requireNonNull(hash, "hash");
      return this;
    }

    /** The first keyslot's key derivation and costs. */
    public Builder pbkdf(Pbkdf pbkdf) {
      this.pbkdf = Objects.requireNonNull(pbkdf, "pbkdf");
      return this;
    }

    /** Encryption sector size, 512 to 4096 (LUKS2 only; default 512). */
    public Builder sectorSize(int bytes) {
      this.sectorSize = bytes;
      return this;
    }

    /** The UUID (default random). */
    public Builder uuid(String uuid) {
      this.uuid = Objects.requireNonNull(uuid, "uuid");
      return this;
    }

    /** The LUKS2 label, at most 47 bytes. */
    public Builder label(String label) {
      this.label = label;
      return this;
    }

    /** The LUKS2 subsystem, at most 47 bytes. */
    public Builder subsystem(String subsystem) {
      this.subsystem = subsystem;
      return this;
    }

    /** Bytes per LUKS2 header copy, 16 KiB to 4 MiB ({@code --luks2-metadata-size}). */
    public Builder metadataSize(int bytes) {
      this.metadataSize = bytes;
      return this;
    }

    /** The LUKS2 keyslots area size in bytes ({@code --luks2-keyslots-size}). */
    public Builder keyslotsSize(long bytes) {
      this.keyslotsSize = bytes;
      return this;
    }

    /** Where the data starts, in bytes ({@code --offset} times 512). */
    public Builder dataOffset(long bytes) {
      this.dataOffset = bytes;
      return this;
    }

    /** PBKDF2 iterations of the volume key digest (default and minimum 1000). */
    public Builder digestIterations(int iterations) {
      this.digestIterations = iterations;
      return this;
    }

    /** Use this volume key instead of a random one ({@code --volume-key-file}); copied. */
    public Builder volumeKey(byte[] key) {
      this.volumeKey = key.clone();
      return this;
    }

    /** The source of keys and salts (default a new {@link SecureRandom}). */
    public Builder random(SecureRandom random) {
      this.random = Objects.requireNonNull(random, "random");
      return this;
    }

    /**
     * The options.
     *
     * @throws IllegalArgumentException for values cryptsetup would refuse, naming them
     */
    public LuksFormatOptions build() {
      return new LuksFormatOptions(this);
    }
  }
}
