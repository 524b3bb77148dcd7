package io.jdm.targets.multipath;

import io.jdm.core.MemoryBlockDevice;
import io.jdm.testkit.TargetFixture;

/**
 * The suite again with the selectors that keep load and time: historical-service-time over two
 * paths (times on the device mapper's clock), then queue-length over a third, one store.
 */
class MultipathTimedSelectorsTargetTest extends MultipathTargetTest {
  @Override
  protected String targetArgs(TargetFixture f, long length) {
    MemoryBlockDevice store = MemoryBlockDevice.create("store", length);
    String p1 = f.register(new PathDevice("p1", store, true));
    String p2 = f.register(new PathDevice("p2", store, false));
    String p3 = f.register(new PathDevice("p3", store, false));
    return "2 queue_mode bio 0 2 1 historical-service-time 0 2 1 "
        + p1
        + " 1 "
        + p2
        + " 1 queue-length 0 1 1 "
        + p3
        + " 1";
  }
}
