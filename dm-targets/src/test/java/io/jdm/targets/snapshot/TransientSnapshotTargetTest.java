package io.jdm.targets.snapshot;

import java.util.List;

/** The conformance suite over a transient ({@code N}) snapshot. */
class TransientSnapshotTargetTest extends SnapshotTargetTest {
  @Override
  protected String storeType() {
    return "N";
  }

  /** A transient store keeps its exceptions in memory: a power cut loses them, as in the kernel. */
  @Override
  protected io.jdm.testkit.DeviceCapabilities capabilities() {
    return super.capabilities().withDurableFlush(false);
  }

  @Override
  protected List<BadArguments> badArguments(io.jdm.testkit.TargetFixture f) {
    return List.of(); // the same constructor, covered by SnapshotTargetTest
  }
}
