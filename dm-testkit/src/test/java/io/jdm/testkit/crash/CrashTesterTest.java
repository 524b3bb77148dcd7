package io.jdm.testkit.crash;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.core.BlockDevice;
import io.jdm.core.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The crash states a {@link CrashTester} makes from logs built by hand. */
class CrashTesterTest {
  private static final int S = 512;

  /** Block {@code b} of a write filled with one value: states can then be read block by block. */
  private static byte[] fill(int blocks, int value) {
    byte[] b = new byte[blocks * S];
    for (int i = 0; i < blocks; i++) {
      java.util.Arrays.fill(b, i * S, (i + 1) * S, (byte) (value + i));
    }
    return b;
  }

  /**
   * w0 (block 0, value 10), w1 (blocks 8-9, values 20-21), flush; FUA w2 (block 16, 30); mark m; w3
   * (block 24, 40); end mark.
   */
  private static CrashRecording small() throws IOException {
    LogBuilder b =
        new LogBuilder(S, 32)
            .entry(0, 1, 0, fill(1, 10))
            .entry(8, 2, 0, fill(2, 20))
            .entry(0, 0, WriteLog.FLUSH, null)
            .entry(16, 1, WriteLog.FUA, fill(1, 30))
            .mark("m")
            .entry(24, 1, 0, fill(1, 40))
            .mark(WriteLog.END_MARK)
            .superBlock();
    MemoryBlockDevice log = MemoryBlockDevice.create("log", 32);
    log.write(ByteBuffer.wrap(b.bytes()), 0);
    return CrashRecording.of(MemoryBlockDevice.create("initial", 64), WriteLog.read(log));
  }

  /** The first byte of each of blocks 0, 8, 9, 16, 24 of a state. */
  private static String blocks(BlockDevice d) throws IOException {
    StringBuilder sb = new StringBuilder();
    for (int b : new int[] {0, 8, 9, 16, 24}) {
      ByteBuffer one = ByteBuffer.allocate(S);
      d.read(one, (long) b * S);
      sb.append(sb.length() == 0 ? "" : " ").append(one.get(0));
    }
    return sb.toString();
  }

  private static List<String> run(CrashTester tester) throws IOException {
    List<String> seen = new ArrayList<>();
    CrashReport r =
        tester.run(
            state ->
                seen.add(
                    state.epoch() + ": " + blocks(state.device()) + " marks " + state.marks()));
    r.assertPassed();
    assertThat(r.statesChecked()).isEqualTo(seen.size());
    return seen;
  }

  @Test
  void everySubsetOfASmallEpochAndNoMore() throws IOException {
    List<String> states = run(CrashTester.of(small()).tornWrites(false));
    assertThat(states)
        .containsExactly(
            "0: 0 0 0 0 0 marks []",
            "0: 10 0 0 0 0 marks []",
            "0: 0 20 21 0 0 marks []",
            "0: 10 20 21 0 0 marks []",
            "1: 10 20 21 0 0 marks []",
            "1: 10 20 21 30 0 marks []",
            "2: 10 20 21 30 0 marks [m]",
            "2: 10 20 21 30 40 marks [m]");
  }

  @Test
  void marksAreTheWorkloadsOnlyAndLastMarkIsTheLastOfThem() throws IOException {
    List<java.util.Optional<String>> last = new java.util.ArrayList<>();
    CrashTester.of(small()).tornWrites(false).run(s -> last.add(s.lastMark())).assertPassed();
    assertThat(last.get(0)).isEmpty();
    assertThat(last.get(last.size() - 1)).contains("m"); // not the log's own end mark
  }

  @Test
  void tornStatesPersistPartOfAWrite() throws IOException {
    List<String> states = run(CrashTester.of(small()).randomStates(8));
    // epoch 0 has a 2-block write, so it gets 8 random states, each tearing it
    assertThat(states).hasSize(4 + 8 + 2 + 2);
    for (String s : states.subList(4, 12)) {
      assertThat(s).matches("0: (0|10) (20 0|0 21) 0 0 marks \\[\\]");
    }
    Set<String> distinct = new HashSet<>(states.subList(4, 12));
    assertThat(distinct.size()).as("torn states vary").isGreaterThan(1);
  }

  @Test
  void aRunIsDeterminedByItsSeedAndAStateIsRebuiltAlone() throws IOException {
    CrashRecording rec = random(3, 40);
    List<String> one = descriptions(CrashTester.of(rec).seed(5));
    assertThat(descriptions(CrashTester.of(rec).seed(5))).isEqualTo(one);
    assertThat(descriptions(CrashTester.of(rec).seed(6))).isNotEqualTo(one);
    for (int n : new int[] {0, 7, one.size() / 2, one.size() - 1}) {
      assertThat(descriptions(CrashTester.of(rec).seed(5).onlyState(n)))
          .containsExactly(one.get(n));
    }
    assertThatThrownBy(() -> CrashTester.of(rec).seed(5).onlyState(one.size()).run(s -> {}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("no state " + one.size() + ": this run has " + one.size() + " states");
    assertThat(descriptions(CrashTester.of(rec).seed(5).maxStates(10)))
        .isEqualTo(one.subList(0, 10));
  }

  private static List<String> descriptions(CrashTester t) throws IOException {
    List<String> d = new ArrayList<>();
    t.run(s -> d.add(s.description() + " = " + blocksHash(s.device())));
    return d;
  }

  private static int blocksHash(BlockDevice d) throws IOException {
    ByteBuffer all = ByteBuffer.allocate((int) d.size());
    d.read(all, 0);
    return all.flip().hashCode();
  }

  /**
   * A random workload of {@code epochs} flushes with up to {@code perEpoch} writes each, of 1 to 4
   * blocks, overlapping, some FUA, some discards.
   */
  private static CrashRecording random(long seed, int perEpoch) throws IOException {
    Random rnd = new Random(seed);
    LogBuilder b = new LogBuilder(S, 4096);
    int value = 1;
    for (int e = 0; e < 12; e++) {
      int n = rnd.nextInt(perEpoch);
      for (int i = 0; i < n; i++) {
        int blocks = 1 + rnd.nextInt(4);
        long at = rnd.nextInt(60);
        if (rnd.nextInt(8) == 0) {
          b.entry(at, blocks, WriteLog.DISCARD, null);
        } else {
          b.entry(at, blocks, rnd.nextInt(6) == 0 ? WriteLog.FUA : 0, fill(blocks, value));
          value += 4;
        }
      }
      b.entry(0, 0, WriteLog.FLUSH, null);
    }
    b.superBlock();
    MemoryBlockDevice log = MemoryBlockDevice.create("log", 4096);
    log.write(ByteBuffer.wrap(b.bytes()), 0);
    return CrashRecording.of(MemoryBlockDevice.create("initial", 64), WriteLog.read(log));
  }

  /**
   * Soundness: in every state each block holds either its value in the durable prefix or the value
   * some in-flight write of the epoch gave it, and the persisted list says which writes.
   */
  @Test
  void everyBlockOfEveryStateIsOneADiskCouldHold() throws IOException {
    CrashRecording rec = random(11, 12);
    List<WriteLog.Entry> entries = rec.log().entries();
    CrashReport r =
        CrashTester.of(rec)
            .seed(3)
            .run(
                state -> {
                  ByteBuffer all = ByteBuffer.allocate((int) state.device().size());
                  state.device().read(all, 0);
                  int epoch = state.epoch();
                  byte[] durable = new byte[64];
                  List<List<Byte>> possible = new ArrayList<>();
                  for (int i = 0; i < 64; i++) {
                    possible.add(new ArrayList<>());
                  }
                  int barriers = 0;
                  for (WriteLog.Entry e : entries) {
                    boolean inEpoch = barriers == epoch;
                    if (barriers > epoch) {
                      break;
                    }
                    if (e.changesData()) {
                      for (int k = 0; k < e.sectors(); k++) {
                        byte v = e.isDiscard() ? 0 : e.data().get(k * S);
                        int blk = (int) e.sector() + k;
                        if (inEpoch) {
                          possible.get(blk).add(v);
                        } else {
                          durable[blk] = v;
                        }
                      }
                    }
                    if (e.isFlush() || e.isFua()) {
                      barriers++;
                    }
                  }
                  for (int blk = 0; blk < 64; blk++) {
                    byte got = all.get(blk * S);
                    if (got != durable[blk]) {
                      assertThat(possible.get(blk))
                          .as("block %d in %s", blk, state.description())
                          .contains(got);
                    }
                  }
                });
    r.assertPassed();
    assertThat(r.statesChecked()).isGreaterThan(200);
  }

  @Test
  void theFirstFailureStopsTheRunAndCanBeWrittenOut(@TempDir Path dir) throws IOException {
    CrashRecording rec = small();
    CrashReport r =
        CrashTester.of(rec)
            .tornWrites(false)
            .run(
                state -> {
                  ByteBuffer b = ByteBuffer.allocate(S);
                  state.device().read(b, 16L * S);
                  assertThat(b.get(0)).as("block 16").isEqualTo((byte) 0);
                });
    assertThat(r.passed()).isFalse();
    assertThat(r.statesChecked()).isEqualTo(6);
    CrashState failed = r.failedState().orElseThrow();
    assertThat(failed.number()).isEqualTo(5);
    assertThat(failed.persisted()).extracting(WriteLog.Entry::index).containsExactly(3);
    assertThat(failed.description())
        .isEqualTo(
            "crash state 5 (seed 1), epoch 1 of 3: durable up to the barrier that closed epoch 0;"
                + " 1 writes in flight until the FUA write at entry 3 (entries 3-3);"
                + " persisted (subset): 3");
    assertThat(r.toString())
        .startsWith(
            "checked 6 crash states in 3 epochs of a log of 7 entries; failed at crash state 5");
    assertThatThrownBy(r::assertPassed)
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("crash state 5")
        .hasCauseInstanceOf(AssertionError.class);
    Path img = dir.resolve("state5.img");
    failed.materialise(img);
    byte[] bytes = Files.readAllBytes(img);
    assertThat(bytes).hasSize(64 * S);
    assertThat(bytes[16 * S]).isEqualTo((byte) 30);
    assertThat(bytes[8 * S + 1]).isEqualTo((byte) 20);
  }

  @Test
  void aCheckMayWriteToItsStateWithoutTouchingOthers() throws IOException {
    List<String> seen = new ArrayList<>();
    CrashTester.of(small())
        .tornWrites(false)
        .run(
            state -> {
              ByteBuffer b = ByteBuffer.allocate(S);
              state.device().read(b, 30L * S);
              seen.add(Byte.toString(b.get(0)));
              state.device().write(ByteBuffer.wrap(fill(1, 99)), 30L * S);
            })
        .assertPassed();
    assertThat(seen).containsOnly("0");
  }

  @Test
  void aRecordingStartsFromItsInitialImage() throws IOException {
    MemoryBlockDevice initial = MemoryBlockDevice.create("initial", 64);
    initial.write(ByteBuffer.wrap(fill(1, 77)), 40L * S);
    LogBuilder b = new LogBuilder(S, 8).entry(0, 1, WriteLog.FUA, fill(1, 1)).superBlock();
    MemoryBlockDevice log = MemoryBlockDevice.create("log", 8);
    log.write(ByteBuffer.wrap(b.bytes()), 0);
    CrashRecording rec = CrashRecording.of(initial, WriteLog.read(log));
    initial.write(ByteBuffer.wrap(fill(1, 5)), 40L * S); // the recording took a copy
    List<Byte> seen = new ArrayList<>();
    CrashTester.of(rec)
        .run(
            s -> {
              ByteBuffer one = ByteBuffer.allocate(S);
              s.device().read(one, 40L * S);
              seen.add(one.get(0));
            })
        .assertPassed();
    assertThat(seen).containsExactly((byte) 77, (byte) 77, (byte) 77);
  }
}
