package io.jdm.targets.thin.metadata;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.FileBlockDevice;
import io.jdm.targets.thin.PoolMetadata;
import io.jdm.targets.thin.ThinDeviceMetadata;
import io.jdm.testkit.ExternalTools;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The metadata against thin-provisioning-tools: what jdm writes passes {@code thin_check} and
 * {@code thin_dump} lists exactly jdm's mappings; what {@code thin_restore} writes opens in jdm
 * with the same mappings; {@code thin_ls} and {@code thin_delta} agree with jdm's model.
 */
class ThinToolsInteropTest {
  private static final long SEED = Long.getLong("jdm.seed", 424242L);
  private static final long META_BYTES = 8L << 20;

  @TempDir Path dir;

  @BeforeEach
  void tools() {
    for (String t :
        new String[] {"thin_check", "thin_dump", "thin_restore", "thin_ls", "thin_delta"}) {
      ExternalTools.require(t, "thin-provisioning-tools");
    }
  }

  private static FileBlockDevice file(Path p) throws IOException {
    return FileBlockDevice.builder(p).create(META_BYTES).open();
  }

  private static final Pattern DEVICE = Pattern.compile("<device dev_id=\"(\\d+)\"[^>]*>");
  private static final Pattern RANGE =
      Pattern.compile(
          "<range_mapping origin_begin=\"(\\d+)\" data_begin=\"(\\d+)\" length=\"(\\d+)\"");
  private static final Pattern SINGLE =
      Pattern.compile("<single_mapping origin_block=\"(\\d+)\" data_block=\"(\\d+)\"");

  /** The mappings of a {@code thin_dump} XML. */
  static Map<Long, TreeMap<Long, Long>> parseDump(String xml) {
    Map<Long, TreeMap<Long, Long>> m = new TreeMap<>();
    TreeMap<Long, Long> cur = null;
    for (String line : xml.split("\n")) {
      Matcher d = DEVICE.matcher(line);
      Matcher r = RANGE.matcher(line);
      Matcher s = SINGLE.matcher(line);
      if (d.find()) {
        cur = new TreeMap<>();
        m.put(Long.parseLong(d.group(1)), cur);
      } else if (r.find()) {
        long o = Long.parseLong(r.group(1));
        long b = Long.parseLong(r.group(2));
        long n = Long.parseLong(r.group(3));
        for (long i = 0; i < n; i++) {
          cur.put(o + i, b + i);
        }
      } else if (s.find()) {
        cur.put(Long.parseLong(s.group(1)), Long.parseLong(s.group(2)));
      }
    }
    return m;
  }

  @Test
  void metadataJdmWritesPassesThinCheckAndThinDumpListsItsMappings() throws Exception {
    Path meta = dir.resolve("meta");
    ThinMetadataWorkload w;
    try (FileBlockDevice dev = file(meta);
        PoolMetadata pmd = PersistentPoolMetadata.open(dev, 128, true)) {
      pmd.resizeDataDev(20000);
      w = new ThinMetadataWorkload(pmd, SEED, 4000);
      for (int round = 1; round <= 6; round++) {
        for (int i = 0; i < 1500; i++) {
          w.step();
        }
        w.commit(round);
      }
      w.check();
      w.closeAll();
    }
    String check = ExternalTools.ok("thin_check", meta.toString());
    assertThat(check).contains("TRANSACTION_ID=6");
    String xml = ExternalTools.ok("thin_dump", meta.toString());
    assertThat(xml).contains("transaction=\"6\"").contains("nr_data_blocks=\"20000\"");
    Map<Long, TreeMap<Long, Long>> dumped = parseDump(xml);
    assertThat(dumped).as("thin_dump vs jdm, seed %d", SEED).isEqualTo(w.committed);
    assertThat(w.committed.size()).isGreaterThan(3);
  }

  @Test
  void aHeldMetadataSnapshotAndANeedsCheckFlagAreWhatTheToolsSee() throws Exception {
    Path meta = dir.resolve("meta");
    Map<Long, TreeMap<Long, Long>> before;
    Map<Long, TreeMap<Long, Long>> after;
    try (FileBlockDevice dev = file(meta);
        PoolMetadata pmd = PersistentPoolMetadata.open(dev, 128, true)) {
      pmd.resizeDataDev(5000);
      ThinMetadataWorkload w = new ThinMetadataWorkload(pmd, SEED + 1, 2000);
      for (int i = 0; i < 2000; i++) {
        w.step();
      }
      w.commit(1);
      before = ThinMetadataWorkload.copy(w.committed);
      w.closeAll();
      pmd.reserveMetadataSnap();
      for (int i = 0; i < 2000; i++) {
        w.step();
      }
      w.commit(2);
      after = w.committed;
      w.closeAll();
    }
    ExternalTools.ok("thin_check", meta.toString());
    assertThat(parseDump(ExternalTools.ok("thin_dump", meta.toString()))).isEqualTo(after);
    assertThat(parseDump(ExternalTools.ok("thin_dump", "--metadata-snap", meta.toString())))
        .isEqualTo(before);
    try (FileBlockDevice dev = FileBlockDevice.open(meta);
        PoolMetadata pmd = PersistentPoolMetadata.open(dev, 128, false)) {
      pmd.releaseMetadataSnap();
      pmd.commit();
    }
    ExternalTools.ok("thin_check", meta.toString());
  }

  @Test
  void growingTheMetadataAndDataDevicesKeepsThinCheckHappy() throws Exception {
    Path meta = dir.resolve("meta");
    ThinMetadataWorkload w;
    try (FileBlockDevice dev = FileBlockDevice.builder(meta).create(2L << 20).open();
        PoolMetadata pmd = PersistentPoolMetadata.open(dev, 128, true)) {
      assertThat(pmd.metadataBlocks()).isEqualTo(512);
      pmd.resizeDataDev(1000);
      w = new ThinMetadataWorkload(pmd, SEED + 3, 800);
      for (int i = 0; i < 800; i++) {
        w.step();
      }
      w.commit(1);
      w.closeAll();
    }
    ExternalTools.ok("thin_check", meta.toString());
    try (FileBlockDevice dev = FileBlockDevice.builder(meta).create(META_BYTES).open();
        PoolMetadata pmd = PersistentPoolMetadata.open(dev, 128, false)) {
      pmd.resizeMetadataDev(META_BYTES / 4096);
      pmd.resizeDataDev(40000);
      ThinMetadataWorkload more = new ThinMetadataWorkload(pmd, SEED + 4, 800);
      more.model = ThinMetadataWorkload.copy(w.committed);
      more.committed = ThinMetadataWorkload.copy(w.committed);
      more.nextId = w.nextId;
      for (int i = 0; i < 800; i++) {
        more.step();
      }
      more.commit(2);
      more.closeAll();
      w = more;
    }
    String check = ExternalTools.ok("thin_check", meta.toString());
    assertThat(check).contains("TRANSACTION_ID=2");
    String xml = ExternalTools.ok("thin_dump", meta.toString());
    assertThat(xml).contains("nr_data_blocks=\"40000\"");
    assertThat(parseDump(xml)).isEqualTo(w.committed);
    try (FileBlockDevice dev = FileBlockDevice.open(meta);
        PoolMetadata pmd = PersistentPoolMetadata.open(dev, 128, false)) {
      assertThat(pmd.metadataBlocks()).isEqualTo(META_BYTES / 4096);
      assertThat(pmd.dataBlocks()).isEqualTo(40000);
    }
  }

  @Test
  void metadataMadeByThinRestoreOpensWithTheSameMappings() throws Exception {
    java.util.Random rnd = new java.util.Random(SEED + 2);
    Map<Long, TreeMap<Long, Long>> model = new TreeMap<>();
    long nextData = 0;
    // device 1 and its snapshots 2 and 3 share blocks; device 7 is on its own
    TreeMap<Long, Long> base = new TreeMap<>();
    for (long v = 0; v < 3000; v++) {
      if (rnd.nextInt(4) != 0) {
        base.put(v, nextData++);
      }
    }
    model.put(1L, base);
    for (long snap : new long[] {2, 3}) {
      TreeMap<Long, Long> s = new TreeMap<>(base);
      for (int i = 0; i < 400; i++) {
        s.put((long) rnd.nextInt(3500), nextData++);
      }
      model.put(snap, s);
    }
    TreeMap<Long, Long> other = new TreeMap<>();
    for (long v = 0; v < 500; v++) {
      other.put(v * 3, nextData++);
    }
    model.put(7L, other);
    StringBuilder xml = new StringBuilder();
    xml.append("<superblock uuid=\"\" time=\"2\" transaction=\"9\" flags=\"0\" version=\"2\"")
        .append(" data_block_size=\"128\" nr_data_blocks=\"")
        .append(nextData + 100)
        .append("\">\n");
    for (Map.Entry<Long, TreeMap<Long, Long>> d : model.entrySet()) {
      xml.append("  <device dev_id=\"")
          .append(d.getKey())
          .append("\" mapped_blocks=\"")
          .append(d.getValue().size())
          .append("\" transaction=\"0\" creation_time=\"0\" snap_time=\"2\">\n");
      for (Map.Entry<Long, Long> e : d.getValue().entrySet()) {
        xml.append("    <single_mapping origin_block=\"")
            .append(e.getKey())
            .append("\" data_block=\"")
            .append(e.getValue())
            .append("\" time=\"1\"/>\n");
      }
      xml.append("  </device>\n");
    }
    xml.append("</superblock>\n");
    Path in = dir.resolve("in.xml");
    Files.writeString(in, xml, StandardCharsets.UTF_8);
    Path meta = dir.resolve("meta");
    Files.write(meta, new byte[(int) META_BYTES]);
    ExternalTools.ok("thin_restore", "-i", in.toString(), "-o", meta.toString());
    try (FileBlockDevice dev = FileBlockDevice.open(meta);
        PoolMetadata pmd = PersistentPoolMetadata.open(dev, 128, false)) {
      assertThat(pmd.transactionId()).isEqualTo(9);
      assertThat(pmd.dataBlocks()).isEqualTo(nextData + 100);
      assertThat(ThinMetadataWorkload.read(pmd, model.keySet())).isEqualTo(model);
      // shared blocks are shared, and writing on top of them keeps thin_check happy
      try (ThinDeviceMetadata t = pmd.openThin(2)) {
        assertThat(t.findBlock(base.firstKey()).shared()).isTrue();
        long fresh = pmd.allocDataBlock();
        t.insertBlock(base.firstKey(), fresh);
        model.get(2L).put(base.firstKey(), fresh);
        t.removeRange(100, 200);
        model.get(2L).subMap(100L, 200L).clear();
      }
      pmd.deleteThin(3);
      model.remove(3L);
      pmd.createSnap(4, 7);
      model.put(4L, new TreeMap<>(model.get(7L)));
      pmd.commit();
    }
    ExternalTools.ok("thin_check", meta.toString());
    assertThat(parseDump(ExternalTools.ok("thin_dump", meta.toString()))).isEqualTo(model);
  }

  @Test
  void thinLsAndThinDeltaAgreeWithTheModelOnASmallCase() throws Exception {
    Path meta = dir.resolve("meta");
    Map<Long, TreeMap<Long, Long>> model = new TreeMap<>();
    try (FileBlockDevice dev = file(meta);
        PoolMetadata pmd = PersistentPoolMetadata.open(dev, 128, true)) {
      pmd.resizeDataDev(1000);
      pmd.createThin(1);
      TreeMap<Long, Long> one = new TreeMap<>();
      try (ThinDeviceMetadata t = pmd.openThin(1)) {
        for (long v = 0; v < 40; v++) {
          long d = pmd.allocDataBlock();
          t.insertBlock(v, d);
          one.put(v, d);
        }
      }
      pmd.createSnap(2, 1);
      TreeMap<Long, Long> two = new TreeMap<>(one);
      try (ThinDeviceMetadata t = pmd.openThin(2)) {
        for (long v : new long[] {3, 4, 5, 20, 41, 42}) {
          long d = pmd.allocDataBlock();
          t.insertBlock(v, d);
          two.put(v, d);
        }
        t.removeRange(30, 33);
        two.subMap(30L, 33L).clear();
      }
      model.put(1L, one);
      model.put(2L, two);
      pmd.commit();
    }
    ExternalTools.ok("thin_check", meta.toString());
    String ls =
        ExternalTools.ok(
            "thin_ls",
            "--no-headers",
            "-o",
            "DEV,MAPPED_BLOCKS,EXCLUSIVE_BLOCKS,SHARED_BLOCKS",
            meta.toString());
    Map<Long, Integer> users = new HashMap<>();
    model.values().forEach(m -> m.values().forEach(d -> users.merge(d, 1, Integer::sum)));
    List<String> want = new ArrayList<>();
    for (Map.Entry<Long, TreeMap<Long, Long>> d : model.entrySet()) {
      long exclusive = d.getValue().values().stream().filter(b -> users.get(b) == 1).count();
      want.add(
          d.getKey()
              + " "
              + d.getValue().size()
              + " "
              + exclusive
              + " "
              + (d.getValue().size() - exclusive));
    }
    assertThat(ls.strip().lines().map(String::strip).toList()).isEqualTo(want);
    String delta = ExternalTools.ok("thin_delta", "--snap1", "1", "--snap2", "2", meta.toString());
    assertThat(parseDelta(delta)).isEqualTo(expectedDelta(model.get(1L), model.get(2L)));
  }

  private static final Pattern DIFF =
      Pattern.compile("<(same|different|left_only|right_only) begin=\"(\\d+)\" length=\"(\\d+)\"");

  static List<String> parseDelta(String xml) {
    List<String> out = new ArrayList<>();
    Matcher m = DIFF.matcher(xml);
    while (m.find()) {
      out.add(m.group(1) + " " + m.group(2) + " " + m.group(3));
    }
    return out;
  }

  /** Runs of same, different, left_only, right_only blocks, as thin_delta lists them. */
  static List<String> expectedDelta(TreeMap<Long, Long> left, TreeMap<Long, Long> right) {
    java.util.TreeSet<Long> keys = new java.util.TreeSet<>(left.keySet());
    keys.addAll(right.keySet());
    List<String> out = new ArrayList<>();
    String kind = null;
    long begin = 0;
    long len = 0;
    for (long k : keys) {
      Long l = left.get(k);
      Long r = right.get(k);
      String now =
          l == null ? "right_only" : r == null ? "left_only" : l.equals(r) ? "same" : "different";
      if (now.equals(kind) && begin + len == k) {
        len++;
      } else {
        if (kind != null) {
          out.add(kind + " " + begin + " " + len);
        }
        kind = now;
        begin = k;
        len = 1;
      }
    }
    if (kind != null) {
      out.add(kind + " " + begin + " " + len);
    }
    return out;
  }
}
