package io.jdm.crypto.luks;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdm.core.BlockDevice;
import io.jdm.core.MemoryBlockDevice;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.function.Consumer;

/** Small jdm-formatted containers in memory, and ways to damage their headers. */
final class LuksImages {
  static final byte[] PASS = "testpass".getBytes(StandardCharsets.UTF_8);
  static final ObjectMapper MAPPER = new ObjectMapper();

  private LuksImages() {}

  /** Quick-to-open options: PBKDF2-SHA256 with 1000 iterations, data at 1 MiB. */
  static LuksFormatOptions.Builder small() {
    return LuksFormatOptions.builder().pbkdf(Pbkdf.pbkdf2("sha256", 1000)).dataOffset(1 << 20);
  }

  /** A sparse file of {@code bytes} in {@code dir}. */
  static java.nio.file.Path image(java.nio.file.Path dir, long bytes) throws Exception {
    java.nio.file.Path p = java.nio.file.Files.createTempFile(dir, "luks", ".img");
    try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(bytes);
    }
    return p;
  }

  /**
   * A 2 MiB LUKS2 file in {@code dir}, formatted with {@link #small()}: {@link #PASS} in keyslot 0,
   * {@code second} in keyslot 1.
   */
  static java.nio.file.Path twoKeyslots(java.nio.file.Path dir, byte[] second) throws Exception {
    java.nio.file.Path img = image(dir, 2 << 20);
    try (io.jdm.core.FileBlockDevice dev = io.jdm.core.FileBlockDevice.open(img)) {
      Luks.format(dev, PASS, small().build()).close();
      if (Luks.addKeyslot(dev, PASS, second) != 1) {
        throw new AssertionError("the second passphrase should take keyslot 1");
      }
    }
    return img;
  }

  /** A 2 MiB LUKS2 container with data at 1 MiB, PBKDF2 with 1000 iterations. */
  static MemoryBlockDevice luks2() throws Exception {
    MemoryBlockDevice dev = MemoryBlockDevice.create("mem", 4096);
    Luks.format(
            dev,
            PASS,
            LuksFormatOptions.builder()
                .pbkdf(Pbkdf.pbkdf2("sha256", 1000))
                .dataOffset(1 << 20)
                .build())
        .close();
    return dev;
  }

  /** A 3 MiB LUKS1 container, PBKDF2 with 1000 iterations. */
  static MemoryBlockDevice luks1() throws Exception {
    MemoryBlockDevice dev = MemoryBlockDevice.create("mem1", 6144);
    Luks.format(
            dev,
            PASS,
            LuksFormatOptions.builder().version(1).pbkdf(Pbkdf.pbkdf2("sha256", 1000)).build())
        .close();
    return dev;
  }

  static byte[] read(BlockDevice dev, long pos, int len) throws Exception {
    ByteBuffer b = ByteBuffer.allocate(len);
    try (var ch = dev.asFileChannel()) {
      ch.read(b, pos);
    }
    return b.array();
  }

  static void write(BlockDevice dev, long pos, byte[] data) throws Exception {
    try (var ch = dev.asFileChannel()) {
      ch.write(ByteBuffer.wrap(data), pos);
    }
  }

  /** Flips one byte at {@code pos}. */
  static void flip(BlockDevice dev, long pos) throws Exception {
    byte[] b = read(dev, pos, 1);
    b[0] ^= 0x5A;
    write(dev, pos, b);
  }

  /** Rewrites the JSON area of the copy at {@code offset} with {@code text}, checksum valid. */
  static void writeJson(BlockDevice dev, long offset, String text) throws Exception {
    byte[] bin = read(dev, offset, 4096);
    long hdrSize = ByteBuffer.wrap(bin).getLong(8);
    byte[] area = Arrays.copyOf(text.getBytes(StandardCharsets.UTF_8), (int) hdrSize - 4096);
    write(dev, offset + 4096, area);
    rechecksum(dev, offset);
  }

  /** Recomputes the checksum of the copy at {@code offset}. */
  static void rechecksum(BlockDevice dev, long offset) throws Exception {
    byte[] bin = read(dev, offset, 4096);
    long hdrSize = ByteBuffer.wrap(bin).getLong(8);
    byte[] area = read(dev, offset + 4096, (int) hdrSize - 4096);
    Arrays.fill(bin, 448, 512, (byte) 0);
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    md.update(bin);
    md.update(area);
    System.arraycopy(md.digest(), 0, bin, 448, 32);
    write(dev, offset, bin);
  }

  static ObjectNode json(BlockDevice dev, long offset) throws Exception {
    byte[] area = read(dev, offset + 4096, 12288);
    int end = 0;
    while (area[end] != 0) {
      end++;
    }
    return (ObjectNode) MAPPER.readTree(new String(area, 0, end, StandardCharsets.UTF_8));
  }

  /** Edits the JSON of both copies (16 KiB metadata) the same way. */
  static void editJson(BlockDevice dev, Consumer<ObjectNode> edit) throws Exception {
    for (long off : new long[] {0, 16384}) {
      ObjectNode j = json(dev, off);
      edit.accept(j);
      writeJson(dev, off, MAPPER.writeValueAsString(j));
    }
  }

  /** Sets the seqid of the copy at {@code offset}. */
  static void setSeqid(BlockDevice dev, long offset, long seqid) throws Exception {
    byte[] bin = read(dev, offset, 4096);
    ByteBuffer.wrap(bin).putLong(16, seqid);
    write(dev, offset, bin);
    rechecksum(dev, offset);
  }
}
