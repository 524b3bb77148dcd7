package io.jdm.core.prison;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class InFlightEpochsTest {
  @Test
  void workRunsAtOnceWhenNothingIsInFlight() {
    InFlightEpochs set = new InFlightEpochs();
    List<String> ran = new ArrayList<>();
    set.afterInFlight(() -> ran.add("w"));
    assertThat(ran).containsExactly("w");
  }

  @Test
  void workWaitsForEveryEarlierBioButNotForLaterOnes() {
    InFlightEpochs set = new InFlightEpochs();
    List<String> ran = new ArrayList<>();
    int a = set.enter();
    int b = set.enter();
    set.afterInFlight(() -> ran.add("w1"));
    int later = set.enter(); // the new epoch: w1 does not wait for it
    set.exit(a);
    assertThat(ran).isEmpty();
    set.exit(b);
    assertThat(ran).containsExactly("w1");
    set.afterInFlight(() -> ran.add("w2")); // waits for the later bio
    assertThat(ran).containsExactly("w1");
    set.exit(later);
    assertThat(ran).containsExactly("w1", "w2");
  }

  @Test
  void workQueuedDuringADrainRunsAfterTheNextOne() {
    InFlightEpochs set = new InFlightEpochs();
    List<String> ran = new ArrayList<>();
    int a = set.enter();
    set.afterInFlight(() -> ran.add("w1"));
    int b = set.enter(); // counted in the new epoch
    set.afterInFlight(() -> ran.add("w2")); // a drain is under way: queued behind it
    set.exit(a);
    assertThat(ran).containsExactly("w1"); // w2 still waits for b
    set.exit(b);
    assertThat(ran).containsExactly("w1", "w2");
  }

  @Test
  void concurrentBiosAndWaitersAllComplete() throws Exception {
    InFlightEpochs set = new InFlightEpochs();
    java.util.concurrent.atomic.AtomicInteger ran = new java.util.concurrent.atomic.AtomicInteger();
    Thread[] io = new Thread[2];
    for (int t = 0; t < io.length; t++) {
      io[t] =
          new Thread(
              () -> {
                for (int i = 0; i < 100_000; i++) {
                  set.exit(set.enter());
                }
              });
      io[t].start();
    }
    for (int i = 0; i < 1000; i++) {
      set.afterInFlight(ran::incrementAndGet);
    }
    for (Thread t : io) {
      t.join();
    }
    set.afterInFlight(ran::incrementAndGet); // nothing in flight: runs, and flushes any queued
    assertThat(ran.get()).isEqualTo(1001);
  }
}
