package io.jdm.core.prison;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The deferred set: work waits for the I/O in flight when it was added, and only for that. */
class DeferredSetTest {
  private final DeferredSet<String> ds = new DeferredSet<>();
  private final List<String> ready = new ArrayList<>();

  @Test
  void workWithNothingInFlightRunsAtOnce() {
    assertThat(ds.addWork("now")).isFalse();
    DeferredSet.Entry e = ds.inc();
    ds.dec(e, ready);
    assertThat(ds.addWork("still now")).isFalse();
    assertThat(ready).isEmpty();
  }

  @Test
  void workWaitsForEarlierIoOnly() {
    DeferredSet.Entry first = ds.inc();
    assertThat(ds.addWork("w1")).isTrue();
    DeferredSet.Entry second = ds.inc(); // after w1: does not delay it
    ds.dec(second, ready);
    assertThat(ready).isEmpty(); // w1 still waits for first
    assertThat(ds.addWork("w2")).isTrue(); // waits for first (second is done)
    DeferredSet.Entry third = ds.inc();
    ds.dec(first, ready);
    assertThat(ready).containsExactly("w1", "w2");
    ready.clear();
    assertThat(ds.addWork("w3")).isTrue(); // third is in flight
    ds.dec(third, ready);
    assertThat(ready).containsExactly("w3");
  }

  @Test
  void misuseIsRefused() {
    DeferredSet.Entry e = ds.inc();
    ds.dec(e, ready);
    assertThatThrownBy(() -> ds.dec(e, ready)).isInstanceOf(IllegalStateException.class);
    DeferredSet.Entry foreign = new DeferredSet<String>().inc();
    assertThatThrownBy(() -> ds.dec(foreign, ready)).isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * Random sequences against a model: work is handed back exactly once, never while an I/O that
   * started before it was added is in flight, and always by the time nothing is in flight. Runs
   * long enough to wrap the 64-generation ring many times, with more than 64 generations in flight
   * at once.
   */
  @Test
  void randomSequencesKeepTheOrder() {
    long seed = 20261203L;
    Random rnd = new Random(seed);
    DeferredSet<Integer> set = new DeferredSet<>();
    Map<Integer, DeferredSet.Entry> entryOf = new HashMap<>();
    List<Integer> open = new ArrayList<>();
    Map<Integer, Set<Integer>> waitsFor = new HashMap<>();
    Set<Integer> released = new HashSet<>();
    List<Integer> out = new ArrayList<>();
    int io = 0;
    int work = 0;
    for (int step = 0; step < 200_000; step++) {
      int op = rnd.nextInt(10); // 30% start I/O, 40% end one, 30% add work
      if (op < 3 || open.isEmpty() && op < 7) {
        io++;
        entryOf.put(io, set.inc());
        open.add(io);
      } else if (op < 7) {
        int done = open.remove(rnd.nextInt(open.size()));
        out.clear();
        set.dec(entryOf.remove(done), out);
        for (int w : out) {
          assertThat(released.add(w)).as("work %d released once (seed %d)", w, seed).isTrue();
          Set<Integer> still = new HashSet<>(waitsFor.remove(w));
          still.retainAll(open);
          assertThat(still).as("work %d released before I/O %s ended", w, still).isEmpty();
        }
      } else {
        work++;
        if (set.addWork(work)) {
          waitsFor.put(work, new HashSet<>(open));
        } else {
          assertThat(open)
              .as("work %d ran at once with I/O in flight (seed %d)", work, seed)
              .isEmpty();
          released.add(work);
        }
      }
      if (open.isEmpty()) {
        assertThat(waitsFor).as("nothing in flight: nothing waits (seed %d)", seed).isEmpty();
      }
      if (step % 50_000 == 0) {
        // a burst of over 64 generations in flight at once
        for (int i = 0; i < 100; i++) {
          io++;
          entryOf.put(io, set.inc());
          open.add(io);
          work++;
          assertThat(set.addWork(work)).isTrue();
          waitsFor.put(work, new HashSet<>(open));
        }
      }
    }
    assertThat(released.size() + waitsFor.size()).isEqualTo(work);
  }
}
