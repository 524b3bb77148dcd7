package io.jdm.targets.snapshot;

import java.util.List;

/** The conformance suite over a transient ({@code N}) snapshot. */
class TransientSnapshotTargetTest extends SnapshotTargetTest {
  @Override
  protected String storeType() {
    return "N";
  }

  @Override
  protected List<BadArguments> badArguments(io.jdm.testkit.TargetFixture f) {
    return List.of(); // the same constructor, covered by SnapshotTargetTest
  }
}
