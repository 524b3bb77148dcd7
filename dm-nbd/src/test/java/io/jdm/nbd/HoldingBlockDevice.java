package io.jdm.nbd;

import io.jdm.core.AbstractBlockDevice;
import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.IoLimits;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** A device that keeps every bio until the test completes it: requests stay in flight at will. */
final class HoldingBlockDevice extends AbstractBlockDevice {
  private final LinkedBlockingQueue<Bio> held = new LinkedBlockingQueue<>();

  HoldingBlockDevice(long sectors) {
    super("holding", sectors, IoLimits.DEFAULT, false);
  }

  @Override
  protected void doSubmit(Bio bio) {
    held.add(bio);
  }

  /** The next bio to arrive (waits up to 10 s). */
  Bio take() throws InterruptedException {
    Bio b = held.poll(10, TimeUnit.SECONDS);
    if (b == null) {
      throw new AssertionError("no bio arrived in 10 s");
    }
    return b;
  }

  /** Bios that arrived and were not taken yet. */
  int heldCount() {
    return held.size();
  }

  static void complete(Bio b, BlockStatus s) {
    if (b.data() != null && b.op() == Bio.Op.READ) {
      b.zeroFill();
    }
    b.complete(s);
  }
}
