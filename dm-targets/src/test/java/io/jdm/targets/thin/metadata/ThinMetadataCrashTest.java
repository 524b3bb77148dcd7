package io.jdm.targets.thin.metadata;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.DeviceMapper;
import io.jdm.core.Errno;
import io.jdm.targets.thin.PoolMetadata;
import io.jdm.targets.thin.PoolMetadataException;
import io.jdm.testkit.ExternalTools;
import io.jdm.testkit.crash.CrashCheck;
import io.jdm.testkit.crash.CrashRecorder;
import io.jdm.testkit.crash.CrashRecording;
import io.jdm.testkit.crash.CrashReport;
import io.jdm.testkit.crash.CrashTester;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pool metadata device under the crash harness: a workload of inserts, removes, snapshots,
 * deletes, aborts, a held metadata snapshot and commits is recorded; every crash state must open
 * with exactly the last acknowledged commit visible (or the one being written when the power went,
 * if its superblock was already durable), and a few states are also given to {@code thin_check}. By
 * default the states are bounded ({@code -Djdm.fullTests=true}, {@code -Pfull-tests}, checks them
 * all).
 */
class ThinMetadataCrashTest {
  private static final long SEED = Long.getLong("jdm.seed", 271828L);
  private static final boolean FULL = Boolean.getBoolean("jdm.fullTests");
  private static final long META_SECTORS = 512 * 8;
  private static final int THIN_CHECKS = 5;

  @TempDir Path dir;

  /** The committed models, by transaction id. */
  private final List<Map<Long, TreeMap<Long, Long>>> byTransaction = new ArrayList<>();

  private CrashRecording record() throws IOException {
    try (DeviceMapper dm = DeviceMapper.builder().build();
        CrashRecorder rec = CrashRecorder.builder(dm).sectors(META_SECTORS).start()) {
      // a cache of 8 blocks: dirty blocks are written back (and logged) in mid-transaction too
      try (PoolMetadata pmd = PersistentPoolMetadata.open(rec.device(), 128, true, 8)) {
        byTransaction.add(new TreeMap<>());
        rec.mark("commit-0");
        pmd.resizeDataDev(3000);
        ThinMetadataWorkload w = new ThinMetadataWorkload(pmd, SEED, 600);
        for (int round = 1; round <= 8; round++) {
          for (int i = 0; i < 70; i++) {
            w.step();
          }
          if (round == 4) {
            w.abort();
            for (int i = 0; i < 30; i++) {
              w.step();
            }
          }
          if (round == 3) {
            long tx = byTransaction.size();
            pmd.setTransactionId(pmd.transactionId(), tx);
            pmd.reserveMetadataSnap(); // commits the transaction so far
            w.committed = ThinMetadataWorkload.copy(w.model);
            byTransaction.add(w.committed);
            rec.mark("commit-" + tx);
          }
          if (round == 6) {
            pmd.releaseMetadataSnap();
          }
          long tx = byTransaction.size();
          pmd.setTransactionId(pmd.transactionId(), tx);
          pmd.commit();
          w.committed = ThinMetadataWorkload.copy(w.model);
          byTransaction.add(w.committed);
          rec.mark("commit-" + tx);
        }
        w.closeAll();
      }
      return rec.stop();
    }
  }

  @Test
  void everyCrashStateOpensWithTheLastCommittedTransaction() throws IOException {
    CrashRecording recording = record();
    boolean haveThinCheck = thinCheckInstalled();
    AtomicInteger thinChecks = new AtomicInteger();
    CrashCheck check =
        state -> {
          int last = -1;
          for (String m : state.marks()) {
            if (m.startsWith("commit-")) {
              last = Integer.parseInt(m.substring(7));
            }
          }
          PoolMetadata pmd;
          try {
            pmd = PersistentPoolMetadata.open(state.device(), 128, false, 64);
          } catch (PoolMetadataException e) {
            if (e.errno() == Errno.EPERM && last < 0) {
              return; // the format's superblock never reached the disk
            }
            throw e;
          }
          try {
            long tx = pmd.transactionId();
            assertThat(tx)
                .as("transaction after commit %d was acknowledged (%s)", last, state)
                .isBetween((long) Math.max(last, 0), (long) last + 1);
            Map<Long, TreeMap<Long, Long>> want = byTransaction.get((int) tx);
            assertThat(ThinMetadataWorkload.read(pmd, want.keySet()))
                .as("mappings of transaction %d in %s, seed %d", tx, state, SEED)
                .isEqualTo(want);
          } finally {
            pmd.close();
          }
          if (haveThinCheck
              && state.number() % 89 == 7
              && thinChecks.getAndIncrement() < THIN_CHECKS) {
            Path f = dir.resolve("state-" + state.number());
            state.materialise(f);
            try {
              ExternalTools.ok("thin_check", f.toString());
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              throw new IOException(e);
            } finally {
              Files.delete(f);
            }
          }
        };
    CrashTester tester = CrashTester.of(recording).seed(SEED);
    if (!FULL) {
      tester.randomStates(2).exhaustiveUpTo(3).maxStates(1200);
    }
    CrashReport report = tester.run(check);
    System.out.println("thin metadata crash states: " + report);
    report.assertPassed();
    assertThat(report.statesChecked()).isGreaterThan(100);
    if (haveThinCheck) {
      assertThat(thinChecks.get()).isPositive();
    }
  }

  /** thin_check is on the PATH; under {@code CI=true} it must be. */
  private static boolean thinCheckInstalled() {
    String path = System.getenv("PATH");
    if (path != null) {
      for (String d : path.split(File.pathSeparator)) {
        if (Files.isExecutable(Path.of(d, "thin_check"))) {
          return true;
        }
      }
    }
    ExternalTools.require("thin_check", "thin-provisioning-tools"); // fails under CI=true
    return false;
  }
}
