package io.jdm.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.jdm.core.DeviceMapper;
import io.jdm.testkit.crash.CrashRecorder;
import io.jdm.testkit.crash.CrashReport;
import io.jdm.testkit.crash.CrashTester;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;
import org.junit.jupiter.api.Test;

/**
 * Testing a real engine: H2's MVStore, unmodified, on a jdm device through {@link
 * DeviceFileChannel} (a fresh device is an empty file), under the crash harness. Every state a
 * power cut could leave opens, and holds every entry whose commit was acknowledged.
 */
class H2MvStoreCrashTest {
  private static final int COMMITS = 12;

  @Test
  void everyAcknowledgedCommitSurvivesEveryCrashState() throws Exception {
    try (DeviceMapper dm = DeviceMapper.create();
        CrashRecorder rec = CrashRecorder.start(dm, 8192)) {
      String file = FilePathDevice.register("db", rec.device());
      MVStore store = new MVStore.Builder().fileName(file).autoCommitDisabled().open();
      MVMap<Integer, String> map = store.openMap("data");
      for (int i = 1; i <= COMMITS; i++) {
        map.put(i, "value-" + i);
        store.commit();
        store.sync(); // force: the commit is durable from here
        rec.mark("ack-" + i);
      }
      store.close();
      FilePathDevice.unregister("db");
      CrashReport report =
          CrashTester.of(rec.stop())
              .seed(20261203)
              .maxStates(400)
              .run(
                  state -> {
                    int acked =
                        state.lastMark().map(m -> Integer.parseInt(m.substring(4))).orElse(0);
                    String name = FilePathDevice.register("state", state.device());
                    try {
                      MVStore s = new MVStore.Builder().fileName(name).open();
                      try {
                        MVMap<Integer, String> m = s.openMap("data");
                        for (int i = 1; i <= acked; i++) {
                          assertThat(m.get(i))
                              .as("entry %d of %d acknowledged", i, acked)
                              .isEqualTo("value-" + i);
                        }
                      } finally {
                        s.closeImmediately();
                      }
                    } finally {
                      FilePathDevice.unregister("state");
                    }
                  });
      report.assertPassed();
      assertThat(report.statesChecked()).isGreaterThan(COMMITS);
    }
  }
}
